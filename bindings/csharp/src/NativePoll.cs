using System;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace Ocrcloud
{
    /// <summary>
    /// The native side of one poll: its options, a cancel token that the CancellationToken
    /// triggers, and the progress callback, which stays referenced (so the garbage collector
    /// cannot take it) until <see cref="Dispose"/>, after the native call has returned.
    /// </summary>
    internal sealed class NativePoll : IDisposable
    {
        internal readonly PollOptionsHandle Options;
        private readonly CancelHandle cancel;
        private readonly Native.ProgressFn callback;
        private readonly CancellationToken token;
        private readonly CancellationTokenRegistration registration;
        private Exception progressFailure;

        internal NativePoll(PollOptions options, CancellationToken token, IProgress<PollProgress> progress)
        {
            Options = PollOptions.ToNative(options);
            cancel = Native.ocr_cancel_new();
            try
            {
                if (cancel.IsInvalid)
                {
                    throw new OutOfMemoryException("ocr_cancel_new");
                }
                Native.Check(Native.ocr_poll_options_set_cancel(Options, cancel));
                if (progress != null)
                {
                    callback = (userData, taskId, status, attempt) => {
                        if (progressFailure != null)
                        {
                            return;
                        }
                        try
                        {
                            progress.Report(new PollProgress(Native.FromUtf8(taskId), (OcrTaskStatus)status, attempt));
                        }
                        catch (Exception e)
                        {
                            progressFailure = e; // thrown once the poll returns; it must not unwind into C
                        }
                    };
                    Native.Check(Native.ocr_poll_options_set_progress(Options, callback, IntPtr.Zero));
                }
                this.token = token;
                registration = token.Register(() => Native.ocr_cancel_trigger(cancel));
            }
            catch
            {
                cancel.Dispose();
                Options.Dispose();
                throw;
            }
        }

        /// <summary>Stops the poll (or batch run) using these options, as the CancellationToken would.</summary>
        internal void Cancel()
        {
            Native.ocr_cancel_trigger(cancel);
        }

        /// <summary>Throws what the progress threw, if it threw, disposing <paramref name="results"/>.</summary>
        internal void ThrowProgressFailure(params ResultHandle[] results)
        {
            if (progressFailure == null)
            {
                return;
            }
            foreach (ResultHandle result in results)
            {
                if (result != null)
                {
                    result.Dispose();
                }
            }
            ExceptionDispatchInfo.Capture(progressFailure).Throw();
        }

        /// <summary>What a poll that failed with <paramref name="failure"/> throws: OperationCanceledException if the token cancelled it.</summary>
        internal Exception Failure(OcrException failure)
        {
            if (failure.Code == OcrCode.Cancelled && token.IsCancellationRequested)
            {
                return new OperationCanceledException(failure.Message, failure, token);
            }
            return failure;
        }

        public void Dispose()
        {
            registration.Dispose(); // waits for a running trigger, so the handle outlives it
            cancel.Dispose();
            Options.Dispose();
            GC.KeepAlive(callback);
        }
    }
}

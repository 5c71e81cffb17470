using System;
using System.Threading;

namespace Ocrcloud
{
    /// <summary>
    /// The native side of one call other than a poll (submit, fetch, status, cancel): its call
    /// options with the deadline, and a cancel token that the CancellationToken triggers, as
    /// <see cref="NativePoll"/> does for polls.
    /// </summary>
    internal sealed class NativeCall : IDisposable
    {
        internal readonly CallOptionsHandle Options;
        private readonly CancelHandle cancel;
        private readonly CancellationToken token;
        private readonly CancellationTokenRegistration registration;

        /// <summary><paramref name="timeout"/>: TimeSpan.Zero or Timeout.InfiniteTimeSpan for none.</summary>
        internal NativeCall(TimeSpan timeout, CancellationToken token)
        {
            uint ms = timeout == Timeout.InfiniteTimeSpan ? 0 : Native.Millis(timeout);
            Options = Native.ocr_call_options_new();
            cancel = Native.ocr_cancel_new();
            try
            {
                if (Options.IsInvalid || cancel.IsInvalid)
                {
                    throw new OutOfMemoryException("ocr_call_options_new");
                }
                Native.Check(Native.ocr_call_options_set_timeout_ms(Options, ms));
                Native.Check(Native.ocr_call_options_set_cancel(Options, cancel));
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

        /// <summary>Throws for a failing code: OperationCanceledException if the token cancelled the call.</summary>
        internal void Check(int code)
        {
            if (code == 0)
            {
                return;
            }
            OcrException failure = Native.Failure(code);
            if (failure.Code == OcrCode.Cancelled && token.IsCancellationRequested)
            {
                throw new OperationCanceledException(failure.Message, failure, token);
            }
            throw failure;
        }

        public void Dispose()
        {
            registration.Dispose(); // waits for a running trigger, so the handle outlives it
            cancel.Dispose();
            Options.Dispose();
        }
    }
}

using System;

namespace Ocrcloud
{
    /// <summary>Exponential backoff: the n-th wait is min(interval × Factor^(n-1), MaxInterval).</summary>
    public struct Backoff
    {
        /// <summary>Factor at least 1.0 (1.0: a fixed interval).</summary>
        public Backoff(double factor, TimeSpan maxInterval)
        {
            Factor = factor;
            MaxInterval = maxInterval;
        }

        /// <summary>How much longer each wait is than the one before.</summary>
        public double Factor { get; }

        /// <summary>The longest wait.</summary>
        public TimeSpan MaxInterval { get; }
    }

    /// <summary>
    /// How to poll. What is left null keeps the library's default: the first wait is 3 s, each
    /// later wait 1.5 times longer up to 5 s, learning on with a request worth 0.5 s of waiting,
    /// no attempt limit, a deadline of 10 minutes. With learning, once the client has seen 20
    /// tasks of an operation finish, requests go out when they minimise the wait after the task
    /// is done plus the request cost; an explicit Interval or Backoff turns learning off unless
    /// Learning is true. Values
    /// the library refuses make the poll throw <see cref="OcrCode.InvalidArgument"/>. One instance
    /// may serve many polls at once as long as nobody changes it meanwhile.
    /// </summary>
    public sealed class PollOptions
    {
        /// <summary>The wait after the first not-finished answer.</summary>
        public TimeSpan? Interval { get; set; }

        /// <summary>How the waits grow.</summary>
        public Backoff? Backoff { get; set; }

        /// <summary>Learn the schedule from the client's earlier tasks (the default), or keep the
        /// fixed one. Applied after Interval and Backoff, which alone turn learning off.</summary>
        public bool? Learning { get; set; }

        /// <summary>What one request costs, in seconds of waiting, for the learned schedule (0.5);
        /// at least 0.</summary>
        public double? RequestCost { get; set; }

        /// <summary>At most this many requests, then <see cref="OcrCode.NotReady"/>; 0: no limit.</summary>
        public uint? MaxAttempts { get; set; }

        /// <summary>The deadline of the whole poll, then <see cref="OcrCode.Timeout"/>; TimeSpan.Zero: none.</summary>
        public TimeSpan? Timeout { get; set; }

        /// <summary>Native options for one poll, with the library's defaults where these are null.</summary>
        internal static PollOptionsHandle ToNative(PollOptions options)
        {
            PollOptionsHandle handle = Native.ocr_poll_options_new();
            if (handle.IsInvalid)
            {
                throw new OutOfMemoryException("ocr_poll_options_new");
            }
            try
            {
                if (options == null)
                {
                    return handle;
                }
                if (options.Interval.HasValue)
                {
                    Native.Check(Native.ocr_poll_options_set_interval_ms(handle, Native.Millis(options.Interval.Value)));
                }
                if (options.Backoff.HasValue)
                {
                    Backoff backoff = options.Backoff.Value;
                    Native.Check(Native.ocr_poll_options_set_backoff(handle, backoff.Factor, Native.Millis(backoff.MaxInterval)));
                }
                if (options.Learning.HasValue)
                {
                    Native.Check(Native.ocr_poll_options_set_learning(handle, (byte)(options.Learning.Value ? 1 : 0)));
                }
                if (options.RequestCost.HasValue)
                {
                    Native.Check(Native.ocr_poll_options_set_request_cost(handle, options.RequestCost.Value));
                }
                if (options.MaxAttempts.HasValue)
                {
                    Native.Check(Native.ocr_poll_options_set_max_attempts(handle, options.MaxAttempts.Value));
                }
                if (options.Timeout.HasValue)
                {
                    Native.Check(Native.ocr_poll_options_set_timeout_ms(handle, Native.Millis(options.Timeout.Value)));
                }
                return handle;
            }
            catch
            {
                handle.Dispose();
                throw;
            }
        }
    }

    /// <summary>One answer seen by a poll: the task, its status in that answer, and the request's number from 1.</summary>
    public sealed class PollProgress
    {
        internal PollProgress(string taskId, OcrTaskStatus status, uint attempt)
        {
            TaskId = taskId;
            Status = status;
            Attempt = attempt;
        }

        /// <summary>The task polled.</summary>
        public string TaskId { get; }

        /// <summary>The task's status in this answer.</summary>
        public OcrTaskStatus Status { get; }

        /// <summary>Counts the requests for this task from 1.</summary>
        public uint Attempt { get; }
    }

    /// <summary>
    /// How one task of <see cref="OcrClient.PollMany"/> ended: exactly one of <see cref="Result"/>
    /// (the Completed task's result, which the caller disposes) and <see cref="Error"/> (what
    /// PollUntilDone would have thrown for it) is not null.
    /// </summary>
    public sealed class PollOutcome
    {
        internal PollOutcome(string taskId, OcrResult result, OcrException error)
        {
            TaskId = taskId;
            Result = result;
            Error = error;
        }

        /// <summary>The task polled.</summary>
        public string TaskId { get; }

        /// <summary>The result of a Completed task, else null.</summary>
        public OcrResult Result { get; }

        /// <summary>Why the task did not complete, else null.</summary>
        public OcrException Error { get; }
    }
}

using System;

namespace Ocrcloud
{
    /// <summary>How much the library tells (<c>OCR_LOG_*</c>).</summary>
    public enum OcrLogLevel
    {
        /// <summary>Nothing.</summary>
        Off = 0,
        /// <summary>Failures and unsafe settings.</summary>
        Warn = 1,
        /// <summary>Retries, backoff waits, token refreshes.</summary>
        Info = 2,
        /// <summary>Every request and every poll.</summary>
        Debug = 3,
    }

    /// <summary>
    /// The library's log lines (request lines, retries and their waits, token refreshes; never a
    /// token or secret), process-wide. They go to stderr unless a handler is set, and are off
    /// unless <see cref="SetLevel"/> or the OCRCLOUD_LOG environment variable (warn, info, debug)
    /// asks for them.
    /// </summary>
    public static class OcrLog
    {
        private static readonly object Gate = new object();
#pragma warning disable 414 // never read: it keeps the delegate alive while the library may call it
        private static Native.LogFn installed;
#pragma warning restore 414

        /// <summary>Chooses the most detailed lines passed on (overrides OCRCLOUD_LOG).</summary>
        public static void SetLevel(OcrLogLevel level)
        {
            Native.Check(Native.ocr_set_log_level((int)level));
        }

        /// <summary>
        /// Sends the lines to <paramref name="handler"/> instead of stderr; null: stderr again. The
        /// handler may be called from any thread, also the library's own worker threads and several
        /// at once, so it must be thread-safe. What it throws is ignored.
        /// </summary>
        public static void SetHandler(Action<OcrLogLevel, string> handler)
        {
            lock (Gate)
            {
                Native.LogFn callback = null;
                if (handler != null)
                {
                    callback = (userData, level, message) => {
                        try
                        {
                            handler((OcrLogLevel)level, Native.FromUtf8(message));
                        }
                        catch (Exception)
                        {
                            // Nobody to report it to on a library thread, and it must not unwind into C.
                        }
                    };
                }
                Native.ocr_set_log_callback(callback, IntPtr.Zero);
                // The library calls the previous callback under a lock that the call above waited for.
                installed = callback;
            }
        }
    }
}

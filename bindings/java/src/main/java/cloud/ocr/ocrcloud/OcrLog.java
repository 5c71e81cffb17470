package cloud.ocr.ocrcloud;

import cloud.ocr.ocrcloud.OcrLibrary.LogFn;

import static cloud.ocr.ocrcloud.OcrLibrary.LIB;

/**
 * The library's log lines (request lines, retries and their waits, token refreshes; never a
 * token or secret), process-wide. They go to stderr unless a handler is set, and are off unless
 * {@link #setLevel} or the {@code OCRCLOUD_LOG} environment variable ({@code warn}, {@code info},
 * {@code debug}) asks for them.
 */
public final class OcrLog {
    /** How much the library tells ({@code OCR_LOG_*}). */
    public enum Level { OFF, WARN, INFO, DEBUG }

    /**
     * Receives one log line. It may be called from any thread, also the library's own worker
     * threads and several at once, so it must be thread-safe. What it throws is ignored.
     */
    @FunctionalInterface
    public interface Handler {
        void log(Level level, String message);
    }

    /** The installed callback, strongly referenced while the library may call it. */
    private static LogFn installed;

    private OcrLog() {}

    /** Chooses the most detailed lines passed on (overrides {@code OCRCLOUD_LOG}). */
    public static void setLevel(Level level) {
        OcrException.check(LIB.ocr_set_log_level(level.ordinal()));
    }

    /** Sends the lines to {@code handler} instead of stderr; {@code null}: stderr again. */
    public static synchronized void setHandler(Handler handler) {
        LogFn callback = handler == null ? null : (userData, level, message) -> {
            try {
                handler.log(Level.values()[Math.min(level, Level.DEBUG.ordinal())], message.getString(0, "UTF-8"));
            } catch (Throwable ignored) {
                // Nobody to report it to on a library thread, and it must not unwind into C.
            }
        };
        LIB.ocr_set_log_callback(callback, null);
        // The library calls the previous callback under a lock that the call above waited for.
        installed = callback;
    }
}

package cloud.ocr.ocrcloud;

import cloud.ocr.ocrcloud.OcrLibrary.CallOptionsHandle;
import java.time.Duration;

import static cloud.ocr.ocrcloud.OcrLibrary.LIB;

/**
 * The limits of one call of {@link OcrClient#submit}, {@link OcrClient#submitFile},
 * {@link OcrClient#fetch}, {@link OcrClient#fetchToDir}, {@link OcrClient#taskStatus} and
 * {@link OcrClient#cancelTask}: a deadline, then {@link OcrCode#TIMEOUT}, and a cancel token, then
 * {@link OcrCode#CANCELLED} within milliseconds of {@link CancelToken#cancel()}, whatever the call
 * is waiting for. Immutable; one instance may serve many calls on many threads. What is not set
 * keeps the library's default: no deadline beyond the client's timeouts, no token.
 */
public final class CallOptions {
    private final Duration timeout;
    private final CancelToken cancelToken;

    private CallOptions(Builder b) {
        timeout = b.timeout;
        cancelToken = b.cancelToken;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builds {@link CallOptions}; not thread-safe. */
    public static final class Builder {
        private Duration timeout;
        private CancelToken cancelToken;

        private Builder() {}

        /**
         * The deadline of each call, counted from its start; {@code Duration.ZERO}: none. A
         * negative or too long duration is an {@link IllegalArgumentException}.
         */
        public Builder timeout(Duration deadline) {
            OcrClient.millis(deadline, "timeout");
            timeout = deadline;
            return this;
        }

        /** The token that cancels the calls; it must be open when a call starts. */
        public Builder cancelToken(CancelToken token) {
            cancelToken = token;
            return this;
        }

        public CallOptions build() {
            return new CallOptions(this);
        }
    }

    /** The native options of one call (NULL for {@code null} options), freed by {@link #close()}. */
    static final class NativeOptions implements AutoCloseable {
        final CallOptionsHandle handle;

        NativeOptions(CallOptions options) {
            if (options == null) {
                handle = null;
                return;
            }
            handle = LIB.ocr_call_options_new();
            if (handle == null) {
                throw new OutOfMemoryError("ocr_call_options_new");
            }
            try {
                if (options.timeout != null) {
                    OcrException.check(LIB.ocr_call_options_set_timeout_ms(handle, OcrClient.millis(options.timeout, "timeout")));
                }
                if (options.cancelToken != null) {
                    options.cancelToken.attachTo(handle);
                }
            } catch (RuntimeException | Error e) {
                LIB.ocr_call_options_free(handle);
                throw e;
            }
        }

        @Override
        public void close() {
            LIB.ocr_call_options_free(handle);
        }
    }
}

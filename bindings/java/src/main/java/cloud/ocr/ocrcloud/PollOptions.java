package cloud.ocr.ocrcloud;

import cloud.ocr.ocrcloud.OcrLibrary.PollOptionsHandle;
import cloud.ocr.ocrcloud.OcrLibrary.ProgressFn;
import cloud.ocr.ocrcloud.OcrLibrary.ResultHandle;
import cloud.ocr.ocrcloud.OcrLibrary.SizeT;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.lang.ref.Reference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static cloud.ocr.ocrcloud.OcrLibrary.LIB;

/**
 * How to poll: interval, backoff, learning, attempt limit, deadline, cancellation and progress.
 * Immutable; one instance may serve many polls on many threads. What is not set keeps the
 * library's default: the first wait is 3 s, each later wait 1.5 times longer up to 5 s, learning
 * on with a request worth 0.5 s of waiting, no attempt limit, a deadline of 10 minutes. With
 * learning, once the client has seen 20 tasks of an operation finish, requests go out when they
 * minimise the wait after the task is done plus the request cost; an explicit interval or
 * backoff turns learning off unless {@link Builder#learning} says otherwise. The builder refuses negative counts and durations that C cannot take
 * (IllegalArgumentException); values the library refuses (a factor below 1) make the poll throw
 * {@link OcrCode#INVALID_ARGUMENT}.
 */
public final class PollOptions {
    private final Duration interval;
    private final Double backoffFactor;
    private final Duration maxInterval;
    private final Boolean learning;
    private final Double requestCost;
    private final Integer maxAttempts;
    private final Duration timeout;
    private final CancelToken cancelToken;
    private final ProgressListener progress;

    private PollOptions(Builder b) {
        interval = b.interval;
        backoffFactor = b.backoffFactor;
        maxInterval = b.maxInterval;
        learning = b.learning;
        requestCost = b.requestCost;
        maxAttempts = b.maxAttempts;
        timeout = b.timeout;
        cancelToken = b.cancelToken;
        progress = b.progress;
    }

    /** The token of {@link Builder#cancelToken}, or {@code null}. */
    CancelToken cancelToken() {
        return cancelToken;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** These options with {@code token} as the cancel token. */
    PollOptions withCancelToken(CancelToken token) {
        Builder b = new Builder();
        b.interval = interval;
        b.backoffFactor = backoffFactor;
        b.maxInterval = maxInterval;
        b.learning = learning;
        b.requestCost = requestCost;
        b.maxAttempts = maxAttempts;
        b.timeout = timeout;
        b.cancelToken = token;
        b.progress = progress;
        return new PollOptions(b);
    }

    /** Builds {@link PollOptions}; not thread-safe. */
    public static final class Builder {
        private Duration interval;
        private Double backoffFactor;
        private Duration maxInterval;
        private Boolean learning;
        private Double requestCost;
        private Integer maxAttempts;
        private Duration timeout;
        private CancelToken cancelToken;
        private ProgressListener progress;

        private Builder() {}

        /**
         * Learn the schedule from the client's earlier tasks (the default), or keep the fixed one.
         * Applied after {@link #interval} and {@link #backoff}, which alone turn learning off.
         */
        public Builder learning(boolean on) {
            learning = on;
            return this;
        }

        /** What one request costs, in seconds of waiting, for the learned schedule (0.5); at least 0. */
        public Builder requestCost(double seconds) {
            requestCost = seconds;
            return this;
        }

        /** The wait after the first not-finished answer. */
        public Builder interval(Duration first) {
            OcrClient.millis(first, "interval");
            interval = first;
            return this;
        }

        /** The n-th wait is {@code min(first * factor^(n-1), max)}; factor at least 1.0. */
        public Builder backoff(double factor, Duration max) {
            OcrClient.millis(max, "backoff max");
            backoffFactor = factor;
            maxInterval = max;
            return this;
        }

        /** At most this many requests, then {@link OcrCode#NOT_READY}; 0: no limit. */
        public Builder maxAttempts(int attempts) {
            OcrClient.nonNegative(attempts, "attempts");
            maxAttempts = attempts;
            return this;
        }

        /** The deadline of the whole poll, then {@link OcrCode#TIMEOUT}; {@code Duration.ZERO}: none. */
        public Builder timeout(Duration deadline) {
            OcrClient.millis(deadline, "timeout");
            timeout = deadline;
            return this;
        }

        /** The token that cancels the poll; it must be open when a poll starts. */
        public Builder cancelToken(CancelToken token) {
            cancelToken = token;
            return this;
        }

        /** Called once per answer, on the polling thread. */
        public Builder progress(ProgressListener listener) {
            progress = listener;
            return this;
        }

        public PollOptions build() {
            return new PollOptions(this);
        }
    }

    /**
     * The native options of one poll (NULL for {@code null} options), freed by {@link #close()}.
     * Keeps the progress callback strongly reachable until then, so that the garbage collector
     * cannot take it while native code may call it.
     */
    static final class NativeOptions implements AutoCloseable {
        final PollOptionsHandle handle;
        private final ProgressFn callback;
        private Throwable listenerFailure;

        NativeOptions(PollOptions options) {
            if (options == null) {
                handle = null;
                callback = null;
                return;
            }
            handle = LIB.ocr_poll_options_new();
            if (handle == null) {
                throw new OutOfMemoryError("ocr_poll_options_new");
            }
            try {
                if (options.interval != null) {
                    OcrException.check(LIB.ocr_poll_options_set_interval_ms(handle, OcrClient.millis(options.interval, "interval")));
                }
                if (options.backoffFactor != null) {
                    OcrException.check(LIB.ocr_poll_options_set_backoff(handle, options.backoffFactor,
                            OcrClient.millis(options.maxInterval, "backoff max")));
                }
                if (options.learning != null) {
                    OcrException.check(LIB.ocr_poll_options_set_learning(handle, (byte) (options.learning ? 1 : 0)));
                }
                if (options.requestCost != null) {
                    OcrException.check(LIB.ocr_poll_options_set_request_cost(handle, options.requestCost));
                }
                if (options.maxAttempts != null) {
                    OcrException.check(LIB.ocr_poll_options_set_max_attempts(handle, options.maxAttempts));
                }
                if (options.timeout != null) {
                    OcrException.check(LIB.ocr_poll_options_set_timeout_ms(handle, OcrClient.millis(options.timeout, "timeout")));
                }
                if (options.cancelToken != null) {
                    options.cancelToken.attachTo(handle);
                }
                ProgressListener listener = options.progress;
                callback = listener == null ? null : (userData, taskId, status, attempt) -> {
                    if (listenerFailure != null) {
                        return;
                    }
                    try {
                        listener.onProgress(taskId.getString(0, "UTF-8"), TaskStatus.of(status), attempt);
                    } catch (Throwable t) {
                        listenerFailure = t; // thrown by the poll once it returns
                    }
                };
                if (callback != null) {
                    OcrException.check(LIB.ocr_poll_options_set_progress(handle, callback, null));
                }
            } catch (RuntimeException | Error e) {
                LIB.ocr_poll_options_free(handle);
                throw e;
            }
        }

        /**
         * The outcome of a poll that answered {@code code}: the listener's exception if it threw
         * one (the result is freed), else the poll's failure, else its result.
         */
        OcrResult result(int code, PointerByReference out) {
            OcrException failure = code == 0 ? null : OcrException.failure(code);
            throwListenerFailure(failure == null ? new Pointer[] {out.getValue()} : new Pointer[0]);
            if (failure != null) {
                throw failure;
            }
            return OcrResult.take(out.getValue());
        }

        /**
         * The outcomes of {@code ocr_poll_many}, whose {@code codes} were filled with -1 before the
         * call: they stay -1 when the call itself failed and wrote nothing.
         */
        List<PollOutcome> outcomes(int code, List<String> taskIds, Pointer[] results, int[] codes) {
            String message = code == 0 ? null : LIB.ocr_last_error_message();
            throwListenerFailure(results);
            if (codes.length > 0 && codes[0] == -1) {
                throw new OcrException(OcrCode.of(code), message);
            }
            String[] messages = new String[codes.length]; // each task's own, still on the polling thread
            for (int i = 0; i < codes.length; i++) {
                messages[i] = LIB.ocr_poll_many_message(new SizeT(i));
            }
            List<PollOutcome> outcomes = new ArrayList<>();
            for (int i = 0; i < codes.length; i++) {
                String id = taskIds.get(i);
                if (codes[i] == 0) {
                    outcomes.add(new PollOutcome(id, OcrResult.take(results[i]), null));
                } else {
                    outcomes.add(new PollOutcome(id, null, new OcrException(OcrCode.of(codes[i]), messages[i] != null
                            ? messages[i] : "task " + id + " did not complete: " + LIB.ocr_code_name(codes[i]))));
                }
            }
            return outcomes;
        }

        private void throwListenerFailure(Pointer[] results) {
            if (listenerFailure == null) {
                return;
            }
            for (Pointer result : results) {
                if (result != null) {
                    LIB.ocr_result_free(new ResultHandle(result));
                }
            }
            if (listenerFailure instanceof RuntimeException e) {
                throw e;
            }
            if (listenerFailure instanceof Error e) {
                throw e;
            }
            throw new IllegalStateException("the progress listener failed", listenerFailure);
        }

        @Override
        public void close() {
            LIB.ocr_poll_options_free(handle);
            Reference.reachabilityFence(callback);
        }
    }
}

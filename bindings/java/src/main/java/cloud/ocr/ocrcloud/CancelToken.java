package cloud.ocr.ocrcloud;

import cloud.ocr.ocrcloud.OcrLibrary.CallOptionsHandle;
import cloud.ocr.ocrcloud.OcrLibrary.CancelHandle;
import cloud.ocr.ocrcloud.OcrLibrary.PollOptionsHandle;

import static cloud.ocr.ocrcloud.OcrLibrary.LIB;

/**
 * A switch that cancels polls and calls: every poll whose {@link PollOptions} and every call whose
 * {@link CallOptions} name this token ends with {@link OcrCode#CANCELLED} within milliseconds of
 * {@link #cancel()}, also those that start later. {@code cancel()} is safe from any thread at any
 * time before {@code close()}; polls and calls already running keep working if the token is
 * closed.
 */
public final class CancelToken implements AutoCloseable {
    private final NativeHandle<CancelHandle> handle;

    public CancelToken() {
        CancelHandle cancel = LIB.ocr_cancel_new();
        if (cancel == null) {
            throw new OutOfMemoryError("ocr_cancel_new");
        }
        handle = new NativeHandle<>(this, "CancelToken", cancel, LIB::ocr_cancel_free);
    }

    /** Triggers the token; it stays triggered. */
    public void cancel() {
        handle.call(cancel -> {
            LIB.ocr_cancel_trigger(cancel);
            return null;
        });
    }

    /** Frees the token; idempotent. */
    @Override
    public void close() {
        handle.close();
    }

    void attachTo(PollOptionsHandle options) {
        handle.call(cancel -> {
            OcrException.check(LIB.ocr_poll_options_set_cancel(options, cancel));
            return null;
        });
    }

    void attachTo(CallOptionsHandle options) {
        handle.call(cancel -> {
            OcrException.check(LIB.ocr_call_options_set_cancel(options, cancel));
            return null;
        });
    }
}

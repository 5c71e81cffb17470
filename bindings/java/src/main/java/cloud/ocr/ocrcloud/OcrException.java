package cloud.ocr.ocrcloud;

/**
 * A failed library call: its {@link OcrCode} and the library's message, one sentence naming what
 * failed (the HTTP status, the URL, the server's own messages; never a token or secret).
 */
public final class OcrException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final OcrCode code;

    OcrException(OcrCode code, String message) {
        super(message);
        this.code = code;
    }

    public OcrCode code() {
        return code;
    }

    @Override
    public String toString() {
        return "OcrException(" + code + "): " + getMessage();
    }

    /** Throws for a failing code; call it right after the call, on the same thread. */
    static void check(int code) {
        if (code != 0) {
            throw failure(code);
        }
    }

    /** The exception for a failing code, with the thread's last error message read now. */
    static OcrException failure(int code) {
        return new OcrException(OcrCode.of(code), OcrLibrary.LIB.ocr_last_error_message());
    }
}

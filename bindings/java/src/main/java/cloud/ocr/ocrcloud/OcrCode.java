package cloud.ocr.ocrcloud;

/** Why a call failed: the library's {@code OCR_ERR_*} codes. */
public enum OcrCode {
    /** A NULL, malformed or out-of-range argument; nothing was sent. */
    INVALID_ARGUMENT(1),
    /** The connection could not be made or broke off (after the retries). */
    NETWORK(2),
    /** A request timed out, or the poll's deadline passed. */
    TIMEOUT(3),
    /** The server answered an HTTP error status (after the retries). */
    HTTP(4),
    /** The server refused the token or the credentials. */
    UNAUTHORIZED(5),
    /** The server's answer does not follow the protocol. */
    PROTOCOL(6),
    /** A result's base64 data is invalid. */
    DECODE(7),
    /** The task ended in Error; the message holds the server's messages. */
    TASK_FAILED(8),
    /** The task does not exist: a wrong id, a cancelled task, or results older than 24 hours. */
    TASK_NOT_FOUND(9),
    /** The task was still not finished when the poll's attempts ran out. */
    NOT_READY(10),
    /** The poll or call was cancelled through a {@link CancelToken}. */
    CANCELLED(11),
    /** An answer exceeds the client's size limit, or the server refused a request as too large. */
    TOO_LARGE(12),
    /** Reading or writing a local file failed; the message holds the OS reason. */
    IO(13),
    /** A bug in the library (a caught panic). */
    INTERNAL(14),
    /**
     * The TLS connection failed: an untrusted, self-signed, expired or not yet valid certificate,
     * a name mismatch, a failed handshake (never retried). A private CA is trusted with
     * {@link OcrClient#setCaFile} or {@link OcrClient#setCaPem}.
     */
    TLS(15),
    /** A code newer than this binding. */
    UNKNOWN(-1);

    /** The C value. */
    public final int value;

    OcrCode(int value) {
        this.value = value;
    }

    static OcrCode of(int value) {
        for (OcrCode code : values()) {
            if (code.value == value) {
                return code;
            }
        }
        return UNKNOWN;
    }
}

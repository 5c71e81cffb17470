package cloud.ocr.ocrcloud;

/** Where a task is in the service's queue: the library's {@code OCR_TASK_*} values. */
public enum TaskStatus {
    /** A status this library does not know; {@link OcrResult#statusText()} has the string. */
    UNKNOWN,
    /** Queued, not started. */
    PENDING,
    /** Being worked on. */
    PROCESSING,
    /** Finished; the results are ready. */
    COMPLETED,
    /** Finished with an error; the messages say why. */
    ERROR,
    /** No such task: a wrong id, a cancelled task, or results older than 24 hours. */
    NOT_EXIST;

    static TaskStatus of(int value) {
        return value > 0 && value < values().length ? values()[value] : UNKNOWN;
    }
}

package cloud.ocr.ocrcloud;

/**
 * Where a task is in the service's queue: the library's {@code OCR_TASK_*} values. As text
 * ({@link #toString()}) a status is spelled as the service spells it: {@code Pending},
 * {@code Processing}, {@code Completed}, {@code Error}, {@code NotExist}, and {@code Unknown}.
 */
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

    /** The service's spelling of this status, e.g. {@code NotExist}. */
    @Override
    public String toString() {
        StringBuilder text = new StringBuilder();
        for (String word : name().split("_")) {
            text.append(word.charAt(0)).append(word.substring(1).toLowerCase(java.util.Locale.ROOT));
        }
        return text.toString();
    }

    static TaskStatus of(int value) {
        return value > 0 && value < values().length ? values()[value] : UNKNOWN;
    }
}

package cloud.ocr.ocrcloud;

/**
 * How one task of {@link OcrClient#pollMany} ended: exactly one of {@code result} (the
 * Completed task's result, which the caller closes) and {@code error} (what
 * {@link OcrClient#pollUntilDone} would have thrown for it) is non-null.
 */
public record PollOutcome(String taskId, OcrResult result, OcrException error) {}

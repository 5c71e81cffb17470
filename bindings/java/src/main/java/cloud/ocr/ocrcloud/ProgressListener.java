package cloud.ocr.ocrcloud;

/**
 * Called once per answer while a poll waits for a task, on the thread that called the poll,
 * before the poll returns. {@code attempt} counts the requests for the task from 1. If it throws,
 * it is not called again, and the poll, which goes on to its end, then throws its exception
 * instead of answering.
 */
@FunctionalInterface
public interface ProgressListener {
    void onProgress(String taskId, TaskStatus status, int attempt);
}

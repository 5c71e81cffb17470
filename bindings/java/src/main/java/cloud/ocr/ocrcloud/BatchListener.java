package cloud.ocr.ocrcloud;

/**
 * Called on the thread of {@link Batch#run} after each change of input {@code index}'s state,
 * once the change is in the journal. It may read the batch ({@link Batch#size},
 * {@link Batch#count}, {@link Batch#item}) but must not change it. If it throws, it is not called
 * again, the run is stopped through a cancel token (that of the poll options, which stays
 * triggered, or the run's own), and the run then throws its exception.
 */
@FunctionalInterface
public interface BatchListener {
    void onProgress(int index, BatchState state);
}

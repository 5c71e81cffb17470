package cloud.ocr.ocrcloud;

import java.nio.file.Path;
import java.util.List;

/**
 * One input of a {@link Batch} as it was when {@link Batch#item} copied it. Immutable.
 *
 * @param path its path as it was added
 * @param state where it is
 * @param taskId its task id; {@code null} if it has none (not submitted, or submitted again)
 * @param code the code of its failure; {@code null} if it did not fail
 * @param message why it failed, one sentence; {@code ""} if it did not fail
 * @param outputs its result files (the output folder joined with their names); empty unless
 *     completed
 * @param possibleDuplicates how often it was submitted again after a submission that may have
 *     reached the service (each may be a duplicate task)
 * @param skipped whether an earlier run completed it (nothing was done for it now)
 * @param seconds seconds from its first submission to its end; -1 if it has not ended
 */
public record BatchItem(Path path, BatchState state, String taskId, OcrCode code, String message,
        List<Path> outputs, long possibleDuplicates, boolean skipped, double seconds) {}

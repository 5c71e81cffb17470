package cloud.ocr.ocrcloud;

/** Where an input of a {@link Batch} is: the library's {@code OCR_BATCH_*} values. */
public enum BatchState {
    /** Not submitted yet (or to be submitted again). */
    QUEUED,
    /**
     * Its intent is in the journal and its submission under way. After a crash in this state the
     * input is submitted again and counted as a possible duplicate.
     */
    SUBMITTING,
    /** Its task id is in the journal; the task is being polled. */
    SUBMITTED,
    /** Its results are in the output folder. */
    COMPLETED,
    /** It failed; {@link BatchItem#code()} and {@link BatchItem#message()} say why. */
    FAILED;

    static BatchState of(int value) {
        return values()[value];
    }
}

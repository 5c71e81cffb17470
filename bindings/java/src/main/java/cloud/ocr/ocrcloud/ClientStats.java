package cloud.ocr.ocrcloud;

/**
 * The request budget of an {@link OcrClient}, from {@link OcrClient#stats()}: counts since the
 * client was created and its state now.
 *
 * @param requests     requests sent (every attempt, token requests included)
 * @param retries      retries of failed requests (not the polls of a poll)
 * @param throttled    answers {@code 429} or {@code 503}
 * @param tokenFetches token requests
 * @param rate         the requests per second allowed now; {@code 0}: unlimited
 * @param breakerOpen  whether the circuit breaker is open (requests fail at once, unsent)
 * @param retryQuota   the retry quota left: 500 at most; a retry costs 5 (10 after a timeout),
 *                     a success gives 1 back
 */
public record ClientStats(long requests, long retries, long throttled, long tokenFetches, double rate,
        boolean breakerOpen, int retryQuota) {

    /** How many figures there are: {@code OCR_STAT_REQUESTS} (1) to {@code OCR_STAT_RETRY_QUOTA}. */
    static final int FIGURES = 7;

    /** The figures in the order of their {@code OCR_STAT_*} values. */
    static ClientStats of(double[] f) {
        return new ClientStats((long) f[0], (long) f[1], (long) f[2], (long) f[3], f[4], f[5] != 0, (int) f[6]);
    }
}

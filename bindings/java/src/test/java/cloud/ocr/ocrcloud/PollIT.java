package cloud.ocr.ocrcloud;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

/** Polling: limits, cancel tokens, listeners, pollMany and the asynchronous poll. */
class PollIT extends OcrTest {
    @Test
    void cancelFromAnotherThreadEndsThePollPromptly() throws Exception {
        String pending = fixture("{\"taskStatus\": \"Pending\"}");
        try (OcrClient client = demoClient(); CancelToken token = new CancelToken()) {
            PollOptions options = PollOptions.builder().interval(Duration.ofSeconds(10)).timeout(Duration.ZERO)
                    .cancelToken(token).build();
            AtomicLong triggeredAt = new AtomicLong();
            Thread trigger = new Thread(() -> {
                try {
                    Thread.sleep(300);
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
                triggeredAt.set(System.nanoTime());
                token.cancel();
            });
            trigger.start();
            fails(OcrCode.CANCELLED, () -> client.pollUntilDone(pending, options));
            long returnedAt = System.nanoTime();
            trigger.join();
            long ms = (returnedAt - triggeredAt.get()) / 1_000_000;
            System.out.println("  poll returned " + ms + " ms after cancel()");
            check(ms < 1000, "returned " + ms + " ms after the cancel");
            // A triggered token stays triggered: the next poll ends before sending anything.
            int before = polls(pending);
            fails(OcrCode.CANCELLED, () -> client.pollUntilDone(pending, options));
            equal(polls(pending), before);
        }
    }

    @Test
    void pollLimitsAndOptionValidation() throws Exception {
        String pending = fixture("{\"taskStatus\": \"Pending\"}");
        try (OcrClient client = demoClient()) {
            OcrException e = fails(OcrCode.NOT_READY,
                    () -> client.pollUntilDone(pending, fast().maxAttempts(3).timeout(Duration.ZERO).build()));
            check(e.getMessage().contains("3 attempts"), e.getMessage());
            equal(polls(pending), 3);
            long started = System.nanoTime();
            fails(OcrCode.TIMEOUT, () -> client.pollUntilDone(pending,
                    fast().interval(Duration.ofMillis(200)).backoff(1.0, Duration.ofMillis(200))
                            .timeout(Duration.ofMillis(700)).build()));
            check(System.nanoTime() - started < 700_000_000L, "the deadline is kept");
            fails(OcrCode.INVALID_ARGUMENT,
                    () -> client.pollUntilDone(pending, fast().backoff(0.5, Duration.ofSeconds(1)).build()));
            fails(OcrCode.INVALID_ARGUMENT,
                    () -> client.pollUntilDone(pending, fast().requestCost(-1.0).build()));
            String done = fixture("{}");
            try (OcrResult result = client.pollUntilDone(done,
                    fast().learning(true).requestCost(2.0).build())) {
                equal(result.status(), TaskStatus.COMPLETED);
            }
            throwsType(IllegalArgumentException.class,
                    () -> client.pollUntilDone(pending, fast().timeout(Duration.ofMillis(-1)).build()));
        }
    }

    @Test
    void aListenerExceptionIsThrownByThePoll() throws Exception {
        try (OcrClient client = demoClient()) {
            String done = fixture("{\"results\": [{\"type\": \"Text\", \"text\": \"x\"}]}");
            IllegalStateException e = throwsType(IllegalStateException.class, () -> client.pollUntilDone(done,
                    fast().progress((id, status, attempt) -> { throw new IllegalStateException("listener broke"); })
                            .build()));
            equal(e.getMessage(), "listener broke");
        }
    }

    @Test
    void pollManyGivesEachTaskItsResultOrError() throws Exception {
        byte[] pdf = Files.readAllBytes(samplePdf);
        try (OcrClient client = demoClient()) {
            client.setMaxConnections(2);
            fails(OcrCode.INVALID_ARGUMENT, () -> client.setMaxConnections(0));
            List<String> done = List.of(client.submit(null, pdf, null), client.submit(null, pdf, null));
            String failed = client.submit(null, "GIF89a".getBytes(StandardCharsets.UTF_8), null);
            List<String> ids = List.of(done.get(0), failed, "never-existed", done.get(1));
            List<String> reported = Collections.synchronizedList(new ArrayList<>());
            List<PollOutcome> outcomes = client.pollMany(null, ids,
                    fast().progress((id, status, attempt) -> reported.add(id)).build());
            equal(outcomes.size(), 4);
            for (int i : new int[] {0, 3}) {
                equal(outcomes.get(i).taskId(), ids.get(i));
                equal(outcomes.get(i).error(), null);
                try (OcrResult result = outcomes.get(i).result()) {
                    check(Arrays.equals(result.files().get(0).data(), pdf), "the document");
                }
            }
            equal(outcomes.get(1).result(), null);
            equal(outcomes.get(1).error().code(), OcrCode.TASK_FAILED);
            check(outcomes.get(1).error().getMessage().contains("The document is not a PDF file."),
                    outcomes.get(1).error().getMessage());
            equal(outcomes.get(2).error().code(), OcrCode.TASK_NOT_FOUND);
            check(outcomes.get(2).error().getMessage().contains("never-existed"), outcomes.get(2).error().getMessage());
            equal(new TreeSet<>(reported), new TreeSet<>(ids));
            equal(client.pollMany(null, List.of(), null), List.of());
            OcrException e = fails(OcrCode.INVALID_ARGUMENT,
                    () -> client.pollMany(null, Arrays.asList(done.get(0), null), fast().build()));
            check(e.getMessage().contains("task_ids[1]"), e.getMessage());
        }
    }

    @Test
    void pollManyGivesEachFailedTaskItsOwnMessage() throws Exception {
        String first = fixture("{\"taskStatus\": \"Error\", \"error\": {\"messages\": [\"page 1 is blank\"]}}");
        String second = fixture("{\"taskStatus\": \"Error\", \"error\": {\"messages\": [\"the scan is upside down\"]}}");
        String done = fixture("{\"results\": [{\"type\": \"Text\", \"text\": \"x\"}]}");
        try (OcrClient client = demoClient()) {
            List<PollOutcome> outcomes = client.pollMany(null, List.of(first, done, second, "never-existed"),
                    fast().build());
            String one = outcomes.get(0).error().getMessage();
            equal(outcomes.get(0).error().code(), OcrCode.TASK_FAILED);
            check(one.contains("page 1 is blank") && one.contains(first) && !one.contains("upside down"), one);
            outcomes.get(1).result().close();
            String two = outcomes.get(2).error().getMessage();
            equal(outcomes.get(2).error().code(), OcrCode.TASK_FAILED);
            check(two.contains("the scan is upside down") && two.contains(second) && !two.contains("blank"), two);
            String missing = outcomes.get(3).error().getMessage();
            equal(outcomes.get(3).error().code(), OcrCode.TASK_NOT_FOUND);
            check(missing.contains("never-existed") && !missing.contains("did not complete"), missing);
        }
    }

    @Test
    void pollManyIsCancelledAsAWhole() throws Exception {
        List<String> pending = List.of(fixture("{\"taskStatus\": \"Pending\"}"),
                fixture("{\"taskStatus\": \"Pending\"}"), fixture("{\"taskStatus\": \"Pending\"}"));
        try (OcrClient client = demoClient(); CancelToken token = new CancelToken()) {
            Thread trigger = new Thread(() -> {
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
                token.cancel();
            });
            trigger.start();
            long started = System.nanoTime();
            List<PollOutcome> outcomes = client.pollMany(null, pending,
                    PollOptions.builder().interval(Duration.ofSeconds(10)).cancelToken(token).build());
            trigger.join();
            check(System.nanoTime() - started < 1_200_000_000L, "ended promptly");
            for (PollOutcome outcome : outcomes) {
                equal(outcome.error().code(), OcrCode.CANCELLED);
            }
        }
    }

    @Test
    void pollUntilDoneAsyncCompletesWithTheResultOrTheError() throws Exception {
        String task = fixture("{\"results\": [{\"type\": \"Text\", \"text\": \"async\"}], \"pendingMs\": 200}");
        try (OcrClient client = demoClient()) {
            CompletableFuture<OcrResult> future = client.pollUntilDoneAsync(null, task, fast().build());
            check(!future.isDone(), "the poll runs on its own thread");
            try (OcrResult result = future.get(10, TimeUnit.SECONDS)) {
                equal(result.files().get(0).text(), "async");
            }
            CompletableFuture<OcrResult> missing = client.pollUntilDoneAsync(null, "no-such-task", fast().build());
            ExecutionException failed = throwsType(ExecutionException.class, () -> missing.get(10, TimeUnit.SECONDS));
            equal(((OcrException) failed.getCause()).code(), OcrCode.TASK_NOT_FOUND);
        }
    }

    @Test
    void cancellingTheFutureCancelsTheNativePoll() throws Exception {
        try (OcrClient client = demoClient(); CancelToken given = new CancelToken()) {
            for (PollOptions.Builder options : List.of(fast().timeout(Duration.ZERO), fast().timeout(Duration.ZERO).cancelToken(given))) {
                String task = fixture("{\"taskStatus\": \"Pending\"}");
                CompletableFuture<OcrResult> future = client.pollUntilDoneAsync(null, task, options.build());
                Thread.sleep(300);
                check(future.cancel(true), "cancelled");
                Thread.sleep(200); // the native poll ends within milliseconds of the cancel
                int seen = polls(task);
                check(seen > 2, "polled before the cancel: " + seen);
                Thread.sleep(300);
                equal(polls(task), seen);
                check(future.isCancelled(), "the future says it was cancelled");
            }
        }
    }
}

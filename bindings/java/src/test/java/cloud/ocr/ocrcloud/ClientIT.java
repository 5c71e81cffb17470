package cloud.ocr.ocrcloud;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The client's settings, statistics, argument checks, threads and closing. */
class ClientIT extends OcrTest {
    /** C takes these unsigned: a negative int would wrap (-1 attempts meant 4294967295). */
    @Test
    void everyIntegerArgumentIsValidated() throws Exception {
        String done = fixture("{\"results\": [{\"type\": \"Text\", \"text\": \"x\"}]}");
        Duration negative = Duration.ofMillis(-1);
        Duration tooLong = Duration.ofMillis(1L << 32);
        try (OcrClient client = demoClient(); OcrResult result = client.fetch(done)) {
            long before = requests();
            refused("attempts", () -> client.setMaxAttempts(-1));
            refused("connections", () -> client.setMaxConnections(-1));
            refused("maxBytes", () -> client.setMaxResponseBytes(-1));
            refused("maxBytes", () -> client.setMaxResponseBytes(Long.MIN_VALUE));
            for (Duration bad : List.of(negative, tooLong)) {
                refused("timeout", () -> client.setConnectTimeout(bad));
                refused("timeout", () -> client.setReadTimeout(bad));
                refused("timeout", () -> client.setRequestTimeout(bad));
                refused("interval", () -> PollOptions.builder().interval(bad));
                refused("backoff max", () -> PollOptions.builder().backoff(1.5, bad));
                refused("timeout", () -> PollOptions.builder().timeout(bad));
            }
            refused("attempts", () -> PollOptions.builder().maxAttempts(-1));
            refused("index", () -> result.save(-1, Path.of("/nonexistent/x")));
            equal(requests(), before);
            // The largest values fit.
            client.setMaxAttempts(Integer.MAX_VALUE);
            client.setMaxConnections(Integer.MAX_VALUE);
            client.setMaxResponseBytes(Long.MAX_VALUE);
            client.setRequestTimeout(Duration.ofMillis(0xFFFF_FFFFL));
            PollOptions.builder().maxAttempts(0).interval(Duration.ofMillis(0xFFFF_FFFFL)).build();
        }
    }

    /**
     * A lone surrogate would reach C as '?': another task would be fetched. Refused like Python
     * does, naming the argument; a surrogate pair is text and passes.
     */
    @Test
    void stringsWithLoneSurrogatesAreRefused() throws Exception {
        String pair = "emoji-\uD83D\uDE00";
        fixture("{\"id\": \"" + pair + "\", \"results\": [{\"type\": \"Text\", \"text\": \"x\"}]}");
        try (OcrClient client = demoClient()) {
            try (OcrResult result = client.fetch(pair)) {
                equal(result.id(), pair);
            }
            long before = requests();
            for (String lone : List.of("task-\uD800", "task-\uDC00", "task-\uDE00\uD83D")) {
                refused("taskId", () -> client.fetch(lone));
                refused("taskId", () -> client.fetch("RecognizePdf", lone));
                refused("taskId", () -> client.taskStatus(null, lone));
                refused("taskId", () -> client.cancelTask(null, lone));
                refused("taskId", () -> client.pollUntilDone(lone, fast().build()));
                refused("taskIds[1]", () -> client.pollMany(null, List.of(pair, lone), fast().build()));
                refused("operation", () -> client.fetch(lone, pair));
                refused("settingsJson", () -> client.submit(null, new byte[1], "{\"language\": \"" + lone + "\"}"));
                refused("userAgent", () -> client.setUserAgent(lone));
                refused("clientSecret", () -> OcrClient.withCredentials(url, "demo", lone));
            }
            equal(requests(), before);
        }
    }

    @Test
    void statsCountTheRequestsAndTheTokenFetches() throws Exception {
        String done = fixture("{\"results\": [{\"type\": \"Text\", \"text\": \"x\"}]}");
        OcrClient closed;
        try (OcrClient client = demoClient()) {
            closed = client;
            equal(client.stats(), new ClientStats(0, 0, 0, 0, 0.0, false, 500));
            for (int i = 0; i < 3; i++) {
                client.fetch(null, done).close();
            }
            ClientStats stats = client.stats();
            equal(stats.requests(), 4L); // three fetches and the token request
            equal(stats.tokenFetches(), 1L);
            equal(stats, new ClientStats(4, 0, 0, 1, 0.0, false, 500));
            client.fetch(null, done).close();
            equal(client.stats().requests(), 5L);
            equal(client.stats().tokenFetches(), 1L);
        }
        throwsType(IllegalStateException.class, closed::stats);
    }

    @Test
    void maxRateIsValidatedAndShownInTheStats() throws Exception {
        try (OcrClient client = demoClient()) {
            for (double bad : new double[] {-1, -0.5, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}) {
                OcrException e = fails(OcrCode.INVALID_ARGUMENT, () -> client.setMaxRate(bad));
                check(e.getMessage().contains("per_second"), e.getMessage());
            }
            equal(client.stats().rate(), 0.0); // the refusals changed nothing
            client.setMaxRate(20);
            equal(client.stats().rate(), 20.0);
            client.setMaxRate(2.5);
            equal(client.stats().rate(), 2.5);
            client.setMaxRate(0);
            equal(client.stats().rate(), 0.0);
            equal(client.stats().requests(), 0L);
        }
    }

    @Test
    void theCircuitBreakerOpensOnADeadPortUnlessTurnedOff() throws Exception {
        String dead = deadUrl();
        try (OcrClient client = OcrClient.withToken(dead, "token")) {
            client.setMaxAttempts(1);
            client.setCircuitBreaker(false);
            for (int i = 0; i < 6; i++) {
                OcrException e = fails(OcrCode.NETWORK, () -> client.fetch(null, "x"));
                check(!e.getMessage().contains("looks down"), e.getMessage());
            }
            check(!client.stats().breakerOpen(), "the breaker stays closed while it is off");
            equal(client.stats().requests(), 6L);
        }
        try (OcrClient client = OcrClient.withToken(dead, "token")) {
            client.setMaxAttempts(1); // the breaker is on by default
            for (int i = 0; i < 5; i++) {
                OcrException e = fails(OcrCode.NETWORK, () -> client.fetch(null, "x"));
                check(!e.getMessage().contains("looks down"), e.getMessage());
            }
            long started = System.nanoTime();
            OcrException e = fails(OcrCode.NETWORK, () -> client.fetch(null, "x"));
            long ms = (System.nanoTime() - started) / 1_000_000;
            check(e.getMessage().contains("looks down"), e.getMessage());
            check(ms < 500, "the sixth failed at once, not after " + ms + " ms");
            check(client.stats().breakerOpen(), "the breaker is open");
            equal(client.stats().requests(), 5L); // the sixth was not sent
            client.setCircuitBreaker(false); // turning it off closes it
            check(!client.stats().breakerOpen(), "closed");
            e = fails(OcrCode.NETWORK, () -> client.fetch(null, "x"));
            check(!e.getMessage().contains("looks down"), e.getMessage());
        }
    }

    @Test
    void clientSettings() throws Exception {
        String done = fixture("{\"results\": [{\"type\": \"Pdf\", \"generate\": {\"bytes\": 100000}}]}");
        try (OcrClient client = demoClient()) {
            client.setConnectTimeout(Duration.ofSeconds(5));
            client.setReadTimeout(Duration.ofSeconds(5));
            client.setRequestTimeout(Duration.ofSeconds(20));
            client.setUserAgent("binding-test");
            client.setMaxAttempts(1);
            client.setAllowInsecureHttp(false);
            client.setMaxResponseBytes(10_000);
            OcrException e = fails(OcrCode.TOO_LARGE, () -> client.fetch(done));
            check(e.getMessage().contains("10000"), e.getMessage());
            client.setMaxResponseBytes(1_000_000);
            try (OcrResult result = client.fetch(done)) {
                equal(result.files().get(0).data().length, 100_000);
                equal(result.files().get(0).data()[252] & 0xFF, 1);
            }
            fails(OcrCode.INVALID_ARGUMENT, () -> client.setRequestTimeout(Duration.ZERO));
            fails(OcrCode.INVALID_ARGUMENT, () -> client.setMaxAttempts(0));
        }
        // A host that is not loopback (`.invalid` never resolves); the request is refused unsent.
        try (OcrClient client = OcrClient.withToken("http://ocr.invalid:9", "token")) {
            OcrException e = fails(OcrCode.INVALID_ARGUMENT, () -> client.fetch("x"));
            check(e.getMessage().contains("plain http"), e.getMessage());
        }
    }

    @Test
    void threadsShareAClientAndGetTheirOwnMessages() throws Exception {
        try (OcrClient client = demoClient()) {
            List<Thread> threads = new ArrayList<>();
            List<String> problems = Collections.synchronizedList(new ArrayList<>());
            for (int i = 0; i < 8; i++) {
                String id = "missing-" + i;
                threads.add(new Thread(() -> {
                    try {
                        OcrException e = fails(OcrCode.TASK_NOT_FOUND, () -> client.pollUntilDone(id, fast().build()));
                        check(e.getMessage().contains(id), e.getMessage());
                    } catch (Throwable t) {
                        problems.add(t.toString());
                    }
                }));
            }
            threads.forEach(Thread::start);
            for (Thread t : threads) {
                t.join();
            }
            equal(problems, List.of());
        }
    }

    @Test
    void closedObjectsThrowAClearException() throws Exception {
        String done = fixture("{\"results\": [{\"type\": \"Text\", \"text\": \"x\"}]}");
        OcrClient client = demoClient();
        OcrResult result = client.fetch(done);
        client.close();
        client.close();
        IllegalStateException e = throwsType(IllegalStateException.class, () -> client.fetch(done));
        equal(e.getMessage(), "OcrClient is closed");
        throwsType(IllegalStateException.class, () -> client.setUserAgent("x"));
        equal(result.files().get(0).text(), "x");
        result.close();
        result.close();
        equal(result.files().get(0).text(), "x");
        e = throwsType(IllegalStateException.class, () -> result.save(0, Path.of("/tmp/never-written.txt")));
        equal(e.getMessage(), "OcrResult is closed");
        CancelToken token = new CancelToken();
        token.close();
        token.close();
        e = throwsType(IllegalStateException.class, token::cancel);
        equal(e.getMessage(), "CancelToken is closed");
        try (OcrClient other = demoClient()) {
            throwsType(IllegalStateException.class,
                    () -> other.pollUntilDone(done, fast().cancelToken(token).build()));
        }
    }

    @Test
    void closingAClientDuringAPollWaitsForThePoll() throws Exception {
        String pending = fixture("{\"taskStatus\": \"Pending\"}");
        OcrClient client = demoClient();
        try (CancelToken token = new CancelToken()) {
            List<Throwable> outcome = Collections.synchronizedList(new ArrayList<>());
            Thread poller = new Thread(() -> {
                try {
                    client.pollUntilDone(pending, fast().cancelToken(token).timeout(Duration.ZERO).build());
                } catch (Throwable t) {
                    outcome.add(t);
                }
            });
            poller.start();
            try {
                Thread.sleep(200);
                client.close();
                throwsType(IllegalStateException.class, () -> client.fetch(pending));
                Thread.sleep(100);
                check(poller.isAlive(), "the poll goes on with the closed client");
            } finally {
                token.cancel();
                poller.join();
            }
            check(outcome.get(0) instanceof OcrException oe && oe.code() == OcrCode.CANCELLED, "" + outcome);
        }
    }

    @Test
    void logLinesReachAHandler() throws Exception {
        List<String> lines = Collections.synchronizedList(new ArrayList<>());
        OcrLog.setHandler((level, message) -> lines.add(level + " " + message));
        OcrLog.setLevel(OcrLog.Level.DEBUG);
        try (OcrClient client = demoClient(); OcrResult result = client.fetch("no-such-task")) {
            equal(result.status(), TaskStatus.NOT_EXIST);
        } finally {
            OcrLog.setLevel(OcrLog.Level.OFF);
            OcrLog.setHandler(null);
        }
        check(lines.stream().anyMatch(l -> l.startsWith("INFO ") && l.contains("obtained a token")), "" + lines);
        check(lines.stream().anyMatch(l -> l.startsWith("DEBUG ") && l.contains("-> HTTP 200")), "" + lines);
        check(lines.stream().noneMatch(l -> l.contains("demo-secret")), "" + lines);
    }
}

package cloud.ocr.ocrcloud;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

/** Per-call limits (CallOptions): a deadline and a cancel token on every call that takes them. */
class CallOptionsIT extends OcrTest {
    /**
     * A loopback listener that accepts connections and never answers: a request to it waits until
     * the client gives up. {@code url} is its base URL.
     */
    static final class SilentServer implements AutoCloseable {
        private final ServerSocket listener = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
        private final List<Socket> held = Collections.synchronizedList(new ArrayList<>());
        private final Thread acceptor = new Thread(this::accept);
        final String url = "http://127.0.0.1:" + listener.getLocalPort();

        SilentServer() throws IOException {
            acceptor.setDaemon(true);
            acceptor.start();
        }

        private void accept() {
            try {
                while (true) {
                    held.add(listener.accept());
                }
            } catch (IOException closed) {
                // close() ends the loop
            }
        }

        @Override
        public void close() throws IOException {
            listener.close();
            try {
                acceptor.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            for (Socket socket : held) {
                socket.close();
            }
        }
    }

    interface LimitedCall {
        void run(CallOptions call) throws Exception;
    }

    /** The calls that take CallOptions, by name. */
    static Map<String, LimitedCall> eachCall(OcrClient client, Path dir) {
        Map<String, LimitedCall> calls = new LinkedHashMap<>();
        calls.put("submit", call -> client.submit(null, "%PDF-1.4".getBytes(StandardCharsets.UTF_8), null, call));
        calls.put("submitFile", call -> client.submitFile(null, samplePdf, null, call));
        calls.put("fetch", call -> client.fetch(null, "task", call));
        calls.put("fetchToDir", call -> client.fetchToDir(null, "task", dir, call));
        calls.put("taskStatus", call -> client.taskStatus(null, "task", call));
        calls.put("cancelTask", call -> client.cancelTask(null, "task", call));
        return calls;
    }

    @Test
    void aCallCancelledFromAnotherThreadEndsPromptly() throws Exception {
        Path dir = Files.createTempDirectory("ocrcloud-java-cancel");
        Map<String, Long> latencies = new LinkedHashMap<>();
        try (SilentServer server = new SilentServer(); OcrClient client = OcrClient.withToken(server.url, "token")) {
            for (Map.Entry<String, LimitedCall> entry : eachCall(client, dir).entrySet()) {
                try (CancelToken token = new CancelToken()) {
                    CallOptions call = CallOptions.builder().cancelToken(token).build();
                    AtomicLong triggeredAt = new AtomicLong();
                    Thread trigger = new Thread(() -> {
                        try {
                            Thread.sleep(100);
                        } catch (InterruptedException e) {
                            throw new RuntimeException(e);
                        }
                        triggeredAt.set(System.nanoTime());
                        token.cancel();
                    });
                    long started = System.nanoTime();
                    trigger.start();
                    fails(OcrCode.CANCELLED, () -> entry.getValue().run(call));
                    long returnedAt = System.nanoTime();
                    trigger.join();
                    check(returnedAt - started >= 100_000_000L, entry.getKey() + " ended before the cancel");
                    latencies.put(entry.getKey(), (returnedAt - triggeredAt.get()) / 1_000_000);
                }
            }
        } finally {
            try (var left = Files.list(dir)) {
                equal(left.count(), 0L);
            }
            Files.delete(dir);
        }
        System.out.println("  calls returned after cancel() (ms): " + latencies);
        check(Collections.max(latencies.values()) < 500, "returned promptly: " + latencies);
    }

    @Test
    void aTimeoutEndsACallWithTimeout() throws Exception {
        Path dir = Files.createTempDirectory("ocrcloud-java-timeout");
        try (SilentServer server = new SilentServer(); OcrClient client = OcrClient.withToken(server.url, "token")) {
            CallOptions call = CallOptions.builder().timeout(Duration.ofMillis(200)).build();
            for (Map.Entry<String, LimitedCall> entry : eachCall(client, dir).entrySet()) {
                long started = System.nanoTime();
                fails(OcrCode.TIMEOUT, () -> entry.getValue().run(call));
                long ms = (System.nanoTime() - started) / 1_000_000;
                check(ms >= 190 && ms < 2000, entry.getKey() + " took " + ms + " ms");
            }
        } finally {
            Files.delete(dir);
        }
    }

    @Test
    void callOptionsWithinTheirLimitsAndIntegerValidation() throws Exception {
        String done = fixture("{\"results\": [{\"type\": \"Text\", \"text\": \"in time\"}]}");
        try (OcrClient client = demoClient(); CancelToken token = new CancelToken()) {
            CallOptions call = CallOptions.builder().timeout(Duration.ofSeconds(10)).cancelToken(token).build();
            try (OcrResult result = client.fetch(null, done, call)) {
                equal(result.files().get(0).text(), "in time");
            }
            equal(client.taskStatus(null, done, CallOptions.builder().timeout(Duration.ZERO).build()),
                    TaskStatus.COMPLETED);
            equal(client.taskStatus(null, done, null), TaskStatus.COMPLETED);
            token.cancel(); // triggered before the call: nothing is sent
            int before = polls(done);
            fails(OcrCode.CANCELLED, () -> client.fetch(null, done, call));
            equal(polls(done), before);
            throwsType(IllegalArgumentException.class, () -> CallOptions.builder().timeout(Duration.ofMillis(-1)));
            throwsType(IllegalArgumentException.class, () -> client.setMaxAttempts(-1));
            throwsType(IllegalArgumentException.class, () -> client.setMaxConnections(-2));
            throwsType(IllegalArgumentException.class, () -> client.setMaxResponseBytes(-1));
            throwsType(IllegalArgumentException.class, () -> PollOptions.builder().maxAttempts(-1));
        }
        CancelToken closed = new CancelToken();
        closed.close();
        try (OcrClient client = demoClient()) {
            CallOptions call = CallOptions.builder().cancelToken(closed).build();
            throwsType(IllegalStateException.class, () -> client.fetch(null, done, call));
        }
    }
}

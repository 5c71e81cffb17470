package cloud.ocr.ocrcloud;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static cloud.ocr.ocrcloud.OcrLibrary.LIB;

/**
 * The Java binding against two running emulators (started with --pending-ms 100 --processing-ms 100, the
 * second over HTTPS with --tls-self-signed CA_FILE).
 * Usage: BindingTests EMULATOR_URL SAMPLE_PDF HEADER TLS_URL CA_FILE. Every static method named test* is a
 * test; the last line says "N passed, M failed" and the exit status is non-zero on any failure.
 */
public final class BindingTests {
    private static String url;
    private static Path samplePdf;
    private static String header;
    private static String tlsUrl;
    private static Path caFile;
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    public static void main(String[] args) throws Exception {
        url = args[0];
        samplePdf = Path.of(args[1]);
        header = Files.readString(Path.of(args[2]));
        tlsUrl = args[3];
        caFile = Path.of(args[4]);
        List<Method> tests = new ArrayList<>();
        for (Method m : BindingTests.class.getDeclaredMethods()) {
            if (m.getName().startsWith("test") && Modifier.isStatic(m.getModifiers())) {
                tests.add(m);
            }
        }
        tests.sort((a, b) -> a.getName().compareTo(b.getName()));
        int passed = 0, failed = 0;
        for (Method test : tests) {
            long started = System.nanoTime();
            try {
                test.invoke(null);
                passed++;
                System.out.printf("PASS %s (%d ms)%n", test.getName(), (System.nanoTime() - started) / 1_000_000);
            } catch (java.lang.reflect.InvocationTargetException e) {
                failed++;
                System.out.println("FAIL " + test.getName() + ": " + e.getCause());
                e.getCause().printStackTrace(System.out);
            }
        }
        System.out.println(passed + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }

    // ---- helpers ----

    static void check(boolean condition, String what) {
        if (!condition) {
            throw new AssertionError(what);
        }
    }

    static void equal(Object actual, Object expected) {
        if (!java.util.Objects.equals(actual, expected)) {
            throw new AssertionError("expected <" + expected + "> but was <" + actual + ">");
        }
    }

    interface Body {
        void run() throws Exception;
    }

    /** Runs body, which must throw OcrException with code; answers it. */
    static OcrException fails(OcrCode code, Body body) throws Exception {
        try {
            body.run();
        } catch (OcrException e) {
            check(e.code() == code, "expected " + code + " but got " + e);
            check(!e.getMessage().isEmpty(), "a message");
            return e;
        }
        throw new AssertionError("expected OcrException " + code);
    }

    /** Runs body, which must throw type; answers it. */
    static <T extends Throwable> T throwsType(Class<T> type, Body body) throws Exception {
        try {
            body.run();
        } catch (Throwable t) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
            throw new AssertionError("expected " + type.getSimpleName() + " but got " + t, t);
        }
        throw new AssertionError("expected " + type.getSimpleName());
    }

    static OcrClient demoClient() {
        return OcrClient.withCredentials(url, "demo", "demo-secret");
    }

    static PollOptions.Builder fast() {
        return PollOptions.builder().interval(Duration.ofMillis(30)).backoff(1.0, Duration.ofMillis(30))
                .timeout(Duration.ofSeconds(10));
    }

    /** Creates a fixture task through the emulator's control endpoint and answers its id. */
    static String fixture(String json) throws IOException, InterruptedException {
        return control("POST", "/_emulator/tasks", json);
    }

    /** How many GETs the emulator answered for a task. */
    static int polls(String taskId) throws IOException, InterruptedException {
        Matcher m = Pattern.compile("\"polls\":\\s*(\\d+)").matcher(control("GET", "/_emulator/tasks/" + taskId, null));
        check(m.find(), "polls in the task's description");
        return Integer.parseInt(m.group(1));
    }

    static String control(String method, String path, String json) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url + path));
        if (json != null) {
            request.header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json));
        }
        HttpResponse<String> response = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
        check(response.statusCode() / 100 == 2, method + " " + path + ": " + response.statusCode() + " " + response.body());
        return response.body();
    }

    interface LibC extends com.sun.jna.Library {
        LibC C = com.sun.jna.Native.load("c", LibC.class);

        int malloc_trim(com.sun.jna.NativeLong pad);
    }

    /**
     * The process's resident set size in bytes, after a garbage collection (JNA frees the native
     * copies of string arguments when their Java objects are collected) and after giving free
     * malloc pages back to the system, so that only live memory counts.
     */
    static long rss() throws IOException, InterruptedException {
        System.gc();
        Thread.sleep(200);
        LibC.C.malloc_trim(new com.sun.jna.NativeLong(0));
        String[] fields = Files.readString(Path.of("/proc/self/statm")).trim().split(" ");
        return Long.parseLong(fields[1]) * 4096;
    }

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

    /** The base URL of a loopback port that nothing listens on: connections are refused. */
    static String deadUrl() throws IOException {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return "http://127.0.0.1:" + probe.getLocalPort();
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

    // ---- tests ----

    static Map<String, Integer> defines(String prefix) {
        Map<String, Integer> found = new TreeMap<>();
        Matcher m = Pattern.compile("#define " + prefix + "(\\w+) (\\d+)").matcher(header);
        while (m.find()) {
            found.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        return found;
    }

    static void testTheBindingFollowsTheHeader() {
        Set<String> declared = new TreeSet<>();
        Matcher m = Pattern.compile("(?m)^[a-z][\\w ]*?\\**\\s*\\**(ocr_\\w+)\\(").matcher(header);
        while (m.find()) {
            declared.add(m.group(1));
        }
        check(declared.size() > 40, "functions found in the header: " + declared);
        Set<String> mapped = new TreeSet<>();
        for (Method method : OcrLibrary.class.getDeclaredMethods()) {
            mapped.add(method.getName());
        }
        declared.removeAll(mapped);
        equal(declared, Set.of());

        Map<String, Integer> codes = new TreeMap<>();
        for (OcrCode code : OcrCode.values()) {
            if (code != OcrCode.UNKNOWN) {
                codes.put(code.name(), code.value);
                equal(LIB.ocr_code_name(code.value), "OCR_ERR_" + code.name());
            }
        }
        equal(codes, defines("OCR_ERR_"));
        Map<String, Integer> statuses = new TreeMap<>();
        for (TaskStatus status : TaskStatus.values()) {
            statuses.put(status.name(), status.ordinal());
            equal(TaskStatus.of(status.ordinal()), status);
            equal(status.toString(), LIB.ocr_task_status_name(status.ordinal()));
        }
        equal(statuses, defines("OCR_TASK_"));
        Map<String, Integer> levels = new TreeMap<>();
        for (OcrLog.Level level : OcrLog.Level.values()) {
            levels.put(level.name(), level.ordinal());
        }
        equal(levels, defines("OCR_LOG_"));
        Matcher version = Pattern.compile("#define OCR_VERSION_STRING \"([^\"]+)\"").matcher(header);
        check(version.find(), "the header's version");
        equal(OcrClient.libraryVersion(), version.group(1));
        equal(OcrCode.of(15), OcrCode.TLS);
        equal(OcrCode.of(1000), OcrCode.UNKNOWN);
        equal(TaskStatus.of(42), TaskStatus.UNKNOWN);
    }

    static void testSubmittedDocumentComesBackByteForByte() throws Exception {
        byte[] pdf = Files.readAllBytes(samplePdf);
        try (OcrClient client = demoClient()) {
            String id = client.submit("RecognizePdf", pdf, "{\"resultType\":\"TextAndPdf\"}");
            try (OcrResult polled = client.pollUntilDone(id, fast().build())) {
                equal(polled.status(), TaskStatus.COMPLETED);
            }
            try (OcrResult result = client.fetch("recognizepdf", id)) {
                equal(result.status(), TaskStatus.COMPLETED);
                equal(result.statusText(), "Completed");
                equal(result.responseStatus(), "Ok");
                equal(result.id(), id);
                equal(result.files().size(), 2);
                equal(result.files().get(0).type(), "Text");
                check(result.files().get(0).text().contains("Hello from ocrcloud!"), result.files().get(0).text());
                equal(result.files().get(1).type(), "Pdf");
                check(Arrays.equals(result.files().get(1).data(), pdf), "the Pdf result is the submitted document");
                equal(result.messages(), List.of());
                equal(result.warnings(), List.of());

                Path dir = Files.createTempDirectory("ocrcloud-java");
                Path saved = dir.resolve("out.pdf");
                result.save(1, saved);
                check(Arrays.equals(Files.readAllBytes(saved), pdf), "the saved file is the document");
                Files.delete(saved);
                Files.delete(dir);
            }
        }
    }

    static void testPollReportsProgressUntilCompleted() throws Exception {
        record Report(String taskId, TaskStatus status, int attempt) {}
        List<Report> reports = Collections.synchronizedList(new ArrayList<>());
        Thread caller = Thread.currentThread();
        try (OcrClient client = demoClient()) {
            String id = client.submit(null, Files.readAllBytes(samplePdf), null);
            PollOptions options = fast().progress((taskId, status, attempt) -> {
                check(Thread.currentThread() == caller, "progress runs on the polling thread");
                reports.add(new Report(taskId, status, attempt));
            }).build();
            try (OcrResult result = client.pollUntilDone("RecognizePdf", id, options)) {
                equal(result.files().get(0).type(), "Pdf");
            }
            check(reports.size() >= 3, "Pending, Processing and Completed were seen: " + reports);
            for (int i = 0; i < reports.size(); i++) {
                equal(reports.get(i).taskId(), id);
                equal(reports.get(i).attempt(), i + 1);
            }
            equal(reports.get(0).status(), TaskStatus.PENDING);
            check(reports.stream().anyMatch(r -> r.status() == TaskStatus.PROCESSING), "Processing: " + reports);
            equal(reports.get(reports.size() - 1).status(), TaskStatus.COMPLETED);
            equal(polls(id), reports.size());
        }
    }

    static void testATaskInErrorIsTaskFailedWithTheServersMessage() throws Exception {
        try (OcrClient client = demoClient()) {
            String id = client.submit("RecognizePdf", "GIF89a not a pdf".getBytes(StandardCharsets.UTF_8), null);
            OcrException e = fails(OcrCode.TASK_FAILED, () -> client.pollUntilDone(id, fast().build()));
            check(e.getMessage().contains("The document is not a PDF file."), e.getMessage());
            check(e.getMessage().contains(id), e.getMessage());
            try (OcrResult result = client.fetch(id)) {
                equal(result.status(), TaskStatus.ERROR);
                equal(result.files(), List.of());
                equal(result.messages(), List.of("The document is not a PDF file."));
            }
            String warned = fixture("{\"taskStatus\": \"Error\", \"error\": {\"messages\": [\"blank\", \"no text\"],"
                    + " \"warnings\": [\"low resolution\"]}}");
            try (OcrResult result = client.fetch(warned)) {
                equal(result.messages(), List.of("blank", "no text"));
                equal(result.warnings(), List.of("low resolution"));
            }
        }
    }

    static void testAnUnknownTaskIsTaskNotFound() throws Exception {
        try (OcrClient client = demoClient()) {
            OcrException e = fails(OcrCode.TASK_NOT_FOUND, () -> client.pollUntilDone("never-existed", fast().build()));
            check(e.getMessage().contains("never-existed"), e.getMessage());
            try (OcrResult result = client.fetch("never-existed")) {
                equal(result.status(), TaskStatus.NOT_EXIST);
                equal(result.id(), "never-existed");
            }
        }
    }

    static void testStatusesAreInformationForFetch() throws Exception {
        try (OcrClient client = demoClient()) {
            try (OcrResult result = client.fetch(fixture("{\"taskStatus\": \"Pending\"}"))) {
                equal(result.status(), TaskStatus.PENDING);
                equal(result.responseStatus(), "NotReady");
            }
            try (OcrResult result = client.fetch(fixture("{\"taskStatus\": \"Queued\"}"))) {
                equal(result.status(), TaskStatus.UNKNOWN);
                equal(result.statusText(), "Queued");
            }
        }
    }

    static void testWrongTokenOrSecretIsUnauthorized() throws Exception {
        String done = fixture("{\"results\": [{\"type\": \"Text\", \"text\": \"x\"}]}");
        try (OcrClient client = OcrClient.withToken(url, "made-up-token-123")) {
            OcrException e = fails(OcrCode.UNAUTHORIZED, () -> client.fetch(done));
            check(e.getMessage().contains("401"), e.getMessage());
        }
        try (OcrClient client = OcrClient.withCredentials(url, "demo", "not-the-secret")) {
            OcrException e = fails(OcrCode.UNAUTHORIZED, () -> client.pollUntilDone(done, fast().build()));
            check(!e.getMessage().contains("not-the-secret"), e.getMessage());
        }
    }

    static void testCancelFromAnotherThreadEndsThePollPromptly() throws Exception {
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

    static void testPollLimitsAndOptionValidation() throws Exception {
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

    static void testAListenerExceptionIsThrownByThePoll() throws Exception {
        try (OcrClient client = demoClient()) {
            String done = fixture("{\"results\": [{\"type\": \"Text\", \"text\": \"x\"}]}");
            IllegalStateException e = throwsType(IllegalStateException.class, () -> client.pollUntilDone(done,
                    fast().progress((id, status, attempt) -> { throw new IllegalStateException("listener broke"); })
                            .build()));
            equal(e.getMessage(), "listener broke");
        }
    }

    static void testSubmitRefusesBadArgumentsBeforeSending() throws Exception {
        try (OcrClient client = demoClient()) {
            OcrException e = fails(OcrCode.INVALID_ARGUMENT, () -> client.submit("RecognizeEverything", new byte[1], null));
            check(e.getMessage().contains("RecognizeEverything"), e.getMessage());
            e = fails(OcrCode.INVALID_ARGUMENT, () -> client.submit(null, new byte[1], "[1]"));
            check(e.getMessage().contains("settings_json"), e.getMessage());
            String id = client.submit("RecognizePdf", new byte[0], null);
            check(!id.isEmpty(), "an empty document is a document");
            fails(OcrCode.INVALID_ARGUMENT, () -> client.fetch("a\r\nHost: evil"));
            fails(OcrCode.INVALID_ARGUMENT, () -> client.fetch(null));
            fails(OcrCode.INVALID_ARGUMENT, () -> client.fetch("Nope", "x"));
            throwsType(IllegalArgumentException.class, () -> client.fetch("a\0b"));
            fails(OcrCode.INVALID_ARGUMENT, () -> OcrClient.withToken("ftp://x", null));
            fails(OcrCode.INVALID_ARGUMENT, () -> OcrClient.withCredentials(url, null, "secret"));
        }
    }

    /** Runs body, which must throw IllegalArgumentException naming {@code argument}. */
    static void refused(String argument, Body body) throws Exception {
        IllegalArgumentException e = throwsType(IllegalArgumentException.class, body);
        check(e.getMessage().contains(argument), "names " + argument + ": " + e.getMessage());
    }

    /** How many API requests the emulator has answered. */
    static long requests() throws Exception {
        Matcher m = Pattern.compile("\"requests\":\\s*(\\d+)").matcher(control("GET", "/_emulator/stats", null));
        check(m.find(), "requests in the statistics");
        return Long.parseLong(m.group(1));
    }

    /** C takes these unsigned: a negative int would wrap (-1 attempts meant 4294967295). */
    static void testEveryIntegerArgumentIsValidated() throws Exception {
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
    static void testStringsWithLoneSurrogatesAreRefused() throws Exception {
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

    /** The record follows the header's OCR_STAT_* values, in their order. */
    static void testClientStatsFollowTheHeader() {
        Map<Integer, String> byValue = new TreeMap<>();
        for (Map.Entry<String, Integer> stat : defines("OCR_STAT_").entrySet()) {
            StringBuilder name = new StringBuilder();
            for (String word : stat.getKey().toLowerCase().split("_")) {
                name.append(name.length() == 0 ? word : Character.toUpperCase(word.charAt(0)) + word.substring(1));
            }
            byValue.put(stat.getValue(), name.toString());
        }
        List<String> components = new ArrayList<>();
        for (java.lang.reflect.RecordComponent c : ClientStats.class.getRecordComponents()) {
            components.add(c.getName());
        }
        equal(new ArrayList<>(byValue.keySet()), List.of(1, 2, 3, 4, 5, 6, 7));
        equal(new ArrayList<>(byValue.values()), components);
        equal(ClientStats.FIGURES, components.size());
    }

    static void testStatsCountTheRequestsAndTheTokenFetches() throws Exception {
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

    static void testMaxRateIsValidatedAndShownInTheStats() throws Exception {
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

    static void testTheCircuitBreakerOpensOnADeadPortUnlessTurnedOff() throws Exception {
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

    static void testStringsTravelAsUtf8() throws Exception {
        String id = "ünï ✓ a b/c?d&e=f";
        fixture("{\"id\": \"" + id + "\", \"results\": [{\"type\": \"Text\", \"text\": \"héllo ✓\\n\"}]}");
        try (OcrClient client = demoClient(); OcrResult result = client.fetch(id)) {
            equal(result.id(), id);
            equal(result.files().get(0).text(), "héllo ✓\n");
            client.setUserAgent("ocrcloud-java ✓");
        }
    }

    static void testClientSettings() throws Exception {
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
        try (OcrClient client = OcrClient.withToken("http://192.0.2.1:9", "token")) {
            OcrException e = fails(OcrCode.INVALID_ARGUMENT, () -> client.fetch("x"));
            check(e.getMessage().contains("plain http"), e.getMessage());
        }
    }

    static void testSaveFailures() throws Exception {
        String done = fixture("{\"results\": [{\"type\": \"Pdf\", \"generate\": {\"bytes\": 5000}}]}");
        try (OcrClient client = demoClient(); OcrResult result = client.fetch(done)) {
            OcrException e = fails(OcrCode.IO, () -> result.save(0, Path.of("/nonexistent-dir/out.pdf")));
            check(e.getMessage().contains("No such file or directory"), e.getMessage());
            fails(OcrCode.INVALID_ARGUMENT, () -> result.save(1, Path.of("/tmp/never-written.pdf")));
        }
    }

    static void testThreadsShareAClientAndGetTheirOwnMessages() throws Exception {
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

    static void testClosedObjectsThrowAClearException() throws Exception {
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

    static void testClosingAClientDuringAPollWaitsForThePoll() throws Exception {
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

    static void testAFileIsSubmittedLikeItsBytes() throws Exception {
        try (OcrClient client = demoClient()) {
            String id = client.submitFile(null, samplePdf, "{\"resultType\": \"Pdf\"}");
            try (OcrResult result = client.pollUntilDone(id, fast().build())) {
                check(Arrays.equals(result.files().get(0).data(), Files.readAllBytes(samplePdf)), "the document");
            }
            OcrException e = fails(OcrCode.IO, () -> client.submitFile(null, Path.of("/no/such/file.pdf"), null));
            check(e.getMessage().contains("/no/such/file.pdf"), e.getMessage());
        }
    }

    static void testStatusFollowsTheTaskAndCancelRemovesIt() throws Exception {
        try (OcrClient client = demoClient()) {
            String id = client.submit(null, Files.readAllBytes(samplePdf), null);
            TaskStatus early = client.taskStatus(null, id);
            check(early == TaskStatus.PENDING || early == TaskStatus.PROCESSING, "early: " + early);
            client.pollUntilDone(id, fast().build()).close();
            equal(client.taskStatus("RecognizePdf", id), TaskStatus.COMPLETED);
            client.cancelTask(null, id);
            equal(client.taskStatus(null, id), TaskStatus.NOT_EXIST);
            equal(client.taskStatus(null, "no-such-task"), TaskStatus.NOT_EXIST);
            fails(OcrCode.INVALID_ARGUMENT, () -> client.cancelTask(null, null));
        }
    }

    static void testPollManyGivesEachTaskItsResultOrError() throws Exception {
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

    static void testACallCancelledFromAnotherThreadEndsPromptly() throws Exception {
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

    static void testATimeoutEndsACallWithTimeout() throws Exception {
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

    static void testCallOptionsWithinTheirLimitsAndIntegerValidation() throws Exception {
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

    static void testPollManyGivesEachFailedTaskItsOwnMessage() throws Exception {
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

    static void testPollManyIsCancelledAsAWhole() throws Exception {
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

    static void testPollUntilDoneAsyncCompletesWithTheResultOrTheError() throws Exception {
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

    static void testCancellingTheFutureCancelsTheNativePoll() throws Exception {
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

    static void testResultsCanBeWrittenToFiles() throws Exception {
        byte[] pdf = Files.readAllBytes(samplePdf);
        Path dir = Files.createTempDirectory("ocrcloud-java-dir");
        try (OcrClient client = demoClient()) {
            String id = client.submit(null, pdf, "{\"resultType\": \"TextAndPdf\"}");
            try (OcrResult result = client.pollUntilDoneToDir(null, id, fast().progress((t, s, a) -> {}).build(), dir)) {
                equal(result.files().size(), 2);
                equal(result.files().get(0).path(), dir.resolve(id + ".txt"));
                OcrFile file = result.files().get(1);
                equal(file.type(), "Pdf");
                equal(file.path(), dir.resolve(id + ".pdf"));
                equal(file.size(), (long) pdf.length);
                equal(file.data(), null);
                check(Arrays.equals(Files.readAllBytes(file.path()), pdf), "the written file is the document");
            }
            try (OcrResult result = client.fetchToDir("RecognizePdf", id, dir)) {
                equal(result.status(), TaskStatus.COMPLETED);
            }
            try (var files = Files.list(dir)) {
                equal(files.map(p -> p.getFileName().toString()).sorted().toList(), List.of(id + ".pdf", id + ".txt"));
            }
            fails(OcrCode.IO, () -> client.fetchToDir(null, id, dir.resolve("missing")));
            try (OcrResult result = client.fetch(id)) {
                for (OcrFile file : result.files()) {
                    equal(file.path(), null);
                    equal(file.size(), (long) file.data().length);
                }
            }
        } finally {
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(dir);
        }
    }

    static void testLogLinesReachAHandler() throws Exception {
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

    static void testNoMemoryGrowthOverCreateFreeCycles() throws Exception {
        String small = fixture("{\"results\": [{\"type\": \"Pdf\", \"generate\": {\"bytes\": 1024}}]}");
        Body clients = () -> {
            try (OcrClient client = OcrClient.withCredentials(url, "demo", "demo-secret")) {
                client.setUserAgent("cycle");
            }
        };
        try (OcrClient client = demoClient()) {
            Body results = () -> {
                try (OcrResult result = client.fetch(small)) {
                    check(result.files().get(0).data().length == 1024, "1 KiB");
                }
            };
            for (Body cycle : List.of(clients, results)) {
                for (int i = 0; i < 5_000; i++) {
                    cycle.run();
                }
                long before = rss();
                for (int i = 0; i < 10_000; i++) {
                    cycle.run();
                }
                long after = rss();
                String name = cycle == clients ? "clients" : "results";
                System.out.printf("  10000 %s: RSS %.1f MiB -> %.1f MiB (%+d KiB)%n", name, before / 1048576.0,
                        after / 1048576.0, (after - before) / 1024);
                check(after - before < 4 * 1024 * 1024, name + ": RSS grew by " + (after - before) / 1024 + " KiB");
            }
        }
    }

    // ---- HTTPS: the emulator's CA is trusted only when the client is told to ----

    static OcrClient httpsClient() {
        return OcrClient.withCredentials(tlsUrl, "demo", "demo-secret");
    }

    /** Submit, poll and fetch over HTTPS. */
    static void httpsRoundTrip(OcrClient client) throws Exception {
        byte[] pdf = Files.readAllBytes(samplePdf);
        String id = client.submit(null, pdf, "{\"resultType\":\"TextAndPdf\"}");
        try (OcrResult polled = client.pollUntilDone(id, fast().build())) {
            equal(polled.status(), TaskStatus.COMPLETED);
            check(polled.files().get(0).text().contains("Hello from ocrcloud!"), polled.files().get(0).text());
        }
        try (OcrResult fetched = client.fetch(null, id)) {
            check(Arrays.equals(fetched.files().get(1).data(), pdf), "the Pdf result is the document");
        }
    }

    static void testHttpsAnUntrustedCertificateIsATlsError() throws Exception {
        check(tlsUrl.startsWith("https://"), tlsUrl);
        try (OcrClient client = httpsClient()) {
            long started = System.nanoTime();
            OcrException e = fails(OcrCode.TLS, () -> client.fetch("x"));
            check(e.getMessage().contains("not trusted"), e.getMessage());
            check(System.nanoTime() - started < 2_000_000_000L, "not retried");
        }
        // The plain emulator's port does not speak TLS.
        try (OcrClient client = OcrClient.withToken(url.replaceFirst("^http://", "https://"), "t")) {
            client.setMaxAttempts(1);
            fails(OcrCode.TLS, () -> client.fetch("x"));
        }
    }

    static void testHttpsCaFileTrustsTheEmulatorsCa() throws Exception {
        try (OcrClient client = httpsClient()) {
            client.setCaFile(caFile);
            httpsRoundTrip(client);
            client.setCaFile(null); // back to the default: untrusted again
            fails(OcrCode.TLS, () -> client.fetch("x"));
        }
    }

    static void testHttpsCaPemTrustsTheSameBytes() throws Exception {
        try (OcrClient client = httpsClient()) {
            client.setCaPem(Files.readAllBytes(caFile));
            httpsRoundTrip(client);
            client.setCaPem(null);
            fails(OcrCode.TLS, () -> client.fetch("x"));
        }
    }

    static void testHttpsABadCaIsAnInvalidArgumentAndChangesNothing() throws Exception {
        Path dir = Files.createTempDirectory("ocrcloud-java-ca");
        Path empty = Files.writeString(dir.resolve("empty.pem"), "no certificate here\n");
        try (OcrClient client = httpsClient()) {
            client.setCaFile(caFile);
            for (Path bad : List.of(dir.resolve("missing.pem"), empty, samplePdf)) {
                OcrException e = fails(OcrCode.INVALID_ARGUMENT, () -> client.setCaFile(bad));
                check(e.getMessage().contains(bad.toString()), e.getMessage());
            }
            fails(OcrCode.INVALID_ARGUMENT, () -> client.setCaPem(new byte[0]));
            fails(OcrCode.INVALID_ARGUMENT,
                    () -> client.setCaPem("-----BEGIN NOTHING-----\n".getBytes(StandardCharsets.UTF_8)));
            try (OcrResult result = client.fetch("x")) { // the CA given first is still trusted
                equal(result.status(), TaskStatus.NOT_EXIST);
            }
        } finally {
            Files.delete(empty);
            Files.delete(dir);
        }
    }

    static void testHttpsProxies() throws Exception {
        try (OcrClient client = httpsClient()) {
            client.setCaFile(caFile);
            for (String bad : List.of("socks5://x:1", "socks4://x:1", "ftp://x:1", "x:1")) {
                OcrException e = fails(OcrCode.INVALID_ARGUMENT, () -> client.setProxy(bad));
                check(e.getMessage().contains(bad), e.getMessage());
            }
            // A loopback base URL never goes through a proxy, even one that does not exist.
            client.setProxy("http://127.0.0.1:9");
            try (OcrResult result = client.fetch("x")) {
                equal(result.status(), TaskStatus.NOT_EXIST);
            }
            client.setProxy("");
            client.setProxy(null);
            try (OcrResult result = client.fetch("x")) {
                equal(result.status(), TaskStatus.NOT_EXIST);
            }
        }
    }

    static void writeFile(Path path, String text) throws IOException {
        Files.createDirectories(path.getParent());
        Files.writeString(path, text);
    }

    /** A folder of three small PDFs run to the end, then skipped by a second batch that sends nothing. */
    static void testBatchRunsAFolderThenSkipsIt() throws Exception {
        equal(Arrays.stream(BatchState.values()).collect(java.util.stream.Collectors.toMap(
                BatchState::name, BatchState::ordinal, (a, b) -> a, TreeMap::new)), defines("OCR_BATCH_"));
        Path dir = Files.createTempDirectory("ocrcloud-java-batch");
        Path in = dir.resolve("in"), out = dir.resolve("out");
        List<String> names = List.of("a", "b", "sub/c");
        for (String name : names) {
            writeFile(in.resolve(name + ".pdf"), "%PDF-1.4\n% " + name + "\n");
        }
        String text = "{\"resultType\":\"Text\"}";
        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        try (OcrClient client = demoClient(); Batch batch = Batch.open(client, null, out)) {
            equal(batch.addFolder(in, null, text), 3);
            OcrException inUse = fails(OcrCode.IO, () -> Batch.open(client, null, out));
            check(inUse.getMessage().contains("in use"), inUse.getMessage());
            batch.run(4, fast().build(), (index, state) -> seen.add(index + " " + state));
            equal(batch.size(), 3);
            equal(batch.count(BatchState.COMPLETED), 3);
            equal(batch.count(BatchState.FAILED), 0);
            for (int i = 0; i < names.size(); i++) {
                BatchItem item = batch.item(i);
                Path output = out.resolve(names.get(i) + ".txt");
                equal(item.path(), in.resolve(names.get(i) + ".pdf"));
                equal(item.state(), BatchState.COMPLETED);
                equal(item.code(), null);
                equal(item.message(), "");
                equal(item.outputs(), List.of(output));
                check(Files.isRegularFile(output), output.toString());
                check(item.taskId() != null && !item.skipped() && item.seconds() >= 0 && item.possibleDuplicates() == 0,
                        item.toString());
                equal(Collections.frequency(seen, i + " COMPLETED"), 1);
            }
            throwsType(IndexOutOfBoundsException.class, () -> batch.item(3));
            throwsType(IndexOutOfBoundsException.class, () -> batch.item(-1));
        }
        long before = requests();
        try (OcrClient client = demoClient(); Batch again = Batch.open(client, null, out)) {
            equal(again.addFolder(in, null, text), 3);
            again.run(0, null, null);
            for (int i = 0; i < 3; i++) {
                check(again.item(i).skipped() && again.item(i).state() == BatchState.COMPLETED, again.item(i).toString());
            }
        }
        equal(requests(), before);
    }

    static void testBatchFailuresAndBadArguments() throws Exception {
        Path dir = Files.createTempDirectory("ocrcloud-java-batch-bad");
        Path in = dir.resolve("in"), out = dir.resolve("out");
        writeFile(in.resolve("empty.pdf"), "");
        writeFile(in.resolve("one.pdf"), "%PDF-1.4\n% one\n");
        Files.createDirectories(in.resolve("nothing"));
        OcrClient client = demoClient();
        Batch batch = Batch.open(client, dir.resolve("journal.sqlite"), out);
        batch.addFile(in.resolve("empty.pdf"), null, null, null);
        batch.addFile(in.resolve("one.pdf"), in, null, null);
        fails(OcrCode.INVALID_ARGUMENT, () -> batch.addFile(null, null, null, null));
        fails(OcrCode.INVALID_ARGUMENT, () -> batch.addFolder(null, null, null));
        fails(OcrCode.INVALID_ARGUMENT, () -> Batch.open(client, null, null));
        fails(OcrCode.INVALID_ARGUMENT, () -> batch.addFile(in.resolve("one.pdf"), null, "Nope", null));
        fails(OcrCode.INVALID_ARGUMENT, () -> batch.addFile(in.resolve("one.pdf"), null, null, "[1]"));
        fails(OcrCode.INVALID_ARGUMENT, () -> batch.addFolder(in.resolve("nothing"), null, null));
        refused("jobs", () -> batch.run(-1, null, null));
        refused("settingsJson", () -> batch.addFile(in.resolve("one.pdf"), null, null, "\0"));
        equal(batch.size(), 2);
        equal(batch.item(0).state(), BatchState.FAILED);
        batch.run(2, fast().build(), null);
        equal(batch.count(BatchState.FAILED), 1);
        equal(batch.count(BatchState.COMPLETED), 1);
        BatchItem empty = batch.item(0);
        equal(empty.code(), OcrCode.INVALID_ARGUMENT);
        check(empty.message().contains("empty") && empty.outputs().isEmpty() && empty.taskId() == null, empty.toString());
        equal(batch.item(1).outputs(), List.of(out.resolve("one.pdf")));
        equal(Files.readString(out.resolve("one.pdf")), "%PDF-1.4\n% one\n");
        // The batch keeps its client: closing the client first frees it only with the batch.
        client.close();
        equal(batch.size(), 2);
        batch.close();
        batch.close();
        equal(throwsType(IllegalStateException.class, batch::size).getMessage(), "Batch is closed");
        throwsType(IllegalStateException.class, () -> Batch.open(client, null, out));
    }

    /** A listener's exception stops the run through a cancel token and is thrown by the run. */
    static void testBatchListenerExceptionStopsTheRun() throws Exception {
        Path dir = Files.createTempDirectory("ocrcloud-java-batch-throw");
        Path in = dir.resolve("in"), out = dir.resolve("out");
        for (String name : List.of("a", "b", "c", "d")) {
            writeFile(in.resolve(name + ".pdf"), "%PDF-1.4\n% " + name + "\n");
        }
        try (OcrClient client = demoClient(); CancelToken token = new CancelToken()) {
            for (PollOptions options : Arrays.asList(null, fast().cancelToken(token).build())) {
                try (Batch batch = Batch.open(client, null, out)) {
                    batch.addFolder(in, null, null);
                    IllegalStateException e = throwsType(IllegalStateException.class, () -> batch.run(1, options,
                            (index, state) -> { throw new IllegalStateException("stop the batch"); }));
                    equal(e.getMessage(), "stop the batch");
                    check(batch.count(BatchState.COMPLETED) < 4, "stopped early");
                }
            }
            fails(OcrCode.CANCELLED, () -> client.pollUntilDone("any", fast().cancelToken(token).build()));
            try (Batch batch = Batch.open(client, null, out)) {
                batch.addFolder(in, null, null);
                batch.run(2, fast().build(), null);
                equal(batch.count(BatchState.COMPLETED), 4);
            }
        }
    }

    static void testTheSampleProgramRuns() throws Exception {
        Path out = Files.createTempDirectory("ocrcloud-java-sample");
        Process process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                "-Djna.library.path=" + System.getProperty("jna.library.path"),
                "Sample", url, samplePdf.toString(), out.toString())
                .redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        equal(process.waitFor(), 0);
        check(output.contains("poll  1: task ") && output.contains("is Completed"), output);
        check(output.contains("Hello from ocrcloud!"), output);
        try (var files = Files.list(out)) {
            List<Path> saved = files.sorted().toList();
            equal(saved.size(), 2);
            for (Path p : saved) {
                Files.delete(p);
            }
        }
        Files.delete(out);
    }

    /**
     * The jar of build-jar.sh (-Docrcloud.jar) runs the sample from a folder of its own with only
     * ocrcloud.jar and jna.jar on the classpath, no library path and no environment variable.
     */
    static void testTheJarRunsTheSampleWithNoLibraryPath() throws Exception {
        Path folder = Files.createTempDirectory("ocrcloud-java-jar");
        Files.copy(Path.of(System.getProperty("ocrcloud.jar")), folder.resolve("ocrcloud.jar"));
        Files.copy(Path.of(System.getProperty("ocrcloud.jna")), folder.resolve("jna.jar"));
        Files.copy(Path.of(System.getProperty("ocrcloud.sample")), folder.resolve("Sample.java"));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String usage = runIn(folder, 2, java, "-cp", "ocrcloud.jar:jna.jar", "Sample.java");
        equal(usage, "usage: java Sample BASE_URL PDF OUTPUT_DIR\n");
        String output = runIn(folder, 0, java, "-cp", "ocrcloud.jar:jna.jar", "Sample.java", url, samplePdf.toString(),
                "out-java");
        check(output.contains("Hello from ocrcloud!"), output);
        try (var files = Files.list(folder.resolve("out-java"))) {
            equal(files.map(p -> p.getFileName().toString().replaceAll(".*[.]", "")).sorted().toList(),
                    List.of("pdf", "txt"));
        }
        try (var walk = Files.walk(folder)) {
            for (Path p : walk.sorted(Collections.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /** Runs {@code command} in {@code folder} with only PATH in its environment; answers its output. */
    static String runIn(Path folder, int expectedStatus, String... command) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(command).directory(folder.toFile()).redirectErrorStream(true);
        String path = builder.environment().get("PATH");
        builder.environment().clear();
        builder.environment().put("PATH", path);
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        equal(process.waitFor(), expectedStatus);
        return output;
    }
}

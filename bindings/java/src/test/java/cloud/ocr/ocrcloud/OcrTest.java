package cloud.ocr.ocrcloud;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * What the binding's tests share: the emulators of {@link EmulatorExtension} ({@code url} plain,
 * {@code tlsUrl} over HTTPS with the CA in {@code caFile}, both with --pending-ms 100
 * --processing-ms 100), the repository's sample PDF and header, and small helpers. A test class
 * per topic extends it; its tests are JUnit 5 {@code @Test} methods (named *IT.java: Failsafe runs
 * them after the jar is packed).
 */
@ExtendWith(EmulatorExtension.class)
abstract class OcrTest {
    /** The repository's root (system property ocrcloud.repo, set by pom.xml). */
    static final Path REPO = Path.of(System.getProperty("ocrcloud.repo", "../.."));
    static final Path samplePdf = REPO.resolve("examples/sample.pdf");
    static final String header = readHeader();
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static String url;
    static String tlsUrl;
    static Path caFile;

    @BeforeAll
    static void findTheEmulators() {
        EmulatorExtension.Emulators emulators = EmulatorExtension.emulators();
        url = emulators.plain().url();
        tlsUrl = emulators.tls().url();
        caFile = emulators.caFile();
    }

    private static String readHeader() {
        try {
            return Files.readString(REPO.resolve("include/ocrcloud.h"));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The jar file or classes folder that {@code type} was loaded from. */
    static Path locationOf(Class<?> type) {
        try {
            return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static void check(boolean condition, String what) {
        Assertions.assertTrue(condition, what);
    }

    static void equal(Object actual, Object expected) {
        Assertions.assertEquals(expected, actual);
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

    /** The base URL of a loopback port that nothing listens on: connections are refused. */
    static String deadUrl() throws IOException {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return "http://127.0.0.1:" + probe.getLocalPort();
        }
    }

    static Map<String, Integer> defines(String prefix) {
        Map<String, Integer> found = new TreeMap<>();
        Matcher m = Pattern.compile("#define " + prefix + "(\\w+) (\\d+)").matcher(header);
        while (m.find()) {
            found.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        return found;
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

    static void writeFile(Path path, String text) throws IOException {
        Files.createDirectories(path.getParent());
        Files.writeString(path, text);
    }
}

package cloud.ocr.ocrcloud;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

/** HTTPS: the emulator's CA is trusted only when the client is told to. */
class HttpsIT extends OcrTest {
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

    @Test
    void httpsAnUntrustedCertificateIsATlsError() throws Exception {
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

    @Test
    void httpsCaFileTrustsTheEmulatorsCa() throws Exception {
        try (OcrClient client = httpsClient()) {
            client.setCaFile(caFile);
            httpsRoundTrip(client);
            client.setCaFile(null); // back to the default: untrusted again
            fails(OcrCode.TLS, () -> client.fetch("x"));
        }
    }

    @Test
    void httpsCaPemTrustsTheSameBytes() throws Exception {
        try (OcrClient client = httpsClient()) {
            client.setCaPem(Files.readAllBytes(caFile));
            httpsRoundTrip(client);
            client.setCaPem(null);
            fails(OcrCode.TLS, () -> client.fetch("x"));
        }
    }

    @Test
    void httpsABadCaIsAnInvalidArgumentAndChangesNothing() throws Exception {
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

    @Test
    void httpsProxies() throws Exception {
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
}

package cloud.ocr.ocrcloud;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Starts the two emulators that the tests share, once per test run, and stops them when the run
 * ends (they live in the root context's store): a plain one and one over HTTPS with a CA of its
 * own (--tls-self-signed), both with --pending-ms 100 --processing-ms 100. The binary is the
 * system property ocrcloud.emulator (pom.xml); their output goes to emulator-plain.log and
 * emulator-tls.log (and their process ids to .pid files) in the folder of the system property
 * ocrcloud.logs (pom.xml: target/).
 */
public final class EmulatorExtension implements BeforeAllCallback {
    /** The emulators of this run and the CA file of the HTTPS one. */
    record Emulators(Emulator plain, Emulator tls, Path caFile) implements AutoCloseable {
        @Override
        public void close() throws java.io.IOException {
            try {
                plain.close();
            } finally {
                tls.close();
                Files.deleteIfExists(caFile);
            }
        }
    }

    private static volatile Emulators running;

    @Override
    public void beforeAll(ExtensionContext context) {
        running = context.getRoot().getStore(ExtensionContext.Namespace.create(EmulatorExtension.class))
                .getOrComputeIfAbsent(Emulators.class, key -> start(), Emulators.class);
    }

    /** The emulators started for this run (after the extension's beforeAll). */
    static Emulators emulators() {
        return running;
    }

    private static Emulators start() {
        String binary = System.getProperty("ocrcloud.emulator");
        if (binary == null || !Files.isExecutable(Path.of(binary))) {
            throw new IllegalStateException("no emulator at " + binary
                    + " (build it with cargo build, or pass -Docrcloud.emulator=PATH)");
        }
        Path logs = Path.of(System.getProperty("ocrcloud.logs", System.getProperty("java.io.tmpdir")));
        Emulator plain = null;
        try {
            Path caFile = Files.createTempFile("ocrcloud-java-emulator-ca", ".pem");
            plain = new Emulator(Path.of(binary), logs, "plain",
                    "--pending-ms", "100", "--processing-ms", "100");
            Emulator tls = new Emulator(Path.of(binary), logs, "tls",
                    "--pending-ms", "100", "--processing-ms", "100", "--tls-self-signed", caFile.toString());
            return new Emulators(plain, tls, caFile);
        } catch (Exception e) {
            if (plain != null) {
                plain.close();
            }
            throw new IllegalStateException("the emulator did not start: " + e, e);
        }
    }
}

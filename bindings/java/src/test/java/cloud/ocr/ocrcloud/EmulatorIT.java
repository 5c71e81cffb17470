package cloud.ocr.ocrcloud;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;

/**
 * The emulators the tests start die with the JVM that started them, also when it is killed
 * (SIGKILL, no shutdown hook): `mvn -B verify` has no script around it to end them.
 */
class EmulatorIT {
    @Test
    void anEmulatorDiesWithTheJvmThatStartedIt() throws Exception {
        Path folder = Files.createTempDirectory("ocrcloud-java-orphan");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process jvm = new ProcessBuilder(java, "-cp", OcrTest.locationOf(Emulator.class).toString(),
                Emulator.class.getName(), System.getProperty("ocrcloud.emulator"), folder.toString())
                .redirectErrorStream(true).start();
        String line = new BufferedReader(new InputStreamReader(jvm.getInputStream(), StandardCharsets.UTF_8))
                .readLine();
        Assertions.assertTrue(line != null && line.startsWith("emulator "), String.valueOf(line));
        ProcessHandle emulator = ProcessHandle.of(Long.parseLong(line.substring("emulator ".length())))
                .orElseThrow();
        jvm.destroyForcibly();
        jvm.waitFor();
        try {
            // Bounded only so that a leak fails instead of hanging: the emulator ends at once.
            emulator.onExit().get(60, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            emulator.destroyForcibly();
            Assertions.fail("the emulator " + emulator.pid() + " outlived the JVM that started it");
        } finally {
            try (var walk = Files.walk(folder)) {
                for (Path p : walk.sorted(Collections.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }
}

package cloud.ocr.ocrcloud;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The sample program, compiled with the tests, and the jar of `mvn package` running it. */
class SampleIT extends OcrTest {
    /** The compiled sample (examples/ is a test source folder), the binding and JNA. */
    static String sampleClassPath() {
        return String.join(java.io.File.pathSeparator, locationOf(OcrTest.class).toString(),
                locationOf(OcrClient.class).toString(), locationOf(com.sun.jna.Native.class).toString());
    }

    @Test
    void theSampleProgramRuns() throws Exception {
        Path out = Files.createTempDirectory("ocrcloud-java-sample");
        Process process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", sampleClassPath(),
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
     * The jar of `mvn package` (system property ocrcloud.jar) runs the sample from a folder of its
     * own with only ocrcloud.jar and jna.jar on the classpath, no library path and no environment
     * variable.
     */
    @Test
    void theJarRunsTheSampleWithNoLibraryPath() throws Exception {
        Path folder = Files.createTempDirectory("ocrcloud-java-jar");
        Files.copy(Path.of(System.getProperty("ocrcloud.jar")), folder.resolve("ocrcloud.jar"));
        Files.copy(locationOf(com.sun.jna.Native.class), folder.resolve("jna.jar"));
        Files.copy(REPO.resolve("bindings/java/examples/Sample.java"), folder.resolve("Sample.java"));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String usage = runIn(folder, 1, java, "-cp", "ocrcloud.jar:jna.jar", "Sample.java");
        equal(usage, "usage: java Sample BASE_URL [PDF [OUTPUT_DIR]]\n");
        String output = runIn(folder, 0, java, "-cp", "ocrcloud.jar:jna.jar", "Sample.java", url, samplePdf.toString());
        check(output.contains("Hello from ocrcloud!"), output);
        try (var files = Files.list(folder.resolve("out"))) {
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

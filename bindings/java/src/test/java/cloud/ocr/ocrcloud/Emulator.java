package cloud.ocr.ocrcloud;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One running ocrcloud-emulator on a free loopback port (what scripts/start-emulator.sh does for
 * the shell tests): started with {@code --listen 127.0.0.1:0} and the flags given, its URL read
 * from its first line ("listening on URL"); {@link #close} stops it. Its later output goes to
 * {@code folder/emulator-NAME.log}; {@code folder/emulator-NAME.pid} holds its process id while it
 * runs, for bindings/java/test.sh to end it should this JVM die without closing it.
 */
final class Emulator implements AutoCloseable {
    private final Process process;
    private final String url;

    private final Path pidFile;

    Emulator(Path binary, Path folder, String name, String... flags) throws IOException {
        Path log = folder.resolve("emulator-" + name + ".log");
        pidFile = folder.resolve("emulator-" + name + ".pid");
        List<String> command = new ArrayList<>(List.of(binary.toString(), "--listen", "127.0.0.1:0"));
        command.addAll(List.of(flags));
        process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.PIPE).start();
        Files.writeString(pidFile, process.pid() + "\n");
        BufferedReader output = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        String first = output.readLine();
        if (first == null || !first.startsWith("listening on ")) {
            close();
            throw new IOException(command + " did not start: " + first);
        }
        url = first.substring("listening on ".length());
        // Drain the rest into the log, so that a full pipe never stalls the emulator.
        Thread drain = new Thread(() -> {
            try (var out = Files.newBufferedWriter(log, StandardCharsets.UTF_8)) {
                for (String line; (line = output.readLine()) != null; ) {
                    out.write(line);
                    out.newLine();
                }
            } catch (IOException ended) {
                // the emulator stopped
            }
        }, "emulator-log");
        drain.setDaemon(true);
        drain.start();
    }

    /** The base URL, {@code http://127.0.0.1:PORT} or {@code https://...}. */
    String url() {
        return url;
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        try {
            Files.deleteIfExists(pidFile);
        } catch (IOException e) {
            // test.sh's kill then finds no such process
        }
    }
}

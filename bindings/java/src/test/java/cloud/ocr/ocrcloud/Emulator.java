package cloud.ocr.ocrcloud;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * One running ocrcloud-emulator on a free loopback port (what scripts/start-emulator.sh does for
 * the shell tests): started with {@code --listen 127.0.0.1:0} and the flags given, its URL read
 * from its first line ("listening on URL"); {@link #close} stops it. Its later output goes to
 * {@code folder/emulator-NAME.log}; {@code folder/emulator-NAME.pid} holds its process id while it
 * runs, for bindings/java/test.sh to end it should this JVM die without closing it; the kernel
 * ends it too when this JVM dies (setpriv --pdeathsig), so that a bare `mvn verify` whose test JVM
 * is killed leaves no emulator behind.
 */
final class Emulator implements AutoCloseable {
    /** The one thread that starts emulators; it never ends before the JVM does. */
    private static final ExecutorService LAUNCHER = Executors.newSingleThreadExecutor(task -> {
        Thread thread = new Thread(task, "emulator-launcher");
        thread.setDaemon(true);
        return thread;
    });

    private final Process process;
    private final String url;

    private final Path pidFile;

    Emulator(Path binary, Path folder, String name, String... flags) throws IOException {
        Path log = folder.resolve("emulator-" + name + ".log");
        pidFile = folder.resolve("emulator-" + name + ".pid");
        // setpriv (util-linux) asks the kernel to send the emulator SIGTERM when the thread that
        // started it ends: LAUNCHER's thread, which lives as long as this JVM, also one killed
        // with SIGKILL, after which no Java code runs to stop it.
        List<String> command = new ArrayList<>(List.of("setpriv", "--pdeathsig", "TERM", "--",
                binary.toString(), "--listen", "127.0.0.1:0"));
        command.addAll(List.of(flags));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.PIPE);
        try {
            process = LAUNCHER.submit(builder::start).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while starting " + command, e);
        } catch (ExecutionException e) {
            throw new IOException(command + " did not start: " + e.getCause(), e.getCause());
        }
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

    /**
     * Starts one emulator in FOLDER, prints "emulator PID" and waits to be killed: the JVM that
     * EmulatorIT kills. Usage: Emulator BINARY FOLDER.
     */
    public static void main(String[] args) throws Exception {
        Emulator emulator = new Emulator(Path.of(args[0]), Path.of(args[1]), "probe");
        System.out.println("emulator " + emulator.process.pid());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
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

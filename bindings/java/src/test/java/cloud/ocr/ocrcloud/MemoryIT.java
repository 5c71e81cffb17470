package cloud.ocr.ocrcloud;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

/** No memory growth over create/free cycles (the JVM flags it needs: argLine in pom.xml). */
class MemoryIT extends OcrTest {
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

    @Test
    void noMemoryGrowthOverCreateFreeCycles() throws Exception {
        // The figures mean something only with the JVM flags of pom.xml's argLine.
        List<String> flags = java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments();
        check(flags.containsAll(List.of("-Xms64m", "-Xmx64m", "-XX:TieredStopAtLevel=1", "-XX:+AlwaysPreTouch")),
                "run with pom.xml's argLine: " + flags);
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
}

package cloud.ocr.ocrcloud;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

/** A shared batch (ocr_batch_open_shared) on a PostgreSQL of its own (scripts/postgres.sh). */
class SharedBatchIT extends OcrTest {
    /** Runs scripts/postgres.sh with args; answers its output, failing on a non-zero status. */
    private static String postgres(String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>();
        command.add(REPO.resolve("scripts/postgres.sh").toString());
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        check(process.waitFor() == 0, "postgres.sh " + args[0]);
        return out;
    }

    /** A shared batch runs to the end, a second worker finds nothing left, no message shows the password. */
    @Test
    void aSharedBatchRunsAndNoMessageShowsThePassword() throws Exception {
        Path pg = Path.of("/tmp", "ocrcloud-pg-java-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        String pgUrl = postgres("start", pg.toString(), Long.toString(ProcessHandle.current().pid()));
        try {
            String password = pgUrl.substring(pgUrl.indexOf(':', 13) + 1, pgUrl.indexOf('@'));
            Path dir = Files.createTempDirectory("ocrcloud-java-shared");
            Path in = dir.resolve("in"), out = dir.resolve("out");
            writeFile(in.resolve("a.pdf"), "%PDF-1.4\n% shared a\n");
            writeFile(in.resolve("sub/b.pdf"), "%PDF-1.4\n% shared b\n");
            String text = "{\"resultType\":\"Text\"}";
            try (OcrClient client = demoClient()) {
                try (Batch batch = Batch.openShared(client, pgUrl, "java", out)) {
                    equal(batch.addFolder(in, null, text), 2);
                    batch.run(2, fast().build(), null);
                    equal(batch.count(BatchState.COMPLETED), 2);
                    equal(batch.item(1).outputs(), List.of(out.resolve("sub/b.txt")));
                }
                try (Batch again = Batch.openShared(client, pgUrl, "java", out)) {
                    again.addFolder(in, null, text);
                    again.run(0, null, null);
                    check(again.item(0).skipped() && again.item(1).skipped(), "a second worker finds nothing left");
                }
                fails(OcrCode.INVALID_ARGUMENT, () -> Batch.openShared(client, "mysql://u@h/d", "java", out));
                String wrong = pgUrl.replace(":" + password + "@", ":Java-Wrong-Password-29@");
                OcrException refused = fails(OcrCode.IO, () -> Batch.openShared(client, wrong, "java", out));
                check(!refused.getMessage().contains("Java-Wrong-Password-29")
                        && !refused.getMessage().contains(password), refused.getMessage());
                throwsType(NullPointerException.class, () -> Batch.openShared(null, pgUrl, "java", out));
            }
        } finally {
            postgres("remove", pg.toString());
        }
    }
}

package cloud.ocr.ocrcloud;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;

/** Batches: a folder run to the end and skipped, failures, a listener that throws. */
class BatchIT extends OcrTest {
    /** A folder of three small PDFs run to the end, then skipped by a second batch that sends nothing. */
    @Test
    void batchRunsAFolderThenSkipsIt() throws Exception {
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

    @Test
    void batchFailuresAndBadArguments() throws Exception {
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
    @Test
    void batchListenerExceptionStopsTheRun() throws Exception {
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
}

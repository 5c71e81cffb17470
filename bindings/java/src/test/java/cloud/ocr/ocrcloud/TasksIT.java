package cloud.ocr.ocrcloud;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

import org.junit.jupiter.api.Test;

/** Submitting, polling, fetching and saving against the plain emulator. */
class TasksIT extends OcrTest {
    @Test
    void submittedDocumentComesBackByteForByte() throws Exception {
        byte[] pdf = Files.readAllBytes(samplePdf);
        try (OcrClient client = demoClient()) {
            String id = client.submit("RecognizePdf", pdf, "{\"resultType\":\"TextAndPdf\"}");
            try (OcrResult polled = client.pollUntilDone(id, fast().build())) {
                equal(polled.status(), TaskStatus.COMPLETED);
            }
            try (OcrResult result = client.fetch("recognizepdf", id)) {
                equal(result.status(), TaskStatus.COMPLETED);
                equal(result.statusText(), "Completed");
                equal(result.responseStatus(), "Ok");
                equal(result.id(), id);
                equal(result.files().size(), 2);
                equal(result.files().get(0).type(), "Text");
                check(result.files().get(0).text().contains("Hello from ocrcloud!"), result.files().get(0).text());
                equal(result.files().get(1).type(), "Pdf");
                check(Arrays.equals(result.files().get(1).data(), pdf), "the Pdf result is the submitted document");
                equal(result.messages(), List.of());
                equal(result.warnings(), List.of());

                Path dir = Files.createTempDirectory("ocrcloud-java");
                Path saved = dir.resolve("out.pdf");
                result.save(1, saved);
                check(Arrays.equals(Files.readAllBytes(saved), pdf), "the saved file is the document");
                Files.delete(saved);
                Files.delete(dir);
            }
        }
    }

    @Test
    void pollReportsProgressUntilCompleted() throws Exception {
        record Report(String taskId, TaskStatus status, int attempt) {}
        List<Report> reports = Collections.synchronizedList(new ArrayList<>());
        Thread caller = Thread.currentThread();
        try (OcrClient client = demoClient()) {
            String id = client.submit(null, Files.readAllBytes(samplePdf), null);
            PollOptions options = fast().progress((taskId, status, attempt) -> {
                check(Thread.currentThread() == caller, "progress runs on the polling thread");
                reports.add(new Report(taskId, status, attempt));
            }).build();
            try (OcrResult result = client.pollUntilDone("RecognizePdf", id, options)) {
                equal(result.files().get(0).type(), "Pdf");
            }
            check(reports.size() >= 3, "Pending, Processing and Completed were seen: " + reports);
            for (int i = 0; i < reports.size(); i++) {
                equal(reports.get(i).taskId(), id);
                equal(reports.get(i).attempt(), i + 1);
            }
            equal(reports.get(0).status(), TaskStatus.PENDING);
            check(reports.stream().anyMatch(r -> r.status() == TaskStatus.PROCESSING), "Processing: " + reports);
            equal(reports.get(reports.size() - 1).status(), TaskStatus.COMPLETED);
            equal(polls(id), reports.size());
        }
    }

    @Test
    void aTaskInErrorIsTaskFailedWithTheServersMessage() throws Exception {
        try (OcrClient client = demoClient()) {
            String id = client.submit("RecognizePdf", "GIF89a not a pdf".getBytes(StandardCharsets.UTF_8), null);
            OcrException e = fails(OcrCode.TASK_FAILED, () -> client.pollUntilDone(id, fast().build()));
            check(e.getMessage().contains("The document is not a PDF file."), e.getMessage());
            check(e.getMessage().contains(id), e.getMessage());
            try (OcrResult result = client.fetch(id)) {
                equal(result.status(), TaskStatus.ERROR);
                equal(result.files(), List.of());
                equal(result.messages(), List.of("The document is not a PDF file."));
            }
            String warned = fixture("{\"taskStatus\": \"Error\", \"error\": {\"messages\": [\"blank\", \"no text\"],"
                    + " \"warnings\": [\"low resolution\"]}}");
            try (OcrResult result = client.fetch(warned)) {
                equal(result.messages(), List.of("blank", "no text"));
                equal(result.warnings(), List.of("low resolution"));
            }
        }
    }

    @Test
    void anUnknownTaskIsTaskNotFound() throws Exception {
        try (OcrClient client = demoClient()) {
            OcrException e = fails(OcrCode.TASK_NOT_FOUND, () -> client.pollUntilDone("never-existed", fast().build()));
            check(e.getMessage().contains("never-existed"), e.getMessage());
            try (OcrResult result = client.fetch("never-existed")) {
                equal(result.status(), TaskStatus.NOT_EXIST);
                equal(result.id(), "never-existed");
            }
        }
    }

    @Test
    void statusesAreInformationForFetch() throws Exception {
        try (OcrClient client = demoClient()) {
            try (OcrResult result = client.fetch(fixture("{\"taskStatus\": \"Pending\"}"))) {
                equal(result.status(), TaskStatus.PENDING);
                equal(result.responseStatus(), "NotReady");
            }
            try (OcrResult result = client.fetch(fixture("{\"taskStatus\": \"Queued\"}"))) {
                equal(result.status(), TaskStatus.UNKNOWN);
                equal(result.statusText(), "Queued");
            }
        }
    }

    @Test
    void wrongTokenOrSecretIsUnauthorized() throws Exception {
        String done = fixture("{\"results\": [{\"type\": \"Text\", \"text\": \"x\"}]}");
        try (OcrClient client = OcrClient.withToken(url, "made-up-token-123")) {
            OcrException e = fails(OcrCode.UNAUTHORIZED, () -> client.fetch(done));
            check(e.getMessage().contains("401"), e.getMessage());
        }
        try (OcrClient client = OcrClient.withCredentials(url, "demo", "not-the-secret")) {
            OcrException e = fails(OcrCode.UNAUTHORIZED, () -> client.pollUntilDone(done, fast().build()));
            check(!e.getMessage().contains("not-the-secret"), e.getMessage());
        }
    }

    @Test
    void submitRefusesBadArgumentsBeforeSending() throws Exception {
        try (OcrClient client = demoClient()) {
            OcrException e = fails(OcrCode.INVALID_ARGUMENT, () -> client.submit("RecognizeEverything", new byte[1], null));
            check(e.getMessage().contains("RecognizeEverything"), e.getMessage());
            e = fails(OcrCode.INVALID_ARGUMENT, () -> client.submit(null, new byte[1], "[1]"));
            check(e.getMessage().contains("settings_json"), e.getMessage());
            String id = client.submit("RecognizePdf", new byte[0], null);
            check(!id.isEmpty(), "an empty document is a document");
            fails(OcrCode.INVALID_ARGUMENT, () -> client.fetch("a\r\nHost: evil"));
            fails(OcrCode.INVALID_ARGUMENT, () -> client.fetch(null));
            fails(OcrCode.INVALID_ARGUMENT, () -> client.fetch("Nope", "x"));
            throwsType(IllegalArgumentException.class, () -> client.fetch("a\0b"));
            fails(OcrCode.INVALID_ARGUMENT, () -> OcrClient.withToken("ftp://x", null));
            fails(OcrCode.INVALID_ARGUMENT, () -> OcrClient.withCredentials(url, null, "secret"));
        }
    }

    @Test
    void aFileIsSubmittedLikeItsBytes() throws Exception {
        try (OcrClient client = demoClient()) {
            String id = client.submitFile(null, samplePdf, "{\"resultType\": \"Pdf\"}");
            try (OcrResult result = client.pollUntilDone(id, fast().build())) {
                check(Arrays.equals(result.files().get(0).data(), Files.readAllBytes(samplePdf)), "the document");
            }
            OcrException e = fails(OcrCode.IO, () -> client.submitFile(null, Path.of("/no/such/file.pdf"), null));
            check(e.getMessage().contains("/no/such/file.pdf"), e.getMessage());
        }
    }

    @Test
    void statusFollowsTheTaskAndCancelRemovesIt() throws Exception {
        try (OcrClient client = demoClient()) {
            String id = client.submit(null, Files.readAllBytes(samplePdf), null);
            TaskStatus early = client.taskStatus(null, id);
            check(early == TaskStatus.PENDING || early == TaskStatus.PROCESSING, "early: " + early);
            client.pollUntilDone(id, fast().build()).close();
            equal(client.taskStatus("RecognizePdf", id), TaskStatus.COMPLETED);
            client.cancelTask(null, id);
            equal(client.taskStatus(null, id), TaskStatus.NOT_EXIST);
            equal(client.taskStatus(null, "no-such-task"), TaskStatus.NOT_EXIST);
            fails(OcrCode.INVALID_ARGUMENT, () -> client.cancelTask(null, null));
        }
    }

    @Test
    void resultsCanBeWrittenToFiles() throws Exception {
        byte[] pdf = Files.readAllBytes(samplePdf);
        Path dir = Files.createTempDirectory("ocrcloud-java-dir");
        try (OcrClient client = demoClient()) {
            String id = client.submit(null, pdf, "{\"resultType\": \"TextAndPdf\"}");
            try (OcrResult result = client.pollUntilDoneToDir(null, id, fast().progress((t, s, a) -> {}).build(), dir)) {
                equal(result.files().size(), 2);
                equal(result.files().get(0).path(), dir.resolve(id + ".txt"));
                OcrFile file = result.files().get(1);
                equal(file.type(), "Pdf");
                equal(file.path(), dir.resolve(id + ".pdf"));
                equal(file.size(), (long) pdf.length);
                equal(file.data(), null);
                check(Arrays.equals(Files.readAllBytes(file.path()), pdf), "the written file is the document");
            }
            try (OcrResult result = client.fetchToDir("RecognizePdf", id, dir)) {
                equal(result.status(), TaskStatus.COMPLETED);
            }
            try (var files = Files.list(dir)) {
                equal(files.map(p -> p.getFileName().toString()).sorted().toList(), List.of(id + ".pdf", id + ".txt"));
            }
            fails(OcrCode.IO, () -> client.fetchToDir(null, id, dir.resolve("missing")));
            try (OcrResult result = client.fetch(id)) {
                for (OcrFile file : result.files()) {
                    equal(file.path(), null);
                    equal(file.size(), (long) file.data().length);
                }
            }
        } finally {
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(dir);
        }
    }

    @Test
    void saveFailures() throws Exception {
        String done = fixture("{\"results\": [{\"type\": \"Pdf\", \"generate\": {\"bytes\": 5000}}]}");
        try (OcrClient client = demoClient(); OcrResult result = client.fetch(done)) {
            OcrException e = fails(OcrCode.IO, () -> result.save(0, Path.of("/nonexistent-dir/out.pdf")));
            check(e.getMessage().contains("No such file or directory"), e.getMessage());
            fails(OcrCode.INVALID_ARGUMENT, () -> result.save(1, Path.of("/tmp/never-written.pdf")));
        }
    }

    @Test
    void stringsTravelAsUtf8() throws Exception {
        String id = "ünï ✓ a b/c?d&e=f";
        fixture("{\"id\": \"" + id + "\", \"results\": [{\"type\": \"Text\", \"text\": \"héllo ✓\\n\"}]}");
        try (OcrClient client = demoClient(); OcrResult result = client.fetch(id)) {
            equal(result.id(), id);
            equal(result.files().get(0).text(), "héllo ✓\n");
            client.setUserAgent("ocrcloud-java ✓");
        }
    }
}

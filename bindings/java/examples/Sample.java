import cloud.ocr.ocrcloud.*;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Submits a PDF, polls with a progress line per answer, saves every result, prints the text.
 * Usage: Sample BASE_URL PDF OUTPUT_DIR (OUTPUT_DIR is made if missing; without arguments it
 * prints its usage and exits with 2). Credentials come from OCR_CLIENT_ID / OCR_CLIENT_SECRET
 * (the emulator's: demo / demo-secret).
 */
public class Sample {
    public static void main(String[] args) throws IOException {
        if (args.length != 3) {
            System.err.println("usage: java Sample BASE_URL PDF OUTPUT_DIR");
            System.exit(2);
        }
        String url = args[0]; // "https://api.aspose.cloud", or the emulator's URL
        Path pdf = Path.of(args[1]);
        Path outputDir = Files.createDirectories(Path.of(args[2]));
        String clientId = System.getenv().getOrDefault("OCR_CLIENT_ID", "demo");
        String secret = System.getenv().getOrDefault("OCR_CLIENT_SECRET", "demo-secret");
        try (OcrClient client = OcrClient.withCredentials(url, clientId, secret)) {
            String taskId = client.submitFile("RecognizePdf", pdf,
                    "{\"language\":\"English\",\"resultType\":\"TextAndPdf\"}");
            System.out.println("submitted " + pdf + " as task " + taskId);
            PollOptions options = PollOptions.builder()
                    .interval(Duration.ofMillis(250))
                    .backoff(1.5, Duration.ofSeconds(2))
                    .timeout(Duration.ofMinutes(1))
                    .progress((id, status, attempt) ->
                            System.out.printf("  poll %2d: task %s is %s%n", attempt, id, status))
                    .build();
            try (OcrResult result = client.pollUntilDone(taskId, options)) {
                for (int i = 0; i < result.files().size(); i++) {
                    OcrFile file = result.files().get(i);
                    String extension = switch (file.type()) {
                        case "Text" -> "txt";
                        case "Pdf" -> "pdf";
                        case "Hocr" -> "html";
                        case "JSON" -> "json";
                        default -> "bin";
                    };
                    Path path = outputDir.resolve(taskId + "." + extension);
                    result.save(i, path);
                    System.out.println("saved " + file.type() + " result (" + file.size() + " bytes) to " + path);
                    if (file.type().equals("Text")) {
                        System.out.print("---- recognized text ----\n" + file.text() + "-------------------------\n");
                    }
                }
            }
        } catch (OcrException e) {
            System.err.println("failed: " + e.code() + ": " + e.getMessage());
            System.exit(1);
        }
    }
}

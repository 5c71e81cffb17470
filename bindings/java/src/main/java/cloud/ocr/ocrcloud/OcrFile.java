package cloud.ocr.ocrcloud;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * One result file: its kind as the server sent it ({@code "Text"}, {@code "Pdf"}, {@code "Hocr"},
 * ...), its size in bytes, and either its decoded bytes ({@code data}; {@code path} null) or,
 * for results of the {@code ...ToDir} calls, the file they were written to ({@code path};
 * {@code data} null). The array is shared, not copied: do not modify it.
 */
public record OcrFile(String type, byte[] data, long size, Path path) {
    /** The bytes as UTF-8 text (for {@code Text}, {@code Hocr}, {@code JSON} results in memory). */
    public String text() {
        return new String(data, StandardCharsets.UTF_8);
    }
}

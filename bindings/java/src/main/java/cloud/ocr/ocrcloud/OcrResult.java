package cloud.ocr.ocrcloud;

import cloud.ocr.ocrcloud.OcrLibrary.ResultHandle;
import cloud.ocr.ocrcloud.OcrLibrary.SizeT;
import cloud.ocr.ocrcloud.OcrLibrary.SizeTByReference;
import com.sun.jna.Pointer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static cloud.ocr.ocrcloud.OcrLibrary.LIB;

/**
 * One answer of the service for a task: its status, result files and messages.
 *
 * <p>Everything is copied into Java objects when the result is made (the decoded files too, except
 * those that a {@code ...ToDir} call wrote to files), so the getters keep working after
 * {@link #close()}. The native result is kept only for {@link #save}, which throws
 * IllegalStateException once the result is closed: close it when you no longer need to save,
 * because until then the decoded files are held twice. A result is immutable and may be read
 * from many threads.
 */
public final class OcrResult implements AutoCloseable {
    private final TaskStatus status;
    private final String statusText;
    private final String id;
    private final String responseStatus;
    private final List<OcrFile> files;
    private final List<String> messages;
    private final List<String> warnings;
    private final NativeHandle<ResultHandle> handle;

    private OcrResult(ResultHandle result) {
        status = TaskStatus.of(LIB.ocr_result_task_status(result));
        statusText = LIB.ocr_result_task_status_text(result);
        id = LIB.ocr_result_id(result);
        responseStatus = LIB.ocr_result_response_status(result);
        List<OcrFile> fileList = new ArrayList<>();
        long count = LIB.ocr_result_count(result).longValue();
        for (long i = 0; i < count; i++) {
            SizeTByReference len = new SizeTByReference();
            Pointer data = LIB.ocr_result_data(result, new SizeT(i), len);
            String path = LIB.ocr_result_path(result, new SizeT(i));
            fileList.add(new OcrFile(LIB.ocr_result_type(result, new SizeT(i)),
                    data == null ? null : data.getByteArray(0, Math.toIntExact(len.getValue())),
                    LIB.ocr_result_size(result, new SizeT(i)), path == null ? null : Path.of(path)));
        }
        files = List.copyOf(fileList);
        List<String> messageList = new ArrayList<>();
        for (long i = 0, n = LIB.ocr_result_message_count(result).longValue(); i < n; i++) {
            messageList.add(LIB.ocr_result_message(result, new SizeT(i)));
        }
        messages = List.copyOf(messageList);
        List<String> warningList = new ArrayList<>();
        for (long i = 0, n = LIB.ocr_result_warning_count(result).longValue(); i < n; i++) {
            warningList.add(LIB.ocr_result_warning(result, new SizeT(i)));
        }
        warnings = List.copyOf(warningList);
        handle = new NativeHandle<>(this, "OcrResult", result, LIB::ocr_result_free);
    }

    /** Takes ownership of a result that a successful call answered. */
    static OcrResult take(Pointer pointer) {
        ResultHandle result = new ResultHandle(pointer);
        try {
            return new OcrResult(result);
        } catch (RuntimeException | Error e) {
            LIB.ocr_result_free(result);
            throw e;
        }
    }

    /** The task's status. */
    public TaskStatus status() {
        return status;
    }

    /** The {@code taskStatus} string exactly as the server sent it, e.g. {@code "Completed"}. */
    public String statusText() {
        return statusText;
    }

    /** The task id the server echoed; {@code ""} if it sent none. */
    public String id() {
        return id;
    }

    /** The raw {@code responseStatusCode}, e.g. {@code "Ok"}; {@code ""} if absent. */
    public String responseStatus() {
        return responseStatus;
    }

    /** The result files (empty until the task is Completed). */
    public List<OcrFile> files() {
        return files;
    }

    /** The server's {@code error.messages}: why a task failed. */
    public List<String> messages() {
        return messages;
    }

    /** The server's {@code error.warnings}. */
    public List<String> warnings() {
        return warnings;
    }

    /**
     * Writes result file {@code index} to {@code path} atomically (through a temporary file in the
     * same folder that is renamed over it). Failures are {@link OcrCode#IO} with the OS reason; an
     * index out of range is {@link OcrCode#INVALID_ARGUMENT}. Needs the result open.
     */
    public void save(int index, Path path) {
        OcrClient.nonNegative(index, "index");
        String file = OcrClient.arg(path.toString(), "path");
        handle.call(result -> {
            OcrException.check(LIB.ocr_result_save(result, new SizeT(index), file));
            return null;
        });
    }

    /** Frees the native result; idempotent. The getters keep working. */
    @Override
    public void close() {
        handle.close();
    }
}

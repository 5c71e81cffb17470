package cloud.ocr.ocrcloud;

import com.sun.jna.Callback;
import com.sun.jna.IntegerType;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.PointerType;
import com.sun.jna.ptr.ByReference;
import com.sun.jna.ptr.DoubleByReference;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import java.util.Map;

/**
 * The C API of {@code include/ocrcloud.h}, one method per function. Strings are passed and
 * answered as UTF-8. Found through {@code -Djna.library.path} (or the system's library path).
 */
interface OcrLibrary extends Library {
    OcrLibrary LIB = Native.load("ocrcloud", OcrLibrary.class,
            Map.of(Library.OPTION_STRING_ENCODING, "UTF-8"));

    /** {@code ocr_client *} */
    final class ClientHandle extends PointerType {
        public ClientHandle() {}
        ClientHandle(Pointer p) { super(p); }
    }

    /** {@code ocr_result *} */
    final class ResultHandle extends PointerType {
        public ResultHandle() {}
        ResultHandle(Pointer p) { super(p); }
    }

    /** {@code ocr_poll_options *} */
    final class PollOptionsHandle extends PointerType {
        public PollOptionsHandle() {}
    }

    /** {@code ocr_call_options *} */
    final class CallOptionsHandle extends PointerType {
        public CallOptionsHandle() {}
    }

    /** {@code ocr_cancel *} */
    final class CancelHandle extends PointerType {
        public CancelHandle() {}
    }

    /** {@code ocr_batch *} */
    final class BatchHandle extends PointerType {
        public BatchHandle() {}
        BatchHandle(Pointer p) { super(p); }
    }

    /** {@code size_t} */
    final class SizeT extends IntegerType {
        private static final long serialVersionUID = 1L;

        public SizeT() { this(0); }
        SizeT(long value) { super(Native.SIZE_T_SIZE, value, true); }
    }

    /** {@code size_t *} */
    final class SizeTByReference extends ByReference {
        public SizeTByReference() { super(Native.SIZE_T_SIZE); }
        long getValue() {
            return Native.SIZE_T_SIZE == 8 ? getPointer().getLong(0) : getPointer().getInt(0) & 0xFFFF_FFFFL;
        }
    }

    /** {@code ocr_progress_fn}; {@code taskId} is UTF-8 and valid only during the call. */
    interface ProgressFn extends Callback {
        void invoke(Pointer userData, Pointer taskId, int status, int attempt);
    }

    /** {@code ocr_batch_progress_fn}. */
    interface BatchProgressFn extends Callback {
        void invoke(Pointer userData, SizeT index, int state);
    }

    /** {@code ocr_log_fn}; {@code message} is UTF-8 and valid only during the call. */
    interface LogFn extends Callback {
        void invoke(Pointer userData, int level, Pointer message);
    }

    String ocr_version();
    String ocr_code_name(int code);
    String ocr_task_status_name(int status);
    void ocr_set_log_callback(LogFn callback, Pointer userData);
    int ocr_set_log_level(int level);
    String ocr_last_error_message();
    void ocr_string_free(Pointer s);

    int ocr_client_new(String baseUrl, String accessToken, PointerByReference out);
    int ocr_client_new_with_credentials(String baseUrl, String clientId, String clientSecret, PointerByReference out);
    void ocr_client_free(ClientHandle client);
    int ocr_client_set_connect_timeout_ms(ClientHandle client, int timeoutMs);
    int ocr_client_set_read_timeout_ms(ClientHandle client, int timeoutMs);
    int ocr_client_set_request_timeout_ms(ClientHandle client, int timeoutMs);
    int ocr_client_set_user_agent(ClientHandle client, String userAgent);
    int ocr_client_set_max_response_bytes(ClientHandle client, long maxBytes);
    int ocr_client_set_allow_insecure_http(ClientHandle client, int allow);
    int ocr_client_set_max_attempts(ClientHandle client, int attempts);
    int ocr_client_set_max_connections(ClientHandle client, int connections);
    int ocr_client_set_ca_file(ClientHandle client, String pemPath);
    int ocr_client_set_ca_pem(ClientHandle client, byte[] pem, SizeT len);
    int ocr_client_set_proxy(ClientHandle client, String proxyUrl);
    int ocr_client_set_max_rate(ClientHandle client, double perSecond);
    int ocr_client_set_circuit_breaker(ClientHandle client, int enabled);
    int ocr_client_stats(ClientHandle client, int what, DoubleByReference out);

    int ocr_submit(ClientHandle client, String operation, byte[] document, SizeT len, String settingsJson,
            PointerByReference taskIdOut);
    int ocr_submit_file(ClientHandle client, String operation, String path, String settingsJson,
            PointerByReference taskIdOut);
    int ocr_cancel_task(ClientHandle client, String operation, String taskId);
    int ocr_get_task_status(ClientHandle client, String operation, String taskId, IntByReference out);
    int ocr_submit_ex(ClientHandle client, String operation, byte[] document, SizeT len, String settingsJson,
            CallOptionsHandle call, PointerByReference taskIdOut);
    int ocr_submit_file_ex(ClientHandle client, String operation, String path, String settingsJson,
            CallOptionsHandle call, PointerByReference taskIdOut);
    int ocr_cancel_task_ex(ClientHandle client, String operation, String taskId, CallOptionsHandle call);
    int ocr_get_task_status_ex(ClientHandle client, String operation, String taskId, CallOptionsHandle call,
            IntByReference out);

    CallOptionsHandle ocr_call_options_new();
    void ocr_call_options_free(CallOptionsHandle options);
    int ocr_call_options_set_timeout_ms(CallOptionsHandle options, int timeoutMs);
    int ocr_call_options_set_cancel(CallOptionsHandle options, CancelHandle cancel);

    PollOptionsHandle ocr_poll_options_new();
    void ocr_poll_options_free(PollOptionsHandle options);
    int ocr_poll_options_set_interval_ms(PollOptionsHandle options, int firstIntervalMs);
    int ocr_poll_options_set_backoff(PollOptionsHandle options, double factor, int maxIntervalMs);
    int ocr_poll_options_set_learning(PollOptionsHandle options, byte learn);
    int ocr_poll_options_set_request_cost(PollOptionsHandle options, double seconds);
    int ocr_poll_options_set_max_attempts(PollOptionsHandle options, int attempts);
    int ocr_poll_options_set_timeout_ms(PollOptionsHandle options, int timeoutMs);
    int ocr_poll_options_set_cancel(PollOptionsHandle options, CancelHandle cancel);
    int ocr_poll_options_set_progress(PollOptionsHandle options, ProgressFn progress, Pointer userData);

    CancelHandle ocr_cancel_new();
    void ocr_cancel_trigger(CancelHandle cancel);
    void ocr_cancel_free(CancelHandle cancel);

    int ocr_fetch_result(ClientHandle client, String taskId, PointerByReference out);
    int ocr_fetch_result_for(ClientHandle client, String operation, String taskId, PointerByReference out);
    int ocr_fetch_result_to_dir(ClientHandle client, String operation, String taskId, String dir,
            PointerByReference out);
    int ocr_fetch_result_ex(ClientHandle client, String operation, String taskId, CallOptionsHandle call,
            PointerByReference out);
    int ocr_fetch_result_to_dir_ex(ClientHandle client, String operation, String taskId, String dir,
            CallOptionsHandle call, PointerByReference out);
    int ocr_poll_until_done(ClientHandle client, String taskId, PollOptionsHandle options, PointerByReference out);
    int ocr_poll_until_done_for(ClientHandle client, String operation, String taskId, PollOptionsHandle options,
            PointerByReference out);
    /** {@code resultsOut} and {@code codesOut} are copied back after the call. */
    int ocr_poll_many(ClientHandle client, String operation, String[] taskIds, SizeT count, PollOptionsHandle options,
            Pointer[] resultsOut, int[] codesOut);
    /** Valid until the next {@code ocr_poll_many} on this thread; {@code null} out of range. */
    String ocr_poll_many_message(SizeT index);
    int ocr_poll_until_done_to_dir(ClientHandle client, String operation, String taskId,
            PollOptionsHandle options, String dir, PointerByReference out);

    void ocr_result_free(ResultHandle result);
    int ocr_result_task_status(ResultHandle result);
    String ocr_result_task_status_text(ResultHandle result);
    String ocr_result_id(ResultHandle result);
    String ocr_result_response_status(ResultHandle result);
    SizeT ocr_result_count(ResultHandle result);
    String ocr_result_type(ResultHandle result, SizeT index);
    Pointer ocr_result_data(ResultHandle result, SizeT index, SizeTByReference len);
    long ocr_result_size(ResultHandle result, SizeT index);
    String ocr_result_path(ResultHandle result, SizeT index);
    SizeT ocr_result_message_count(ResultHandle result);
    String ocr_result_message(ResultHandle result, SizeT index);
    SizeT ocr_result_warning_count(ResultHandle result);
    String ocr_result_warning(ResultHandle result, SizeT index);
    int ocr_result_save(ResultHandle result, SizeT index, String path);

    int ocr_batch_open(ClientHandle client, String journalPath, String outputDir, PointerByReference out);

    int ocr_batch_open_shared(ClientHandle client, String url, String name, String outputDir,
            PointerByReference out);
    int ocr_batch_add_file(BatchHandle batch, String path, String root, String operation, String settingsJson);
    int ocr_batch_add_folder(BatchHandle batch, String folder, String operation, String settingsJson,
            SizeTByReference added);
    int ocr_batch_run(BatchHandle batch, int jobs, PollOptionsHandle poll, BatchProgressFn progress, Pointer userData);
    SizeT ocr_batch_size(BatchHandle batch);
    SizeT ocr_batch_count(BatchHandle batch, int state);
    int ocr_batch_item_state(BatchHandle batch, SizeT index);
    /** The {@code ocr_batch_item_*} strings are copied at once: they live until the batch changes. */
    String ocr_batch_item_path(BatchHandle batch, SizeT index);
    String ocr_batch_item_task_id(BatchHandle batch, SizeT index);
    String ocr_batch_item_message(BatchHandle batch, SizeT index);
    int ocr_batch_item_code(BatchHandle batch, SizeT index);
    SizeT ocr_batch_item_output_count(BatchHandle batch, SizeT index);
    String ocr_batch_item_output(BatchHandle batch, SizeT index, SizeT output);
    int ocr_batch_item_possible_duplicates(BatchHandle batch, SizeT index);
    /** {@code uint8_t}: 0 or 1. */
    byte ocr_batch_item_skipped(BatchHandle batch, SizeT index);
    double ocr_batch_item_seconds(BatchHandle batch, SizeT index);
    void ocr_batch_free(BatchHandle batch);
}

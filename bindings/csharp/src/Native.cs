using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Ocrcloud
{
    /// <summary>
    /// The C API of include/ocrcloud.h, one declaration per function. Strings travel as
    /// NUL-terminated UTF-8 byte arrays (see <see cref="Utf8"/> and <see cref="FromUtf8"/>), the
    /// same on .NET and mono. "ocrcloud" resolves to the package's library for the running
    /// platform beside the assembly, e.g. runtimes/linux-x64/native/libocrcloud.so (see
    /// <see cref="NativeResolver"/>), else through the library path.
    /// </summary>
    internal static class Native
    {
        private const string Lib = "ocrcloud";

        static Native()
        {
            NativeResolver.Register();
        }

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void ProgressFn(IntPtr userData, IntPtr taskId, int status, uint attempt);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void LogFn(IntPtr userData, int level, IntPtr message);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void BatchProgressFn(IntPtr userData, UIntPtr index, int state);

        [DllImport(Lib)] internal static extern IntPtr ocr_version();
        [DllImport(Lib)] internal static extern IntPtr ocr_code_name(int code);
        [DllImport(Lib)] internal static extern IntPtr ocr_task_status_name(int status);
        [DllImport(Lib)] internal static extern void ocr_set_log_callback(LogFn callback, IntPtr userData);
        [DllImport(Lib)] internal static extern int ocr_set_log_level(int level);
        [DllImport(Lib)] internal static extern IntPtr ocr_last_error_message();
        [DllImport(Lib)] internal static extern void ocr_string_free(IntPtr s);

        [DllImport(Lib)] internal static extern int ocr_client_new(byte[] baseUrl, byte[] accessToken, out ClientHandle client);
        [DllImport(Lib)] internal static extern int ocr_client_new_with_credentials(byte[] baseUrl, byte[] clientId, byte[] clientSecret, out ClientHandle client);
        [DllImport(Lib)] internal static extern void ocr_client_free(IntPtr client);
        [DllImport(Lib)] internal static extern int ocr_client_set_connect_timeout_ms(ClientHandle client, uint timeoutMs);
        [DllImport(Lib)] internal static extern int ocr_client_set_read_timeout_ms(ClientHandle client, uint timeoutMs);
        [DllImport(Lib)] internal static extern int ocr_client_set_request_timeout_ms(ClientHandle client, uint timeoutMs);
        [DllImport(Lib)] internal static extern int ocr_client_set_user_agent(ClientHandle client, byte[] userAgent);
        [DllImport(Lib)] internal static extern int ocr_client_set_max_response_bytes(ClientHandle client, ulong maxBytes);
        [DllImport(Lib)] internal static extern int ocr_client_set_allow_insecure_http(ClientHandle client, int allow);
        [DllImport(Lib)] internal static extern int ocr_client_set_max_attempts(ClientHandle client, uint attempts);
        [DllImport(Lib)] internal static extern int ocr_client_set_max_connections(ClientHandle client, uint connections);
        [DllImport(Lib)] internal static extern int ocr_client_set_ca_file(ClientHandle client, byte[] pemPath);
        [DllImport(Lib)] internal static extern int ocr_client_set_ca_pem(ClientHandle client, byte[] pem, UIntPtr len);
        [DllImport(Lib)] internal static extern int ocr_client_set_proxy(ClientHandle client, byte[] proxyUrl);
        [DllImport(Lib)] internal static extern int ocr_client_set_max_rate(ClientHandle client, double perSecond);
        [DllImport(Lib)] internal static extern int ocr_client_set_circuit_breaker(ClientHandle client, int enabled);
        [DllImport(Lib)] internal static extern int ocr_client_stats(ClientHandle client, int what, out double value);

        [DllImport(Lib)] internal static extern int ocr_submit(ClientHandle client, byte[] operation, byte[] document, UIntPtr len, byte[] settingsJson, out IntPtr taskId);
        [DllImport(Lib)] internal static extern int ocr_submit_file(ClientHandle client, byte[] operation, byte[] path, byte[] settingsJson, out IntPtr taskId);
        [DllImport(Lib)] internal static extern int ocr_cancel_task(ClientHandle client, byte[] operation, byte[] taskId);
        [DllImport(Lib)] internal static extern int ocr_get_task_status(ClientHandle client, byte[] operation, byte[] taskId, out int status);
        [DllImport(Lib)] internal static extern int ocr_submit_ex(ClientHandle client, byte[] operation, byte[] document, UIntPtr len, byte[] settingsJson, CallOptionsHandle call, out IntPtr taskId);
        [DllImport(Lib)] internal static extern int ocr_submit_file_ex(ClientHandle client, byte[] operation, byte[] path, byte[] settingsJson, CallOptionsHandle call, out IntPtr taskId);
        [DllImport(Lib)] internal static extern int ocr_cancel_task_ex(ClientHandle client, byte[] operation, byte[] taskId, CallOptionsHandle call);
        [DllImport(Lib)] internal static extern int ocr_get_task_status_ex(ClientHandle client, byte[] operation, byte[] taskId, CallOptionsHandle call, out int status);

        [DllImport(Lib)] internal static extern CallOptionsHandle ocr_call_options_new();
        [DllImport(Lib)] internal static extern void ocr_call_options_free(IntPtr options);
        [DllImport(Lib)] internal static extern int ocr_call_options_set_timeout_ms(CallOptionsHandle options, uint timeoutMs);
        [DllImport(Lib)] internal static extern int ocr_call_options_set_cancel(CallOptionsHandle options, CancelHandle cancel);

        [DllImport(Lib)] internal static extern PollOptionsHandle ocr_poll_options_new();
        [DllImport(Lib)] internal static extern void ocr_poll_options_free(IntPtr options);
        [DllImport(Lib)] internal static extern int ocr_poll_options_set_interval_ms(PollOptionsHandle options, uint firstIntervalMs);
        [DllImport(Lib)] internal static extern int ocr_poll_options_set_backoff(PollOptionsHandle options, double factor, uint maxIntervalMs);
        [DllImport(Lib)] internal static extern int ocr_poll_options_set_learning(PollOptionsHandle options, byte learn);
        [DllImport(Lib)] internal static extern int ocr_poll_options_set_request_cost(PollOptionsHandle options, double seconds);
        [DllImport(Lib)] internal static extern int ocr_poll_options_set_max_attempts(PollOptionsHandle options, uint attempts);
        [DllImport(Lib)] internal static extern int ocr_poll_options_set_timeout_ms(PollOptionsHandle options, uint timeoutMs);
        [DllImport(Lib)] internal static extern int ocr_poll_options_set_cancel(PollOptionsHandle options, CancelHandle cancel);
        [DllImport(Lib)] internal static extern int ocr_poll_options_set_progress(PollOptionsHandle options, ProgressFn progress, IntPtr userData);

        [DllImport(Lib)] internal static extern CancelHandle ocr_cancel_new();
        [DllImport(Lib)] internal static extern void ocr_cancel_trigger(CancelHandle cancel);
        [DllImport(Lib)] internal static extern void ocr_cancel_free(IntPtr cancel);

        [DllImport(Lib)] internal static extern int ocr_fetch_result(ClientHandle client, byte[] taskId, out ResultHandle result);
        [DllImport(Lib)] internal static extern int ocr_fetch_result_for(ClientHandle client, byte[] operation, byte[] taskId, out ResultHandle result);
        [DllImport(Lib)] internal static extern int ocr_fetch_result_to_dir(ClientHandle client, byte[] operation, byte[] taskId, byte[] dir, out ResultHandle result);
        [DllImport(Lib)] internal static extern int ocr_fetch_result_ex(ClientHandle client, byte[] operation, byte[] taskId, CallOptionsHandle call, out ResultHandle result);
        [DllImport(Lib)] internal static extern int ocr_fetch_result_to_dir_ex(ClientHandle client, byte[] operation, byte[] taskId, byte[] dir, CallOptionsHandle call, out ResultHandle result);
        [DllImport(Lib)] internal static extern int ocr_poll_until_done(ClientHandle client, byte[] taskId, PollOptionsHandle options, out ResultHandle result);
        [DllImport(Lib)] internal static extern int ocr_poll_until_done_for(ClientHandle client, byte[] operation, byte[] taskId, PollOptionsHandle options, out ResultHandle result);
        [DllImport(Lib)] internal static extern int ocr_poll_many(ClientHandle client, byte[] operation, IntPtr[] taskIds, UIntPtr count, PollOptionsHandle options, [In, Out] IntPtr[] results, [In, Out] int[] codes);
        [DllImport(Lib)] internal static extern IntPtr ocr_poll_many_message(UIntPtr index);
        [DllImport(Lib)] internal static extern int ocr_poll_until_done_to_dir(ClientHandle client, byte[] operation, byte[] taskId, PollOptionsHandle options, byte[] dir, out ResultHandle result);

        [DllImport(Lib)] internal static extern void ocr_result_free(IntPtr result);
        [DllImport(Lib)] internal static extern int ocr_result_task_status(ResultHandle result);
        [DllImport(Lib)] internal static extern IntPtr ocr_result_task_status_text(ResultHandle result);
        [DllImport(Lib)] internal static extern IntPtr ocr_result_id(ResultHandle result);
        [DllImport(Lib)] internal static extern IntPtr ocr_result_response_status(ResultHandle result);
        [DllImport(Lib)] internal static extern UIntPtr ocr_result_count(ResultHandle result);
        [DllImport(Lib)] internal static extern IntPtr ocr_result_type(ResultHandle result, UIntPtr index);
        [DllImport(Lib)] internal static extern IntPtr ocr_result_data(ResultHandle result, UIntPtr index, out UIntPtr len);
        [DllImport(Lib)] internal static extern ulong ocr_result_size(ResultHandle result, UIntPtr index);
        [DllImport(Lib)] internal static extern IntPtr ocr_result_path(ResultHandle result, UIntPtr index);
        [DllImport(Lib)] internal static extern UIntPtr ocr_result_message_count(ResultHandle result);
        [DllImport(Lib)] internal static extern IntPtr ocr_result_message(ResultHandle result, UIntPtr index);
        [DllImport(Lib)] internal static extern UIntPtr ocr_result_warning_count(ResultHandle result);
        [DllImport(Lib)] internal static extern IntPtr ocr_result_warning(ResultHandle result, UIntPtr index);
        [DllImport(Lib)] internal static extern int ocr_result_save(ResultHandle result, UIntPtr index, byte[] path);

        [DllImport(Lib)] internal static extern int ocr_batch_open(ClientHandle client, byte[] journalPath, byte[] outputDir, out BatchHandle batch);
        [DllImport(Lib)] internal static extern int ocr_batch_open_shared(ClientHandle client, byte[] url, byte[] name, byte[] outputDir, out BatchHandle batch);
        [DllImport(Lib)] internal static extern int ocr_batch_add_file(BatchHandle batch, byte[] path, byte[] root, byte[] operation, byte[] settingsJson);
        [DllImport(Lib)] internal static extern int ocr_batch_add_folder(BatchHandle batch, byte[] folder, byte[] operation, byte[] settingsJson, out UIntPtr added);
        [DllImport(Lib)] internal static extern int ocr_batch_run(BatchHandle batch, uint jobs, PollOptionsHandle poll, BatchProgressFn progress, IntPtr userData);
        [DllImport(Lib)] internal static extern UIntPtr ocr_batch_size(BatchHandle batch);
        [DllImport(Lib)] internal static extern UIntPtr ocr_batch_count(BatchHandle batch, int state);
        [DllImport(Lib)] internal static extern int ocr_batch_item_state(BatchHandle batch, UIntPtr index);
        [DllImport(Lib)] internal static extern IntPtr ocr_batch_item_path(BatchHandle batch, UIntPtr index);
        [DllImport(Lib)] internal static extern IntPtr ocr_batch_item_task_id(BatchHandle batch, UIntPtr index);
        [DllImport(Lib)] internal static extern IntPtr ocr_batch_item_message(BatchHandle batch, UIntPtr index);
        [DllImport(Lib)] internal static extern int ocr_batch_item_code(BatchHandle batch, UIntPtr index);
        [DllImport(Lib)] internal static extern UIntPtr ocr_batch_item_output_count(BatchHandle batch, UIntPtr index);
        [DllImport(Lib)] internal static extern IntPtr ocr_batch_item_output(BatchHandle batch, UIntPtr index, UIntPtr output);
        [DllImport(Lib)] internal static extern uint ocr_batch_item_possible_duplicates(BatchHandle batch, UIntPtr index);
        [DllImport(Lib)] internal static extern byte ocr_batch_item_skipped(BatchHandle batch, UIntPtr index);
        [DllImport(Lib)] internal static extern double ocr_batch_item_seconds(BatchHandle batch, UIntPtr index);
        [DllImport(Lib)] internal static extern void ocr_batch_free(IntPtr batch);

        /// <summary>A string as NUL-terminated UTF-8; null stays null (NULL in C).</summary>
        internal static byte[] Utf8(string s, string name)
        {
            if (s == null)
            {
                return null;
            }
            if (s.IndexOf('\0') >= 0)
            {
                throw new ArgumentException(name + " contains a NUL character", name);
            }
            try
            {
                var bytes = new byte[StrictUtf8.GetByteCount(s) + 1];
                StrictUtf8.GetBytes(s, 0, s.Length, bytes, 0);
                return bytes;
            }
            catch (EncoderFallbackException e)
            {
                // Encoding.UTF8 would send U+FFFD instead: another task id, say.
                throw new ArgumentException(name + " contains a lone surrogate (at index " + e.Index +
                    "), which is not text", name, e);
            }
        }

        /// <summary>UTF-8 that throws on lone surrogates instead of replacing them.</summary>
        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        internal static unsafe string FromUtf8(IntPtr p)
        {
            if (p == IntPtr.Zero)
            {
                return null;
            }
            var bytes = (byte*)p;
            int length = 0;
            while (bytes[length] != 0)
            {
                length++;
            }
            return Encoding.UTF8.GetString(bytes, length);
        }

        /// <summary>Throws for a failing code; call it right after the call, on the same thread.</summary>
        internal static void Check(int code)
        {
            if (code != 0)
            {
                throw Failure(code);
            }
        }

        /// <summary>The exception for a failing code, with the thread's last error message read now.</summary>
        internal static OcrException Failure(int code)
        {
            return new OcrException((OcrCode)code, FromUtf8(ocr_last_error_message()));
        }

        /// <summary>A time span as the C API's unsigned 32-bit milliseconds.</summary>
        internal static uint Millis(TimeSpan span)
        {
            double ms = Math.Floor(span.TotalMilliseconds);
            if (ms < 0 || ms > uint.MaxValue)
            {
                throw new ArgumentOutOfRangeException("span", span, "must be between 0 and 2^32-1 ms");
            }
            return (uint)ms;
        }
    }
}

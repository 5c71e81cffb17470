using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;

namespace Ocrcloud
{
    /// <summary>
    /// One result file: its kind as the server sent it ("Text", "Pdf", "Hocr", ...), its size in
    /// bytes, and either its decoded bytes (<see cref="Data"/>; <see cref="Path"/> null) or, for
    /// results of the ...ToDir calls, the file they were written to (<see cref="Path"/>;
    /// <see cref="Data"/> null). The array is shared, not copied: do not modify it.
    /// </summary>
    public sealed class OcrFile
    {
        internal OcrFile(string type, byte[] data, long size, string path)
        {
            Type = type;
            Data = data;
            Size = size;
            Path = path;
        }

        /// <summary>The kind of file, e.g. "Text" or "Pdf".</summary>
        public string Type { get; }

        /// <summary>The decoded bytes; null for a file written by a ...ToDir call.</summary>
        public byte[] Data { get; }

        /// <summary>The number of decoded bytes, in memory or in the file.</summary>
        public long Size { get; }

        /// <summary>The file a ...ToDir call wrote; null for bytes in memory.</summary>
        public string Path { get; }

        /// <summary>The bytes as UTF-8 text (for Text, Hocr, JSON results in memory).</summary>
        public string Text { get { return Encoding.UTF8.GetString(Data); } }
    }

    /// <summary>
    /// One answer of the service for a task: its status, result files and messages.
    /// Everything is copied into managed objects when the result is made (the decoded files too,
    /// except those that a ...ToDir call wrote to files), so the properties keep working after
    /// <see cref="Dispose"/>. The native result is kept only for <see cref="Save"/>,
    /// which throws ObjectDisposedException once the result is disposed: dispose it when you no
    /// longer need to save, because until then the decoded files are held twice. A result is
    /// immutable and may be read from many threads.
    /// </summary>
    public sealed class OcrResult : IDisposable
    {
        private readonly ResultHandle handle;
        private volatile bool disposed;

        internal OcrResult(ResultHandle handle)
        {
            try
            {
                Status = (OcrTaskStatus)Native.ocr_result_task_status(handle);
                StatusText = Native.FromUtf8(Native.ocr_result_task_status_text(handle));
                Id = Native.FromUtf8(Native.ocr_result_id(handle));
                ResponseStatus = Native.FromUtf8(Native.ocr_result_response_status(handle));
                var files = new List<OcrFile>();
                for (ulong i = 0, n = (ulong)Native.ocr_result_count(handle); i < n; i++)
                {
                    UIntPtr length;
                    IntPtr data = Native.ocr_result_data(handle, (UIntPtr)i, out length);
                    byte[] bytes = null;
                    if (data != IntPtr.Zero)
                    {
                        bytes = new byte[checked((int)(ulong)length)];
                        Marshal.Copy(data, bytes, 0, bytes.Length);
                    }
                    files.Add(new OcrFile(Native.FromUtf8(Native.ocr_result_type(handle, (UIntPtr)i)), bytes,
                        checked((long)Native.ocr_result_size(handle, (UIntPtr)i)),
                        Native.FromUtf8(Native.ocr_result_path(handle, (UIntPtr)i))));
                }
                Files = files.AsReadOnly();
                var messages = new List<string>();
                for (ulong i = 0, n = (ulong)Native.ocr_result_message_count(handle); i < n; i++)
                {
                    messages.Add(Native.FromUtf8(Native.ocr_result_message(handle, (UIntPtr)i)));
                }
                Messages = messages.AsReadOnly();
                var warnings = new List<string>();
                for (ulong i = 0, n = (ulong)Native.ocr_result_warning_count(handle); i < n; i++)
                {
                    warnings.Add(Native.FromUtf8(Native.ocr_result_warning(handle, (UIntPtr)i)));
                }
                Warnings = warnings.AsReadOnly();
            }
            catch
            {
                handle.Dispose();
                throw;
            }
            this.handle = handle;
        }

        /// <summary>The task's status.</summary>
        public OcrTaskStatus Status { get; }

        /// <summary>The taskStatus string exactly as the server sent it, e.g. "Completed".</summary>
        public string StatusText { get; }

        /// <summary>The task id the server echoed; "" if it sent none.</summary>
        public string Id { get; }

        /// <summary>The raw responseStatusCode, e.g. "Ok"; "" if absent.</summary>
        public string ResponseStatus { get; }

        /// <summary>The result files (empty until the task is Completed).</summary>
        public IReadOnlyList<OcrFile> Files { get; }

        /// <summary>The server's error.messages: why a task failed.</summary>
        public IReadOnlyList<string> Messages { get; }

        /// <summary>The server's error.warnings.</summary>
        public IReadOnlyList<string> Warnings { get; }

        /// <summary>
        /// Writes result file <paramref name="index"/> to <paramref name="path"/> atomically (through
        /// a temporary file in the same folder that is renamed over it). Failures are
        /// <see cref="OcrCode.Io"/> with the OS reason; an index out of range is
        /// <see cref="OcrCode.InvalidArgument"/>. Needs the result not disposed.
        /// </summary>
        public void Save(int index, string path)
        {
            if (disposed)
            {
                throw new ObjectDisposedException("OcrResult", "the OcrResult is disposed");
            }
            Native.Check(Native.ocr_result_save(handle, (UIntPtr)unchecked((uint)index), Native.Utf8(path, "path")));
        }

        /// <summary>Frees the native result; idempotent. The properties keep working.</summary>
        public void Dispose()
        {
            disposed = true;
            handle.Dispose();
        }
    }
}

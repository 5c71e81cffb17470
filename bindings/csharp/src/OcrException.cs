using System;

namespace Ocrcloud
{
    /// <summary>Why a call failed: the library's <c>OCR_ERR_*</c> codes (values fixed).</summary>
    public enum OcrCode
    {
        /// <summary>A NULL, malformed or out-of-range argument; nothing was sent.</summary>
        InvalidArgument = 1,
        /// <summary>The connection could not be made or broke off (after the retries).</summary>
        Network = 2,
        /// <summary>A request timed out, or the poll's deadline passed.</summary>
        Timeout = 3,
        /// <summary>The server answered an HTTP error status (after the retries).</summary>
        Http = 4,
        /// <summary>The server refused the token or the credentials.</summary>
        Unauthorized = 5,
        /// <summary>The server's answer does not follow the protocol.</summary>
        Protocol = 6,
        /// <summary>A result's base64 data is invalid.</summary>
        Decode = 7,
        /// <summary>The task ended in Error; the message holds the server's messages.</summary>
        TaskFailed = 8,
        /// <summary>The task does not exist: a wrong id, a cancelled task, or results older than 24 hours.</summary>
        TaskNotFound = 9,
        /// <summary>The task was still not finished when the poll's attempts ran out.</summary>
        NotReady = 10,
        /// <summary>The call was cancelled (a poll cancelled through its CancellationToken throws OperationCanceledException instead).</summary>
        Cancelled = 11,
        /// <summary>An answer exceeds the client's size limit, or the server refused a request as too large.</summary>
        TooLarge = 12,
        /// <summary>Reading or writing a local file failed; the message holds the OS reason.</summary>
        Io = 13,
        /// <summary>A bug in the library (a caught panic).</summary>
        Internal = 14,
        /// <summary>
        /// The TLS connection failed: an untrusted, self-signed, expired or not yet valid
        /// certificate, a name mismatch, a failed handshake (never retried). A private CA is
        /// trusted with <see cref="OcrClient.SetCaFile"/> or <see cref="OcrClient.SetCaPem"/>.
        /// </summary>
        Tls = 15,
    }

    /// <summary>Where a task is in the service's queue: the library's <c>OCR_TASK_*</c> values.</summary>
    public enum OcrTaskStatus
    {
        /// <summary>A status this library does not know; <see cref="OcrResult.StatusText"/> has the string.</summary>
        Unknown = 0,
        /// <summary>Queued, not started.</summary>
        Pending = 1,
        /// <summary>Being worked on.</summary>
        Processing = 2,
        /// <summary>Finished; the results are ready.</summary>
        Completed = 3,
        /// <summary>Finished with an error; the messages say why.</summary>
        Error = 4,
        /// <summary>No such task: a wrong id, a cancelled task, or results older than 24 hours.</summary>
        NotExist = 5,
    }

    /// <summary>
    /// A failed library call: its <see cref="OcrCode"/> and the library's message, one sentence
    /// naming what failed (the HTTP status, the URL, the server's own messages; never a token or
    /// secret).
    /// </summary>
    public sealed class OcrException : Exception
    {
        internal OcrException(OcrCode code, string message) : base(message)
        {
            Code = code;
        }

        /// <summary>The library's code.</summary>
        public OcrCode Code { get; }

        /// <inheritdoc/>
        public override string ToString()
        {
            return "OcrException(" + Code + "): " + Message;
        }
    }
}

using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace Ocrcloud
{
    /// <summary>
    /// A connection to the service: base URL, credentials, settings and a pool of keep-alive
    /// connections.
    /// Build one and share it: every method is safe from any number of threads at once, and
    /// settings apply to calls that start after the change. <see cref="Dispose"/> frees it
    /// (idempotent); calls running on other threads finish first, later calls throw
    /// ObjectDisposedException. Failures throw <see cref="OcrException"/>. <c>operation</c>
    /// arguments name the service's operation, e.g. "RecognizePdf" (matched without regard to
    /// case; null means that one).
    /// </summary>
    public sealed class OcrClient : IDisposable
    {
        private readonly ClientHandle handle;
        // Our own flag: mono's SafeHandle reports IsClosed only once the last running call returned.
        private volatile bool disposed;

        private OcrClient(ClientHandle handle)
        {
            this.handle = handle;
        }

        /// <summary>
        /// A client that sends a fixed token (null: none, enough for the trial operations).
        /// <paramref name="baseUrl"/>: e.g. "https://api.aspose.cloud" (null means that one);
        /// plain http:// is refused at request time except for loopback hosts, unless
        /// <see cref="SetAllowInsecureHttp"/> allows it. Nothing is sent until the first call.
        /// </summary>
        public static OcrClient WithToken(string baseUrl, string accessToken)
        {
            ClientHandle client;
            int code = Native.ocr_client_new(Native.Utf8(baseUrl, "baseUrl"), Native.Utf8(accessToken, "accessToken"), out client);
            return Created(code, client);
        }

        /// <summary>
        /// A client that obtains tokens itself from {baseUrl}/connect/token with client
        /// credentials, caches them and renews them before they expire. The secret never appears in
        /// a message. <paramref name="baseUrl"/> as for <see cref="WithToken"/>.
        /// </summary>
        public static OcrClient WithCredentials(string baseUrl, string clientId, string clientSecret)
        {
            ClientHandle client;
            int code = Native.ocr_client_new_with_credentials(
                Native.Utf8(baseUrl, "baseUrl"), Native.Utf8(clientId, "clientId"), Native.Utf8(clientSecret, "clientSecret"), out client);
            return Created(code, client);
        }

        private static OcrClient Created(int code, ClientHandle client)
        {
            if (code != 0)
            {
                OcrException failure = Native.Failure(code);
                client.Dispose();
                throw failure;
            }
            return new OcrClient(client);
        }

        /// <summary>The version of the native library, e.g. "0.1.0".</summary>
        public static string LibraryVersion
        {
            get { return Native.FromUtf8(Native.ocr_version()); }
        }

        /// <summary>Limit for connecting (name resolution, TCP, TLS). Default 10 s.</summary>
        public void SetConnectTimeout(TimeSpan timeout)
        {
            uint ms = Native.Millis(timeout);
            Native.Check(Native.ocr_client_set_connect_timeout_ms(Open(), ms));
        }

        /// <summary>Limit for each wait for more bytes from the server. Default 30 s.</summary>
        public void SetReadTimeout(TimeSpan timeout)
        {
            uint ms = Native.Millis(timeout);
            Native.Check(Native.ocr_client_set_read_timeout_ms(Open(), ms));
        }

        /// <summary>Limit for one whole request including its answer. Default 300 s.</summary>
        public void SetRequestTimeout(TimeSpan timeout)
        {
            uint ms = Native.Millis(timeout);
            Native.Check(Native.ocr_client_set_request_timeout_ms(Open(), ms));
        }

        /// <summary>The User-Agent header. Default "ocrcloud/&lt;version&gt;".</summary>
        public void SetUserAgent(string userAgent)
        {
            Native.Check(Native.ocr_client_set_user_agent(Open(), Native.Utf8(userAgent, "userAgent")));
        }

        /// <summary>The largest answer accepted, in bytes (at least 1); larger is <see cref="OcrCode.TooLarge"/>. Default 1 GiB.</summary>
        public void SetMaxResponseBytes(ulong maxBytes)
        {
            Native.Check(Native.ocr_client_set_max_response_bytes(Open(), maxBytes));
        }

        /// <summary>Allows plain http:// for hosts other than loopback (tokens travel in clear text).</summary>
        public void SetAllowInsecureHttp(bool allow)
        {
            Native.Check(Native.ocr_client_set_allow_insecure_http(Open(), allow ? 1 : 0));
        }

        /// <summary>How many requests one call sends at most on transient failures (1: no retries). Default 3.</summary>
        public void SetMaxAttempts(uint attempts)
        {
            Native.Check(Native.ocr_client_set_max_attempts(Open(), attempts));
        }

        /// <summary>How many requests <see cref="PollMany"/> has in flight at most (at least 1). Default 4.</summary>
        public void SetMaxConnections(uint connections)
        {
            Native.Check(Native.ocr_client_set_max_connections(Open(), connections));
        }

        /// <summary>
        /// Also trusts the CA certificates in the PEM file at <paramref name="pemPath"/>, besides
        /// the system's (null: back to the default). Replaces what an earlier SetCaFile or
        /// <see cref="SetCaPem"/> added. A missing, unreadable or certificate-less file is
        /// <see cref="OcrCode.InvalidArgument"/> and leaves the client as it was; a certificate
        /// the client does not trust is <see cref="OcrCode.Tls"/>.
        /// </summary>
        public void SetCaFile(string pemPath)
        {
            Native.Check(Native.ocr_client_set_ca_file(Open(), Native.Utf8(pemPath, "pemPath")));
        }

        /// <summary>
        /// Like <see cref="SetCaFile"/>, with the PEM text in memory (copied); text without a
        /// certificate is <see cref="OcrCode.InvalidArgument"/>. null: back to the default.
        /// </summary>
        public void SetCaPem(byte[] pem)
        {
            // An empty array must not arrive as NULL, which would mean the default.
            byte[] text = pem != null && pem.Length == 0 ? new byte[1] : pem;
            UIntPtr len = new UIntPtr(pem == null ? 0u : (uint)pem.Length);
            Native.Check(Native.ocr_client_set_ca_pem(Open(), text, len));
        }

        /// <summary>
        /// The proxy for a base URL that is not loopback: "http://[user:password@]host:port" or
        /// "https://..." (a CONNECT tunnel); "": none; null: the environment's (HTTPS_PROXY,
        /// HTTP_PROXY, ALL_PROXY, NO_PROXY), the default. SOCKS and other schemes are
        /// <see cref="OcrCode.InvalidArgument"/>.
        /// </summary>
        public void SetProxy(string proxyUrl)
        {
            Native.Check(Native.ocr_client_set_proxy(Open(), Native.Utf8(proxyUrl, "proxyUrl")));
        }

        /// <summary>
        /// The most requests per second the client sends, all threads and <see cref="PollMany"/>
        /// together; 0 (the default): unlimited. Either way a 429 or 503 slows the client down,
        /// and it speeds up again by one request per second each second without throttling. A
        /// negative, infinite or NaN rate is <see cref="OcrCode.InvalidArgument"/>.
        /// </summary>
        public void SetMaxRate(double perSecond)
        {
            Native.Check(Native.ocr_client_set_max_rate(Open(), perSecond));
        }

        /// <summary>
        /// Turns the circuit breaker on (the default) or off: after 5 failures in a row (a 5xx
        /// other than 503, or no connection) within 10 s, requests fail at once, without being
        /// sent, with <see cref="OcrCode.Network"/> and a message saying the service looks down,
        /// until a probe (one every 5 s) succeeds. Turning it off also closes it.
        /// </summary>
        public void SetCircuitBreaker(bool enabled)
        {
            Native.Check(Native.ocr_client_set_circuit_breaker(Open(), enabled ? 1 : 0));
        }

        /// <summary>
        /// The client's request budget now: counts since it was created, the rate allowed and the
        /// breaker's state (see <see cref="ClientStats"/>). The figures are read one after the
        /// other, not as one snapshot.
        /// </summary>
        public ClientStats GetStats()
        {
            ClientHandle client = Open();
            Func<ClientStat, double> figure = what =>
            {
                double value;
                Native.Check(Native.ocr_client_stats(client, (int)what, out value));
                return value;
            };
            return new ClientStats(
                (long)figure(ClientStat.Requests), (long)figure(ClientStat.Retries),
                (long)figure(ClientStat.Throttled), (long)figure(ClientStat.TokenFetches),
                figure(ClientStat.Rate), figure(ClientStat.BreakerOpen) != 0,
                (int)figure(ClientStat.RetryQuota));
        }

        // The calls below take a timeout (TimeSpan.Zero, the default, or Timeout.InfiniteTimeSpan:
        // none beyond the client's timeouts; then OcrException with OcrCode.Timeout) and a
        // CancellationToken, which ends them within milliseconds with OperationCanceledException,
        // whatever they are waiting for.

        /// <summary>
        /// Submits a document and answers the new task's id. <paramref name="settingsJson"/>: a
        /// JSON object sent as the operation's settings, or null for its defaults.
        /// </summary>
        public string Submit(string operation, byte[] document, string settingsJson = null,
            TimeSpan timeout = default(TimeSpan), CancellationToken cancellationToken = default(CancellationToken))
        {
            if (document == null)
            {
                throw new ArgumentNullException("document");
            }
            byte[] op = Native.Utf8(operation, "operation");
            byte[] settings = Native.Utf8(settingsJson, "settingsJson");
            IntPtr id = IntPtr.Zero;
            Call(timeout, cancellationToken, (client, call) =>
                Native.ocr_submit_ex(client, op, document, (UIntPtr)(uint)document.Length, settings, call, out id));
            return TaskId(id);
        }

        /// <summary>
        /// Submits the file at <paramref name="path"/> like <see cref="Submit"/> does with bytes; the
        /// library reads it while it encodes it. An unreadable file is <see cref="OcrCode.Io"/>.
        /// </summary>
        public string SubmitFile(string operation, string path, string settingsJson = null,
            TimeSpan timeout = default(TimeSpan), CancellationToken cancellationToken = default(CancellationToken))
        {
            byte[] op = Native.Utf8(operation, "operation");
            byte[] file = Native.Utf8(path, "path");
            byte[] settings = Native.Utf8(settingsJson, "settingsJson");
            IntPtr id = IntPtr.Zero;
            Call(timeout, cancellationToken, (client, call) =>
                Native.ocr_submit_file_ex(client, op, file, settings, call, out id));
            return TaskId(id);
        }

        private static string TaskId(IntPtr id)
        {
            try
            {
                return Native.FromUtf8(id);
            }
            finally
            {
                Native.ocr_string_free(id);
            }
        }

        /// <summary>Removes a task from the service's queue; afterwards it answers NotExist.</summary>
        public void CancelTask(string operation, string taskId,
            TimeSpan timeout = default(TimeSpan), CancellationToken cancellationToken = default(CancellationToken))
        {
            byte[] op = Native.Utf8(operation, "operation");
            byte[] id = Native.Utf8(taskId, "taskId");
            Call(timeout, cancellationToken, (client, call) => Native.ocr_cancel_task_ex(client, op, id, call));
        }

        /// <summary>
        /// A task's status from the cheap status call, which carries no result data
        /// (<see cref="OcrTaskStatus.NotExist"/> for an unknown id).
        /// </summary>
        public OcrTaskStatus GetTaskStatus(string operation, string taskId,
            TimeSpan timeout = default(TimeSpan), CancellationToken cancellationToken = default(CancellationToken))
        {
            byte[] op = Native.Utf8(operation, "operation");
            byte[] id = Native.Utf8(taskId, "taskId");
            int status = 0;
            Call(timeout, cancellationToken, (client, call) => Native.ocr_get_task_status_ex(client, op, id, call, out status));
            return (OcrTaskStatus)status;
        }

        /// <summary><see cref="Fetch(string, string, TimeSpan, CancellationToken)"/> with RecognizePdf.</summary>
        public OcrResult Fetch(string taskId,
            TimeSpan timeout = default(TimeSpan), CancellationToken cancellationToken = default(CancellationToken))
        {
            return Fetch(null, taskId, timeout, cancellationToken);
        }

        /// <summary>
        /// Asks once for a task's current answer. Every well-formed answer is a result, whatever the
        /// task's status (Pending, Error, NotExist are information); the caller disposes it.
        /// </summary>
        public OcrResult Fetch(string operation, string taskId,
            TimeSpan timeout = default(TimeSpan), CancellationToken cancellationToken = default(CancellationToken))
        {
            byte[] op = Native.Utf8(operation, "operation");
            byte[] id = Native.Utf8(taskId, "taskId");
            return CallForResult(timeout, cancellationToken, (ClientHandle client, CallOptionsHandle call, out ResultHandle result) =>
                Native.ocr_fetch_result_ex(client, op, id, call, out result));
        }

        /// <summary>
        /// Like <see cref="Fetch(string, string, TimeSpan, CancellationToken)"/>, but the result files
        /// are written to the existing folder <paramref name="directory"/> while the answer arrives,
        /// so memory use does not grow with their size. They are named &lt;task id&gt;.&lt;ext&gt;
        /// (see ocr_fetch_result_to_dir in the header) and listed with their paths in
        /// <see cref="OcrResult.Files"/>, without data. A missing folder is <see cref="OcrCode.Io"/>.
        /// </summary>
        public OcrResult FetchToDir(string operation, string taskId, string directory,
            TimeSpan timeout = default(TimeSpan), CancellationToken cancellationToken = default(CancellationToken))
        {
            byte[] op = Native.Utf8(operation, "operation");
            byte[] id = Native.Utf8(taskId, "taskId");
            byte[] dir = Native.Utf8(directory, "directory");
            return CallForResult(timeout, cancellationToken, (ClientHandle client, CallOptionsHandle call, out ResultHandle result) =>
                Native.ocr_fetch_result_to_dir_ex(client, op, id, dir, call, out result));
        }

        /// <summary><see cref="PollUntilDone(string, string, PollOptions, CancellationToken, IProgress{PollProgress})"/> with RecognizePdf.</summary>
        public OcrResult PollUntilDone(string taskId, PollOptions options = null,
            CancellationToken cancellationToken = default(CancellationToken), IProgress<PollProgress> progress = null)
        {
            byte[] id = Native.Utf8(taskId, "taskId");
            return Poll(options, cancellationToken, progress,
                (ClientHandle client, PollOptionsHandle nativeOptions, out ResultHandle result) =>
                    Native.ocr_poll_until_done(client, id, nativeOptions, out result));
        }

        /// <summary>
        /// Asks for a task's answer until the task is done, waiting as <paramref name="options"/>
        /// say (null: the defaults), and answers the Completed task's result, which the caller
        /// disposes. Otherwise throws <see cref="OcrException"/>: TaskFailed (status Error, with the
        /// server's messages), TaskNotFound, NotReady (attempts used up), Timeout (deadline), or the
        /// last request's failure; and OperationCanceledException within milliseconds of
        /// <paramref name="cancellationToken"/> being cancelled. Blocks the calling thread.
        /// <paramref name="progress"/> is called synchronously on this thread once per answer (a
        /// <c>Progress&lt;T&gt;</c> posts its handler to its synchronization context instead). If it
        /// throws, it is not called again, and the poll, which goes on to its end, then throws that
        /// exception instead of answering.
        /// </summary>
        public OcrResult PollUntilDone(string operation, string taskId, PollOptions options,
            CancellationToken cancellationToken = default(CancellationToken), IProgress<PollProgress> progress = null)
        {
            byte[] op = Native.Utf8(operation, "operation");
            byte[] id = Native.Utf8(taskId, "taskId");
            return Poll(options, cancellationToken, progress,
                (ClientHandle client, PollOptionsHandle nativeOptions, out ResultHandle result) =>
                    Native.ocr_poll_until_done_for(client, op, id, nativeOptions, out result));
        }

        /// <summary>
        /// <see cref="PollUntilDone(string, PollOptions, CancellationToken, IProgress{PollProgress})"/>
        /// on a thread of its own, which also reports progress: a waiting poll holds no thread-pool
        /// thread, so many of them never delay the pool's work (such as the timer of a
        /// <c>CancellationTokenSource(delay)</c>). A cancelled token makes the task Canceled within
        /// milliseconds.
        /// </summary>
        public Task<OcrResult> PollUntilDoneAsync(string taskId, PollOptions options = null,
            CancellationToken cancellationToken = default(CancellationToken), IProgress<PollProgress> progress = null)
        {
            return OnOwnThread(() => PollUntilDone(taskId, options, cancellationToken, progress));
        }

        /// <summary>
        /// <see cref="PollUntilDone(string, string, PollOptions, CancellationToken, IProgress{PollProgress})"/>
        /// on a thread of its own, as <see cref="PollUntilDoneAsync(string, PollOptions, CancellationToken, IProgress{PollProgress})"/>.
        /// </summary>
        public Task<OcrResult> PollUntilDoneAsync(string operation, string taskId, PollOptions options,
            CancellationToken cancellationToken = default(CancellationToken), IProgress<PollProgress> progress = null)
        {
            return OnOwnThread(() => PollUntilDone(operation, taskId, options, cancellationToken, progress));
        }

        /// <summary>
        /// Runs a blocking call on a new background thread and answers a task that completes with
        /// its outcome (Canceled for OperationCanceledException); continuations run on the pool.
        /// </summary>
        private static Task<T> OnOwnThread<T>(Func<T> call)
        {
            var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            var thread = new Thread(() => {
                try
                {
                    completion.SetResult(call());
                }
                catch (OperationCanceledException e)
                {
                    completion.TrySetCanceled(e.CancellationToken);
                }
                catch (Exception e)
                {
                    completion.SetException(e);
                }
            });
            thread.IsBackground = true;
            thread.Name = "ocrcloud poll";
            thread.Start();
            return completion.Task;
        }

        /// <summary>
        /// Like <see cref="PollUntilDone(string, string, PollOptions, CancellationToken, IProgress{PollProgress})"/>,
        /// but the final answer's files are written to <paramref name="directory"/> as
        /// <see cref="FetchToDir"/> describes.
        /// </summary>
        public OcrResult PollUntilDoneToDir(string operation, string taskId, string directory, PollOptions options,
            CancellationToken cancellationToken = default(CancellationToken), IProgress<PollProgress> progress = null)
        {
            byte[] op = Native.Utf8(operation, "operation");
            byte[] id = Native.Utf8(taskId, "taskId");
            byte[] dir = Native.Utf8(directory, "directory");
            return Poll(options, cancellationToken, progress,
                (ClientHandle client, PollOptionsHandle nativeOptions, out ResultHandle result) =>
                    Native.ocr_poll_until_done_to_dir(client, op, id, nativeOptions, dir, out result));
        }

        /// <summary>
        /// Polls many tasks together from this thread, each on the schedule <paramref name="options"/>
        /// give (the deadline applies to the whole call; progress comes on this thread), with at most
        /// <see cref="SetMaxConnections"/> requests in flight. Answers one <see cref="PollOutcome"/>
        /// per task, in order, each error with its task's own message; the caller disposes their
        /// results. Throws when the call itself fails
        /// (such as a null task id), OperationCanceledException when the token cancels it (the
        /// results of tasks that completed are disposed), and what the progress threw.
        /// </summary>
        public IReadOnlyList<PollOutcome> PollMany(string operation, IList<string> taskIds, PollOptions options,
            CancellationToken cancellationToken = default(CancellationToken), IProgress<PollProgress> progress = null)
        {
            byte[] op = Native.Utf8(operation, "operation");
            var pins = new GCHandle[taskIds.Count]; // the ids as pinned UTF-8 strings
            var ids = new IntPtr[taskIds.Count];
            try
            {
                for (int i = 0; i < ids.Length; i++)
                {
                    byte[] id = Native.Utf8(taskIds[i], "taskIds[" + i + "]");
                    if (id != null)
                    {
                        pins[i] = GCHandle.Alloc(id, GCHandleType.Pinned);
                        ids[i] = pins[i].AddrOfPinnedObject();
                    }
                }
                ClientHandle client = Open();
                using (var poll = new NativePoll(options, cancellationToken, progress))
                {
                    var results = new IntPtr[ids.Length];
                    var codes = Enumerable.Repeat(-1, ids.Length).ToArray(); // -1: not written
                    int code = Native.ocr_poll_many(client, op, ids, (UIntPtr)(uint)ids.Length, poll.Options, results, codes);
                    OcrException failure = code == 0 ? null : Native.Failure(code);
                    // Each task's own message, read right after the call on this thread.
                    string[] messages = Enumerable.Range(0, ids.Length)
                        .Select(i => Native.FromUtf8(Native.ocr_poll_many_message((UIntPtr)(uint)i))).ToArray();
                    ResultHandle[] handles = results.Select(r => r == IntPtr.Zero ? null : new ResultHandle(r)).ToArray();
                    poll.ThrowProgressFailure(handles);
                    if (failure == null)
                    {
                        return Outcomes(taskIds, handles, codes, messages);
                    }
                    Exception thrown = poll.Failure(failure);
                    if (codes.Length == 0 || codes[0] == -1 || thrown is OperationCanceledException)
                    {
                        foreach (ResultHandle handle in handles.Where(h => h != null))
                        {
                            handle.Dispose();
                        }
                        throw thrown;
                    }
                    return Outcomes(taskIds, handles, codes, messages);
                }
            }
            finally
            {
                foreach (GCHandle pin in pins.Where(p => p.IsAllocated))
                {
                    pin.Free();
                }
            }
        }

        /// <summary>One outcome per task of ocr_poll_many, each failure with its task's own message.</summary>
        private static IReadOnlyList<PollOutcome> Outcomes(IList<string> taskIds, ResultHandle[] results, int[] codes,
            string[] messages)
        {
            var outcomes = new List<PollOutcome>();
            for (int i = 0; i < codes.Length; i++)
            {
                if (codes[i] == 0)
                {
                    outcomes.Add(new PollOutcome(taskIds[i], new OcrResult(results[i]), null));
                    continue;
                }
                outcomes.Add(new PollOutcome(taskIds[i], null, new OcrException((OcrCode)codes[i],
                    string.IsNullOrEmpty(messages[i])
                        ? "task " + taskIds[i] + " did not complete: " + Native.FromUtf8(Native.ocr_code_name(codes[i]))
                        : messages[i])));
            }
            return outcomes.AsReadOnly();
        }

        /// <summary>Frees the client once calls running on other threads have returned; idempotent.</summary>
        public void Dispose()
        {
            disposed = true;
            handle.Dispose();
        }

        internal ClientHandle Open()
        {
            if (disposed)
            {
                throw new ObjectDisposedException("OcrClient", "the OcrClient is disposed");
            }
            return handle;
        }

        private static OcrResult Take(int code, ResultHandle result)
        {
            if (code != 0)
            {
                OcrException failure = Native.Failure(code);
                result.Dispose();
                throw failure;
            }
            return new OcrResult(result);
        }

        /// <summary>Runs one native call within its limits.</summary>
        private void Call(TimeSpan timeout, CancellationToken cancellationToken, Func<ClientHandle, CallOptionsHandle, int> body)
        {
            ClientHandle client = Open();
            using (var call = new NativeCall(timeout, cancellationToken))
            {
                call.Check(body(client, call.Options));
            }
        }

        private delegate int ResultCall(ClientHandle client, CallOptionsHandle call, out ResultHandle result);

        /// <summary>Runs one native call that answers one result, within its limits.</summary>
        private OcrResult CallForResult(TimeSpan timeout, CancellationToken cancellationToken, ResultCall body)
        {
            ClientHandle client = Open();
            using (var call = new NativeCall(timeout, cancellationToken))
            {
                ResultHandle result;
                int code = body(client, call.Options, out result);
                try
                {
                    call.Check(code);
                }
                catch
                {
                    result.Dispose();
                    throw;
                }
                return new OcrResult(result);
            }
        }

        private delegate int PollCall(ClientHandle client, PollOptionsHandle options, out ResultHandle result);

        /// <summary>Runs one native poll that answers one result.</summary>
        private OcrResult Poll(PollOptions options, CancellationToken cancellationToken, IProgress<PollProgress> progress,
            PollCall call)
        {
            ClientHandle client = Open();
            using (var poll = new NativePoll(options, cancellationToken, progress))
            {
                ResultHandle result;
                int code = call(client, poll.Options, out result);
                OcrException failure = code == 0 ? null : Native.Failure(code);
                poll.ThrowProgressFailure(result);
                if (failure != null)
                {
                    result.Dispose();
                    throw poll.Failure(failure);
                }
                return new OcrResult(result);
            }
        }
    }
}

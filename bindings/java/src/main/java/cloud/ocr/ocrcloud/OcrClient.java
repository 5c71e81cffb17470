package cloud.ocr.ocrcloud;

import cloud.ocr.ocrcloud.OcrLibrary.CallOptionsHandle;
import cloud.ocr.ocrcloud.OcrLibrary.ClientHandle;
import cloud.ocr.ocrcloud.OcrLibrary.SizeT;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.DoubleByReference;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static cloud.ocr.ocrcloud.OcrLibrary.LIB;

/**
 * A connection to the service: base URL, credentials, settings and a pool of keep-alive
 * connections.
 *
 * <p>Build one and share it: every method is safe from any number of threads at once, and
 * settings apply to calls that start after the change. {@link #close()} frees it (idempotent);
 * calls running on other threads finish first, later calls throw IllegalStateException.
 * Failures throw {@link OcrException}. {@code operation} arguments name the service's operation,
 * e.g. {@code "RecognizePdf"} (matched without regard to case; {@code null} means that one).
 * The network calls other than polls have an overload taking {@link CallOptions}: a deadline and a
 * {@link CancelToken} for that call. Negative integer arguments throw IllegalArgumentException.
 */
public final class OcrClient implements AutoCloseable {
    final NativeHandle<ClientHandle> handle; // Batch holds it in use while a batch is open

    private OcrClient(PointerByReference out) {
        handle = new NativeHandle<>(this, "OcrClient", new ClientHandle(out.getValue()), LIB::ocr_client_free);
    }

    /**
     * A client that sends a fixed token ({@code null}: none, enough for the trial operations).
     * {@code baseUrl}: e.g. {@code "https://api.aspose.cloud"} ({@code null} means that one);
     * plain {@code http://} is refused at request time except for loopback hosts, unless
     * {@link #setAllowInsecureHttp} allows it. Nothing is sent until the first call.
     */
    public static OcrClient withToken(String baseUrl, String accessToken) {
        PointerByReference out = new PointerByReference();
        OcrException.check(LIB.ocr_client_new(arg(baseUrl, "baseUrl"), arg(accessToken, "accessToken"), out));
        return new OcrClient(out);
    }

    /**
     * A client that obtains tokens itself from {@code {baseUrl}/connect/token} with client
     * credentials, caches them and renews them before they expire. The secret never appears in a
     * message. {@code baseUrl} as for {@link #withToken}.
     */
    public static OcrClient withCredentials(String baseUrl, String clientId, String clientSecret) {
        PointerByReference out = new PointerByReference();
        OcrException.check(LIB.ocr_client_new_with_credentials(arg(baseUrl, "baseUrl"), arg(clientId, "clientId"), arg(clientSecret, "clientSecret"), out));
        return new OcrClient(out);
    }

    /** The version of the native library, e.g. {@code "0.1.0"}. */
    public static String libraryVersion() {
        return LIB.ocr_version();
    }

    /** Limit for connecting (name resolution, TCP, TLS). Default 10 s. */
    public void setConnectTimeout(Duration timeout) {
        int ms = millis(timeout, "timeout");
        run(client -> LIB.ocr_client_set_connect_timeout_ms(client, ms));
    }

    /** Limit for each wait for more bytes from the server. Default 30 s. */
    public void setReadTimeout(Duration timeout) {
        int ms = millis(timeout, "timeout");
        run(client -> LIB.ocr_client_set_read_timeout_ms(client, ms));
    }

    /** Limit for one whole request including its answer. Default 300 s. */
    public void setRequestTimeout(Duration timeout) {
        int ms = millis(timeout, "timeout");
        run(client -> LIB.ocr_client_set_request_timeout_ms(client, ms));
    }

    /** The {@code User-Agent} header. Default {@code "ocrcloud/<version>"}. */
    public void setUserAgent(String userAgent) {
        String agent = arg(userAgent, "userAgent");
        run(client -> LIB.ocr_client_set_user_agent(client, agent));
    }

    /** The largest answer accepted, in bytes (at least 1); larger is {@link OcrCode#TOO_LARGE}. Default 1 GiB. */
    public void setMaxResponseBytes(long maxBytes) {
        nonNegative(maxBytes, "maxBytes");
        run(client -> LIB.ocr_client_set_max_response_bytes(client, maxBytes));
    }

    /** Allows plain {@code http://} for hosts other than loopback (tokens travel in clear text). */
    public void setAllowInsecureHttp(boolean allow) {
        run(client -> LIB.ocr_client_set_allow_insecure_http(client, allow ? 1 : 0));
    }

    /** How many requests one call sends at most on transient failures (1: no retries). Default 3. */
    public void setMaxAttempts(int attempts) {
        nonNegative(attempts, "attempts");
        run(client -> LIB.ocr_client_set_max_attempts(client, attempts));
    }

    /** How many requests {@link #pollMany} has in flight at most (at least 1). Default 4. */
    public void setMaxConnections(int connections) {
        nonNegative(connections, "connections");
        run(client -> LIB.ocr_client_set_max_connections(client, connections));
    }

    /**
     * Also trusts the CA certificates in the PEM file at {@code pemFile}, besides the system's
     * ({@code null}: back to the default). Replaces what an earlier {@code setCaFile} or
     * {@link #setCaPem} added. A missing, unreadable or certificate-less file is
     * {@link OcrCode#INVALID_ARGUMENT} and leaves the client as it was; a certificate the client
     * does not trust is {@link OcrCode#TLS}.
     */
    public void setCaFile(Path pemFile) {
        String path = pemFile == null ? null : arg(pemFile.toString(), "pemFile");
        run(client -> LIB.ocr_client_set_ca_file(client, path));
    }

    /**
     * Like {@link #setCaFile}, with the PEM text in memory (copied); text without a certificate is
     * {@link OcrCode#INVALID_ARGUMENT}. {@code null}: back to the default.
     */
    public void setCaPem(byte[] pem) {
        // An empty array must not arrive as NULL, which would mean the default.
        byte[] text = pem != null && pem.length == 0 ? new byte[1] : pem;
        SizeT len = new SizeT(pem == null ? 0 : pem.length);
        run(client -> LIB.ocr_client_set_ca_pem(client, text, len));
    }

    /**
     * The proxy for a base URL that is not loopback: {@code http://[user:password@]host:port} or
     * {@code https://...} (a CONNECT tunnel); {@code ""}: none; {@code null}: the environment's
     * ({@code HTTPS_PROXY}, {@code HTTP_PROXY}, {@code ALL_PROXY}, {@code NO_PROXY}), the default.
     * SOCKS and other schemes are {@link OcrCode#INVALID_ARGUMENT}.
     */
    public void setProxy(String proxyUrl) {
        String proxy = arg(proxyUrl, "proxyUrl");
        run(client -> LIB.ocr_client_set_proxy(client, proxy));
    }

    /**
     * The most requests per second the client sends, all threads and {@link #pollMany} together;
     * {@code 0} (the default): unlimited. Either way a {@code 429} or {@code 503} slows the client
     * down, and it speeds up again by one request per second each second without throttling. A
     * negative, infinite or NaN rate is {@link OcrCode#INVALID_ARGUMENT}.
     */
    public void setMaxRate(double perSecond) {
        run(client -> LIB.ocr_client_set_max_rate(client, perSecond));
    }

    /**
     * Turns the circuit breaker on (the default) or off: after 5 failures in a row (a 5xx other
     * than 503, or no connection) within 10 s, requests fail at once, without being sent, with
     * {@link OcrCode#NETWORK} and a message saying the service looks down, until a probe (one
     * every 5 s) succeeds. Turning it off also closes it.
     */
    public void setCircuitBreaker(boolean enabled) {
        run(client -> LIB.ocr_client_set_circuit_breaker(client, enabled ? 1 : 0));
    }

    /**
     * The client's request budget now: the counts since it was created, the rate allowed and the
     * breaker's state (see {@link ClientStats}). The figures are read one after the other, not
     * as one snapshot.
     */
    public ClientStats stats() {
        return handle.call(client -> {
            double[] figures = new double[ClientStats.FIGURES];
            DoubleByReference out = new DoubleByReference();
            for (int what = 1; what <= figures.length; what++) {
                OcrException.check(LIB.ocr_client_stats(client, what, out));
                figures[what - 1] = out.getValue();
            }
            return ClientStats.of(figures);
        });
    }

    /** {@link #submit(String, byte[], String, CallOptions)} without limits. */
    public String submit(String operation, byte[] document, String settingsJson) {
        return submit(operation, document, settingsJson, null);
    }

    /**
     * Submits a document and answers the new task's id. {@code settingsJson}: a JSON object sent
     * as the operation's {@code settings}, or {@code null} for its defaults. A submission is only
     * retried when it certainly did not reach the server. {@code call}: the deadline and cancel
     * token of this call ({@code null}: none).
     */
    public String submit(String operation, byte[] document, String settingsJson, CallOptions call) {
        String op = arg(operation, "operation");
        String settings = arg(settingsJson, "settingsJson");
        return handle.call(client -> {
            try (CallOptions.NativeOptions c = new CallOptions.NativeOptions(call)) {
                PointerByReference out = new PointerByReference();
                OcrException.check(LIB.ocr_submit_ex(client, op, document, new SizeT(document.length), settings,
                        c.handle, out));
                return taskId(out);
            }
        });
    }

    /** {@link #submitFile(String, Path, String, CallOptions)} without limits. */
    public String submitFile(String operation, Path path, String settingsJson) {
        return submitFile(operation, path, settingsJson, null);
    }

    /**
     * Submits the file at {@code path} like {@link #submit} does with bytes; the library reads it
     * while it encodes it. An unreadable file is {@link OcrCode#IO}.
     */
    public String submitFile(String operation, Path path, String settingsJson, CallOptions call) {
        String op = arg(operation, "operation");
        String file = arg(path.toString(), "path");
        String settings = arg(settingsJson, "settingsJson");
        return handle.call(client -> {
            try (CallOptions.NativeOptions c = new CallOptions.NativeOptions(call)) {
                PointerByReference out = new PointerByReference();
                OcrException.check(LIB.ocr_submit_file_ex(client, op, file, settings, c.handle, out));
                return taskId(out);
            }
        });
    }

    private static String taskId(PointerByReference out) {
        Pointer id = out.getValue();
        try {
            return id.getString(0, "UTF-8");
        } finally {
            LIB.ocr_string_free(id);
        }
    }

    /** {@link #cancelTask(String, String, CallOptions)} without limits. */
    public void cancelTask(String operation, String taskId) {
        cancelTask(operation, taskId, null);
    }

    /** Removes a task from the service's queue; afterwards it answers NotExist. */
    public void cancelTask(String operation, String taskId, CallOptions call) {
        String op = arg(operation, "operation");
        String id = arg(taskId, "taskId");
        run(call, (client, c) -> LIB.ocr_cancel_task_ex(client, op, id, c));
    }

    /** {@link #taskStatus(String, String, CallOptions)} without limits. */
    public TaskStatus taskStatus(String operation, String taskId) {
        return taskStatus(operation, taskId, null);
    }

    /**
     * A task's status from the cheap status call, which carries no result data
     * ({@link TaskStatus#NOT_EXIST} for an unknown id).
     */
    public TaskStatus taskStatus(String operation, String taskId, CallOptions call) {
        String op = arg(operation, "operation");
        String id = arg(taskId, "taskId");
        IntByReference status = new IntByReference();
        run(call, (client, c) -> LIB.ocr_get_task_status_ex(client, op, id, c, status));
        return TaskStatus.of(status.getValue());
    }

    /** {@link #fetch(String, String)} with {@code RecognizePdf}. */
    public OcrResult fetch(String taskId) {
        String id = arg(taskId, "taskId");
        return handle.call(client -> {
            PointerByReference out = new PointerByReference();
            OcrException.check(LIB.ocr_fetch_result(client, id, out));
            return OcrResult.take(out.getValue());
        });
    }

    /** {@link #fetch(String, String, CallOptions)} without limits. */
    public OcrResult fetch(String operation, String taskId) {
        return fetch(operation, taskId, null);
    }

    /**
     * Asks once for a task's current answer. Every well-formed answer is a result, whatever the
     * task's status (Pending, Error, NotExist are information); the caller closes it.
     */
    public OcrResult fetch(String operation, String taskId, CallOptions call) {
        String op = arg(operation, "operation");
        String id = arg(taskId, "taskId");
        return result(call, (client, c, out) -> LIB.ocr_fetch_result_ex(client, op, id, c, out));
    }

    /** {@link #fetchToDir(String, String, Path, CallOptions)} without limits. */
    public OcrResult fetchToDir(String operation, String taskId, Path dir) {
        return fetchToDir(operation, taskId, dir, null);
    }

    /**
     * Like {@link #fetch(String, String, CallOptions)}, but the result files are written to the
     * existing folder {@code dir} while the answer arrives, so memory use does not grow with their
     * size. They are named {@code <task id>.<ext>} (see {@code ocr_fetch_result_to_dir} in the
     * header) and listed with their paths in {@link OcrResult#files()}, without data. A missing
     * folder is {@link OcrCode#IO}.
     */
    public OcrResult fetchToDir(String operation, String taskId, Path dir, CallOptions call) {
        String op = arg(operation, "operation");
        String id = arg(taskId, "taskId");
        String folder = arg(dir.toString(), "dir");
        return result(call, (client, c, out) -> LIB.ocr_fetch_result_to_dir_ex(client, op, id, folder, c, out));
    }

    /** {@link #pollUntilDone(String, String, PollOptions)} with {@code RecognizePdf}. */
    public OcrResult pollUntilDone(String taskId, PollOptions options) {
        String id = arg(taskId, "taskId");
        return handle.call(client -> {
            try (PollOptions.NativeOptions o = new PollOptions.NativeOptions(options)) {
                PointerByReference out = new PointerByReference();
                return o.result(LIB.ocr_poll_until_done(client, id, o.handle, out), out);
            }
        });
    }

    /**
     * Asks for a task's answer until the task is done, waiting as {@code options} say
     * ({@code null}: the defaults). Answers the Completed task's result, which the caller closes.
     * Otherwise throws: {@link OcrCode#TASK_FAILED} (status Error, with the server's messages),
     * {@link OcrCode#TASK_NOT_FOUND}, {@link OcrCode#NOT_READY} (attempts used up),
     * {@link OcrCode#TIMEOUT} (deadline), {@link OcrCode#CANCELLED}, or the last request's failure.
     * Blocks the calling thread, which also runs the progress listener.
     */
    public OcrResult pollUntilDone(String operation, String taskId, PollOptions options) {
        String op = arg(operation, "operation");
        String id = arg(taskId, "taskId");
        return handle.call(client -> {
            try (PollOptions.NativeOptions o = new PollOptions.NativeOptions(options)) {
                PointerByReference out = new PointerByReference();
                return o.result(LIB.ocr_poll_until_done_for(client, op, id, o.handle, out), out);
            }
        });
    }

    /**
     * {@link #pollUntilDone(String, String, PollOptions)} on a thread of its own (a daemon
     * thread, which also runs the progress listener), so that a waiting poll holds no pool
     * thread. The future completes with the result (the caller closes it) or with the poll's
     * {@link OcrException}. {@code future.cancel(...)} cancels the native poll within
     * milliseconds through the options' cancel token (one of its own if they have none; a token
     * of the caller's then stays triggered); a result that arrives after the cancel is closed.
     * A future derived from this one ({@code thenApply}, ...) does not pass its cancel on.
     */
    public CompletableFuture<OcrResult> pollUntilDoneAsync(String operation, String taskId, PollOptions options) {
        PollOptions given = options != null ? options : PollOptions.builder().build();
        CancelToken own = given.cancelToken() == null ? new CancelToken() : null;
        CancelToken token = own != null ? own : given.cancelToken();
        PollOptions withToken = own != null ? given.withCancelToken(own) : given;
        CancellingFuture future = new CancellingFuture(token, own);
        Thread thread = new Thread(() -> {
            try {
                OcrResult result = pollUntilDone(operation, taskId, withToken);
                if (!future.complete(result)) {
                    result.close(); // cancelled meanwhile
                }
            } catch (Throwable t) {
                future.completeExceptionally(t);
            } finally {
                future.closeToken();
            }
        }, "ocrcloud-poll");
        thread.setDaemon(true);
        thread.start();
        return future;
    }

    /** A future whose cancel triggers the poll's token, unless the poll has ended and closed it. */
    private static final class CancellingFuture extends CompletableFuture<OcrResult> {
        private final CancelToken token;
        private final CancelToken own;
        private boolean ended;

        CancellingFuture(CancelToken token, CancelToken own) {
            this.token = token;
            this.own = own;
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            boolean cancelled = super.cancel(mayInterruptIfRunning);
            synchronized (this) {
                if (cancelled && !ended) {
                    token.cancel();
                }
            }
            return cancelled;
        }

        synchronized void closeToken() {
            ended = true;
            if (own != null) {
                own.close();
            }
        }
    }

    /**
     * Like {@link #pollUntilDone(String, String, PollOptions)}, but the final answer's files are
     * written to {@code dir} as {@link #fetchToDir} describes.
     */
    public OcrResult pollUntilDoneToDir(String operation, String taskId, PollOptions options, Path dir) {
        String op = arg(operation, "operation");
        String id = arg(taskId, "taskId");
        String folder = arg(dir.toString(), "dir");
        return handle.call(client -> {
            try (PollOptions.NativeOptions o = new PollOptions.NativeOptions(options)) {
                PointerByReference out = new PointerByReference();
                return o.result(LIB.ocr_poll_until_done_to_dir(client, op, id, o.handle, folder, out), out);
            }
        });
    }

    /**
     * Polls many tasks together from this thread, each on the schedule {@code options} give (the
     * deadline and the cancel token apply to the whole call; progress comes on this thread), with
     * at most {@link #setMaxConnections} requests in flight. Answers one {@link PollOutcome} per
     * task, in order, whose error carries that task's own message; the caller closes their
     * results. Throws only when the call itself fails
     * (such as a {@code null} task id) or the progress listener threw.
     */
    public List<PollOutcome> pollMany(String operation, List<String> taskIds, PollOptions options) {
        String op = arg(operation, "operation");
        String[] ids = new String[taskIds.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = arg(taskIds.get(i), "taskIds[" + i + "]");
        }
        return handle.call(client -> {
            try (PollOptions.NativeOptions o = new PollOptions.NativeOptions(options)) {
                Pointer[] results = new Pointer[ids.length];
                int[] codes = new int[ids.length];
                Arrays.fill(codes, -1);
                int code = LIB.ocr_poll_many(client, op, ids, new SizeT(ids.length), o.handle, results, codes);
                return o.outcomes(code, taskIds, results, codes);
            }
        });
    }

    /** Frees the client once calls running on other threads have returned; idempotent. */
    @Override
    public void close() {
        handle.close();
    }

    private interface Setter {
        int apply(ClientHandle client);
    }

    private interface LimitedCall {
        int apply(ClientHandle client, CallOptionsHandle call);
    }

    private interface LimitedFetch {
        int apply(ClientHandle client, CallOptionsHandle call, PointerByReference out);
    }

    /** Runs one native call with the native form of {@code call}. */
    private void run(CallOptions call, LimitedCall body) {
        handle.call(client -> {
            try (CallOptions.NativeOptions c = new CallOptions.NativeOptions(call)) {
                OcrException.check(body.apply(client, c.handle));
                return null;
            }
        });
    }

    /** Runs one native call that answers a result, with the native form of {@code call}. */
    private OcrResult result(CallOptions call, LimitedFetch body) {
        return handle.call(client -> {
            try (CallOptions.NativeOptions c = new CallOptions.NativeOptions(call)) {
                PointerByReference out = new PointerByReference();
                OcrException.check(body.apply(client, c.handle, out));
                return OcrResult.take(out.getValue());
            }
        });
    }

    private void run(Setter setter) {
        handle.call(client -> {
            OcrException.check(setter.apply(client));
            return null;
        });
    }

    /**
     * A string argument, refused with IllegalArgumentException naming it when C could not take it
     * as it is: a NUL inside would cut it short, and a lone surrogate would reach the library as
     * {@code ?} (another task id, say).
     */
    static String arg(String s, String name) {
        if (s == null) {
            return null;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\0') {
                throw new IllegalArgumentException(name + " contains a NUL character");
            }
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new IllegalArgumentException(name + " contains a lone surrogate (U+"
                        + Integer.toHexString(c).toUpperCase() + " at index " + i + "), which is not text");
            }
        }
        return s;
    }

    /** A count or size, refused when negative (C takes it unsigned: -1 would mean 4294967295). */
    static long nonNegative(long value, String name) {
        if (value < 0) {
            throw new IllegalArgumentException(name + " must not be negative: " + value);
        }
        return value;
    }

    /** A duration as the C API's unsigned 32-bit milliseconds. */
    static int millis(Duration d, String name) {
        long ms = java.util.Objects.requireNonNull(d, name).toMillis();
        if (ms < 0 || ms > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException(name + " out of range (0 to 4294967295 ms): " + d);
        }
        return (int) ms;
    }
}

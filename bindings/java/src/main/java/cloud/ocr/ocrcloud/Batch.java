package cloud.ocr.ocrcloud;

import cloud.ocr.ocrcloud.OcrLibrary.BatchHandle;
import cloud.ocr.ocrcloud.OcrLibrary.BatchProgressFn;
import cloud.ocr.ocrcloud.OcrLibrary.ClientHandle;
import cloud.ocr.ocrcloud.OcrLibrary.SizeT;
import cloud.ocr.ocrcloud.OcrLibrary.SizeTByReference;
import com.sun.jna.ptr.PointerByReference;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import static cloud.ocr.ocrcloud.OcrLibrary.LIB;

/**
 * A batch: inputs, an output folder and a journal (an SQLite file) that records what was
 * submitted, so that a batch stopped at any moment (a crash, a kill, a cancel) goes on where it
 * stopped when it is opened and run again with the same inputs.
 *
 * <p>It holds the journal's lock until {@link #close()} (idempotent; a batch garbage-collected
 * without it is closed by a Cleaner). It keeps its {@link OcrClient} in use until then: closing
 * the client frees it only after the batch is closed. The methods are synchronized: a run blocks
 * the batch's other methods on other threads (its listener, on the run's thread, may read it).
 * Failures throw {@link OcrException}; a negative {@code jobs} IllegalArgumentException.
 * {@code null} paths reach the library as NULL, which refuses them with
 * {@link OcrCode#INVALID_ARGUMENT} where a path is required.
 */
public final class Batch implements AutoCloseable {
    private final NativeHandle<BatchHandle> handle;
    /** The callback of the run under way: referenced while native code may call it. */
    private BatchProgressFn running;
    private Throwable listenerFailure;

    private Batch(BatchHandle batch, NativeHandle<ClientHandle> client) {
        handle = new NativeHandle<>(this, "Batch", batch, b -> {
            LIB.ocr_batch_free(b);
            client.release();
        });
    }

    /**
     * Opens a batch over {@code client} that writes results into {@code outputDir} (created if
     * missing), with its journal at {@code journal} ({@code null}:
     * {@code <outputDir>/.ocrcloud/journal.sqlite}). A journal that another open batch holds, in
     * this or another process, is {@link OcrCode#IO} ("... is in use by another batch ..."); a
     * journal of another output folder, or not a journal, is {@link OcrCode#INVALID_ARGUMENT}.
     */
    public static Batch open(OcrClient client, Path journal, Path outputDir) {
        String journalPath = path(journal, "journal");
        String output = path(outputDir, "outputDir");
        return openWith(client, (c, out) -> LIB.ocr_batch_open(c, journalPath, output, out));
    }

    /**
     * Opens batch {@code name} of a journal in PostgreSQL that many processes, on many hosts, share
     * ({@code ocr_batch_open_shared}; see docs/shared-batches.md): {@code url} is
     * {@code postgresql://USER[:PASSWORD]@HOST[:PORT]/DB}; results go to {@code outputDir}. Then add
     * inputs and run as for {@link #open}; a run returns when no input of the batch is left to do.
     * A newer schema is {@link OcrCode#INVALID_ARGUMENT}, refused credentials or an unreachable
     * database {@link OcrCode#IO}; the password is in no message.
     */
    public static Batch openShared(OcrClient client, String url, String name, Path outputDir) {
        String u = OcrClient.arg(url, "url");
        String n = OcrClient.arg(name, "name");
        String output = path(outputDir, "outputDir");
        return openWith(client, (c, out) -> LIB.ocr_batch_open_shared(c, u, n, output, out));
    }

    private interface NativeOpen {
        int open(ClientHandle client, PointerByReference out);
    }

    private static Batch openWith(OcrClient client, NativeOpen open) {
        NativeHandle<ClientHandle> owner = Objects.requireNonNull(client, "client").handle;
        ClientHandle c = owner.acquire();
        try {
            PointerByReference out = new PointerByReference();
            OcrException.check(open.open(c, out));
            return new Batch(new BatchHandle(out.getValue()), owner);
        } catch (RuntimeException | Error e) {
            owner.release();
            throw e;
        }
    }

    /**
     * Adds one file, its results named after its path relative to {@code root} ({@code null}: its
     * own folder): those of {@code <root>/a/b.pdf} are {@code <outputDir>/a/b.<ext>}.
     * {@code operation} {@code null} chooses by extension; {@code settingsJson} {@code null} takes
     * the operation's defaults. A file that cannot be submitted (empty, unreadable, too large) is
     * added as failed with the reason. Adding a file twice does nothing the second time.
     */
    public synchronized void addFile(Path path, Path root, String operation, String settingsJson) {
        String file = path(path, "path");
        String folder = path(root, "root");
        String op = OcrClient.arg(operation, "operation");
        String settings = OcrClient.arg(settingsJson, "settingsJson");
        handle.call(b -> {
            OcrException.check(LIB.ocr_batch_add_file(b, file, folder, op, settings));
            return null;
        });
    }

    /**
     * Adds every PDF and image under {@code folder}, recursively, in name order (hidden entries
     * skipped), named after their paths relative to it; answers how many were added. A folder
     * without any document is {@link OcrCode#INVALID_ARGUMENT}.
     */
    public synchronized int addFolder(Path folder, String operation, String settingsJson) {
        String dir = path(folder, "folder");
        String op = OcrClient.arg(operation, "operation");
        String settings = OcrClient.arg(settingsJson, "settingsJson");
        return handle.call(b -> {
            SizeTByReference added = new SizeTByReference();
            OcrException.check(LIB.ocr_batch_add_folder(b, dir, op, settings, added));
            return Math.toIntExact(added.getValue());
        });
    }

    /**
     * Runs the batch until every input is completed or failed, with at most {@code jobs} requests
     * at once (0: 8), on this thread. {@code options} ({@code null}: the defaults) set how each
     * task is polled; their cancel token stops the run with {@link OcrCode#CANCELLED} (the batch
     * may be run again) and their progress listener is not used. {@code listener}
     * ({@code null}: none) hears each change of an input's state. Returns normally even if some
     * inputs failed (see {@link #count}); throws when the whole batch stops, or what the listener
     * threw.
     */
    public synchronized void run(int jobs, PollOptions options, BatchListener listener) {
        OcrClient.nonNegative(jobs, "jobs");
        PollOptions poll = options != null ? options : PollOptions.builder().build();
        handle.call(b -> {
            try (CancelToken own = poll.cancelToken() == null ? new CancelToken() : null;
                    PollOptions.NativeOptions o = new PollOptions.NativeOptions(poll)) {
                CancelToken stop = own != null ? own : poll.cancelToken();
                if (own != null) {
                    own.attachTo(o.handle);
                }
                listenerFailure = null;
                running = listener == null ? null : (userData, index, state) -> {
                    if (listenerFailure != null) {
                        return;
                    }
                    try {
                        listener.onProgress(Math.toIntExact(index.longValue()), BatchState.of(state));
                    } catch (Throwable t) {
                        listenerFailure = t; // thrown once the run returns; it must not unwind into C
                        cancel(stop);
                    }
                };
                int code = LIB.ocr_batch_run(b, jobs, o.handle, running, null);
                running = null;
                if (listenerFailure instanceof RuntimeException e) {
                    throw e;
                }
                if (listenerFailure instanceof Error e) {
                    throw e;
                }
                if (listenerFailure != null) {
                    throw new IllegalStateException("the batch listener failed", listenerFailure);
                }
                OcrException.check(code);
                return null;
            }
        });
    }

    /** How many inputs were added. */
    public synchronized int size() {
        return handle.call(b -> Math.toIntExact(LIB.ocr_batch_size(b).longValue()));
    }

    /** How many inputs are in {@code state}. */
    public synchronized int count(BatchState state) {
        int value = state.ordinal();
        return handle.call(b -> Math.toIntExact(LIB.ocr_batch_count(b, value).longValue()));
    }

    /** A copy of input {@code index} (in the order of the adds); IndexOutOfBoundsException past {@link #size}. */
    public synchronized BatchItem item(int index) {
        return handle.call(b -> {
            Objects.checkIndex(index, Math.toIntExact(LIB.ocr_batch_size(b).longValue()));
            SizeT i = new SizeT(index);
            String taskId = LIB.ocr_batch_item_task_id(b, i);
            int code = LIB.ocr_batch_item_code(b, i);
            List<Path> outputs = new ArrayList<>();
            for (long o = 0, n = LIB.ocr_batch_item_output_count(b, i).longValue(); o < n; o++) {
                outputs.add(Path.of(LIB.ocr_batch_item_output(b, i, new SizeT(o))));
            }
            return new BatchItem(Path.of(LIB.ocr_batch_item_path(b, i)), BatchState.of(LIB.ocr_batch_item_state(b, i)),
                    taskId, code == 0 ? null : OcrCode.of(code), LIB.ocr_batch_item_message(b, i), List.copyOf(outputs),
                    Integer.toUnsignedLong(LIB.ocr_batch_item_possible_duplicates(b, i)),
                    LIB.ocr_batch_item_skipped(b, i) != 0, LIB.ocr_batch_item_seconds(b, i));
        });
    }

    /** Frees the batch and unlocks its journal, after a run under way on another thread; idempotent. */
    @Override
    public void close() {
        handle.close();
    }

    private static String path(Path path, String name) {
        return path == null ? null : OcrClient.arg(path.toString(), name);
    }

    /** Triggers the token that stops the run, unless its owner closed it meanwhile. */
    private static void cancel(CancelToken token) {
        try {
            token.cancel();
        } catch (IllegalStateException closed) {
            // the run goes on to its end
        }
    }
}

using System;
using System.Collections.Generic;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace Ocrcloud
{
    /// <summary>Where an input of a <see cref="Batch"/> is: the library's <c>OCR_BATCH_*</c> values.</summary>
    public enum BatchState
    {
        /// <summary>Not submitted yet (or to be submitted again).</summary>
        Queued = 0,
        /// <summary>
        /// Its intent is in the journal and its submission under way. After a crash in this state
        /// the input is submitted again and counted as a possible duplicate.
        /// </summary>
        Submitting = 1,
        /// <summary>Its task id is in the journal; the task is being polled.</summary>
        Submitted = 2,
        /// <summary>Its results are in the output folder.</summary>
        Completed = 3,
        /// <summary>It failed; <see cref="BatchItem.Code"/> and <see cref="BatchItem.Message"/> say why.</summary>
        Failed = 4,
    }

    /// <summary>One change of an input's state seen by <see cref="Batch.Run"/>.</summary>
    public sealed class BatchProgress
    {
        internal BatchProgress(int index, BatchState state)
        {
            Index = index;
            State = state;
        }

        /// <summary>The input's index (the order of the adds).</summary>
        public int Index { get; }

        /// <summary>Its new state, already in the journal.</summary>
        public BatchState State { get; }
    }

    /// <summary>One input of a <see cref="Batch"/> as it was when <see cref="Batch.Item"/> copied it. Immutable.</summary>
    public sealed class BatchItem
    {
        internal BatchItem(string path, BatchState state, string taskId, OcrCode? code, string message,
            IReadOnlyList<string> outputs, uint possibleDuplicates, bool skipped, double seconds)
        {
            Path = path;
            State = state;
            TaskId = taskId;
            Code = code;
            Message = message;
            Outputs = outputs;
            PossibleDuplicates = possibleDuplicates;
            Skipped = skipped;
            Seconds = seconds;
        }

        /// <summary>Its path as it was added.</summary>
        public string Path { get; }

        /// <summary>Where it is.</summary>
        public BatchState State { get; }

        /// <summary>Its task id; null if it has none (not submitted, or submitted again).</summary>
        public string TaskId { get; }

        /// <summary>The code of its failure; null if it did not fail.</summary>
        public OcrCode? Code { get; }

        /// <summary>Why it failed, one sentence; "" if it did not fail.</summary>
        public string Message { get; }

        /// <summary>Its result files (the output folder joined with their names); empty unless completed.</summary>
        public IReadOnlyList<string> Outputs { get; }

        /// <summary>How often it was submitted again after a submission that may have reached the service (each may be a duplicate task).</summary>
        public uint PossibleDuplicates { get; }

        /// <summary>Whether an earlier run completed it (nothing was done for it now).</summary>
        public bool Skipped { get; }

        /// <summary>Seconds from its first submission to its end; -1 if it has not ended.</summary>
        public double Seconds { get; }
    }

    /// <summary>
    /// A batch: inputs, an output folder and a journal (an SQLite file) that records what was
    /// submitted, so that a batch stopped at any moment (a crash, a kill, a cancel) goes on where
    /// it stopped when it is opened and run again with the same inputs.
    /// It holds the journal's lock until <see cref="Dispose"/> (idempotent; later calls throw
    /// ObjectDisposedException), and keeps its <see cref="OcrClient"/>'s native client alive until
    /// then, also if the client is disposed first. The methods take a lock: a run blocks the
    /// batch's other methods on other threads (its progress, on the run's thread, may read it).
    /// Failures throw <see cref="OcrException"/>; null paths reach the library as NULL, which
    /// refuses them with <see cref="OcrCode.InvalidArgument"/> where a path is required.
    /// </summary>
    public sealed class Batch : IDisposable
    {
        private readonly BatchHandle handle;
        private readonly object sync = new object();
        private volatile bool disposed;
        // The callback of the run under way, referenced while native code may call it.
        private Native.BatchProgressFn running;
        private Exception progressFailure;

        private Batch(BatchHandle handle)
        {
            this.handle = handle;
        }

        /// <summary>
        /// Opens a batch over <paramref name="client"/> that writes results into
        /// <paramref name="outputDirectory"/> (created if missing), with its journal at
        /// <paramref name="journalPath"/> (null: <c>&lt;outputDirectory&gt;/.ocrcloud/journal.sqlite</c>).
        /// A journal that another open batch holds, in this or another process, is
        /// <see cref="OcrCode.Io"/> ("... is in use by another batch ..."); a journal of another
        /// output folder, or not a journal, is <see cref="OcrCode.InvalidArgument"/>.
        /// </summary>
        public static Batch Open(OcrClient client, string journalPath, string outputDirectory)
        {
            if (client == null)
            {
                throw new ArgumentNullException("client");
            }
            byte[] journal = Native.Utf8(journalPath, "journalPath");
            byte[] output = Native.Utf8(outputDirectory, "outputDirectory");
            return OpenWith(client, (ClientHandle c, out BatchHandle b) => Native.ocr_batch_open(c, journal, output, out b));
        }

        /// <summary>
        /// Opens batch <paramref name="name"/> of a journal in PostgreSQL that many processes, on
        /// many hosts, share (see <c>ocr_batch_open_shared</c> and docs/shared-batches.md):
        /// <paramref name="url"/> is <c>postgresql://USER[:PASSWORD]@HOST[:PORT]/DB</c>; results go
        /// to <paramref name="outputDirectory"/>. Then add inputs and <see cref="Run()"/> as for
        /// <see cref="Open"/>; a run returns when no input of the batch is left to do. A newer
        /// schema is <see cref="OcrCode.InvalidArgument"/>, refused credentials or an unreachable
        /// database <see cref="OcrCode.Io"/>; the password is in no message.
        /// </summary>
        public static Batch OpenShared(OcrClient client, string url, string name, string outputDirectory)
        {
            if (client == null)
            {
                throw new ArgumentNullException("client");
            }
            byte[] urlBytes = Native.Utf8(url, "url");
            byte[] nameBytes = Native.Utf8(name, "name");
            byte[] output = Native.Utf8(outputDirectory, "outputDirectory");
            return OpenWith(client, (ClientHandle c, out BatchHandle b) =>
                Native.ocr_batch_open_shared(c, urlBytes, nameBytes, output, out b));
        }

        private delegate int NativeOpen(ClientHandle client, out BatchHandle batch);

        private static Batch OpenWith(OcrClient client, NativeOpen open)
        {
            ClientHandle clientHandle = client.Open();
            bool added = false;
            clientHandle.DangerousAddRef(ref added);
            BatchHandle batch = null;
            try
            {
                int code = open(clientHandle, out batch);
                if (code != 0)
                {
                    throw Native.Failure(code);
                }
            }
            catch
            {
                clientHandle.DangerousRelease();
                if (batch != null)
                {
                    batch.Dispose(); // holds nothing: ReleaseHandle does not run
                }
                throw;
            }
            batch.Client = clientHandle;
            return new Batch(batch);
        }

        /// <summary>
        /// Adds one file, its results named after its path relative to <paramref name="root"/>
        /// (null: its own folder): those of <c>&lt;root&gt;/a/b.pdf</c> are
        /// <c>&lt;outputDirectory&gt;/a/b.&lt;ext&gt;</c>. <paramref name="operation"/> null chooses by
        /// extension; <paramref name="settingsJson"/> null takes the operation's defaults. A file
        /// that cannot be submitted (empty, unreadable, too large) is added as failed with the
        /// reason. Adding a file twice does nothing the second time.
        /// </summary>
        public void AddFile(string path, string root = null, string operation = null, string settingsJson = null)
        {
            byte[] file = Native.Utf8(path, "path");
            byte[] folder = Native.Utf8(root, "root");
            byte[] op = Native.Utf8(operation, "operation");
            byte[] settings = Native.Utf8(settingsJson, "settingsJson");
            lock (sync)
            {
                Native.Check(Native.ocr_batch_add_file(Handle(), file, folder, op, settings));
            }
        }

        /// <summary>
        /// Adds every PDF and image under <paramref name="folder"/>, recursively, in name order
        /// (hidden entries skipped), named after their paths relative to it; answers how many were
        /// added. A folder without any document is <see cref="OcrCode.InvalidArgument"/>.
        /// </summary>
        public int AddFolder(string folder, string operation = null, string settingsJson = null)
        {
            byte[] dir = Native.Utf8(folder, "folder");
            byte[] op = Native.Utf8(operation, "operation");
            byte[] settings = Native.Utf8(settingsJson, "settingsJson");
            lock (sync)
            {
                UIntPtr added;
                Native.Check(Native.ocr_batch_add_folder(Handle(), dir, op, settings, out added));
                return checked((int)added.ToUInt64());
            }
        }

        /// <summary>
        /// Runs the batch on this thread until every input is completed or failed, with at most
        /// <paramref name="jobs"/> requests at once (0: 8). <paramref name="options"/> (null: the
        /// defaults) set how each task is polled. Cancelling <paramref name="cancellationToken"/>
        /// stops the run within milliseconds with OperationCanceledException; the batch may be run
        /// again. <paramref name="progress"/> is called synchronously on this thread after each
        /// change of an input's state; if it throws, it is not called again, the run is stopped, and
        /// the run throws that exception. Returns normally even if some inputs failed (see
        /// <see cref="Count"/>); throws <see cref="OcrException"/> when the whole batch stops.
        /// </summary>
        public void Run(uint jobs = 0, PollOptions options = null,
            CancellationToken cancellationToken = default(CancellationToken), IProgress<BatchProgress> progress = null)
        {
            lock (sync)
            {
                BatchHandle batch = Handle();
                using (var poll = new NativePoll(options, cancellationToken, null))
                {
                    progressFailure = null;
                    running = progress == null ? null : new Native.BatchProgressFn((userData, index, state) => {
                        if (progressFailure != null)
                        {
                            return;
                        }
                        try
                        {
                            progress.Report(new BatchProgress(checked((int)index.ToUInt64()), (BatchState)state));
                        }
                        catch (Exception e)
                        {
                            progressFailure = e; // thrown once the run returns; it must not unwind into C
                            poll.Cancel();
                        }
                    });
                    int code = Native.ocr_batch_run(batch, jobs, poll.Options, running, IntPtr.Zero);
                    OcrException failure = code == 0 ? null : Native.Failure(code);
                    GC.KeepAlive(running);
                    running = null;
                    if (progressFailure != null)
                    {
                        ExceptionDispatchInfo.Capture(progressFailure).Throw();
                    }
                    if (failure != null)
                    {
                        throw poll.Failure(failure);
                    }
                }
            }
        }

        /// <summary>How many inputs were added.</summary>
        public int Size
        {
            get
            {
                lock (sync)
                {
                    return checked((int)Native.ocr_batch_size(Handle()).ToUInt64());
                }
            }
        }

        /// <summary>How many inputs are in <paramref name="state"/>.</summary>
        public int Count(BatchState state)
        {
            lock (sync)
            {
                return checked((int)Native.ocr_batch_count(Handle(), (int)state).ToUInt64());
            }
        }

        /// <summary>A copy of input <paramref name="index"/> (in the order of the adds); ArgumentOutOfRangeException past <see cref="Size"/>.</summary>
        public BatchItem Item(int index)
        {
            lock (sync)
            {
                if (index < 0 || index >= Size)
                {
                    throw new ArgumentOutOfRangeException("index", index, "no such input");
                }
                BatchHandle batch = Handle();
                var i = (UIntPtr)(uint)index;
                int code = Native.ocr_batch_item_code(batch, i);
                var outputs = new List<string>();
                for (ulong o = 0, n = Native.ocr_batch_item_output_count(batch, i).ToUInt64(); o < n; o++)
                {
                    outputs.Add(Native.FromUtf8(Native.ocr_batch_item_output(batch, i, (UIntPtr)o)));
                }
                return new BatchItem(Native.FromUtf8(Native.ocr_batch_item_path(batch, i)),
                    (BatchState)Native.ocr_batch_item_state(batch, i), Native.FromUtf8(Native.ocr_batch_item_task_id(batch, i)),
                    code == 0 ? (OcrCode?)null : (OcrCode)code, Native.FromUtf8(Native.ocr_batch_item_message(batch, i)),
                    outputs.AsReadOnly(), Native.ocr_batch_item_possible_duplicates(batch, i),
                    Native.ocr_batch_item_skipped(batch, i) != 0, Native.ocr_batch_item_seconds(batch, i));
            }
        }

        /// <summary>Frees the batch and unlocks its journal, after a run under way on another thread has returned; idempotent.</summary>
        public void Dispose()
        {
            disposed = true;
            handle.Dispose();
        }

        private BatchHandle Handle()
        {
            if (disposed)
            {
                throw new ObjectDisposedException("Batch", "the Batch is disposed");
            }
            return handle;
        }
    }
}

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using Ocrcloud;

/// <summary>
/// The C# binding against two running emulators (started with --pending-ms 100 --processing-ms 100, the
/// second over HTTPS with --tls-self-signed CA_FILE).
/// Usage: BindingTests.exe EMULATOR_URL SAMPLE_PDF SAMPLE_EXE HEADER TLS_URL CA_FILE NUPKG. Every static method
/// named Test* is a test; the last line says "N passed, M failed" and the exit status is non-zero on any
/// failure.
/// </summary>
public static class BindingTests
{
    private static string url;
    private static string samplePdf;
    private static string sampleExe;
    private static string header;
    private static string tlsUrl;
    private static string caFile;
    private static string nupkg;

    public static int Main(string[] args)
    {
        url = args[0];
        samplePdf = args[1];
        sampleExe = args[2];
        header = File.ReadAllText(args[3]);
        tlsUrl = args[4];
        caFile = args[5];
        nupkg = args[6];
        int passed = 0, failed = 0;
        foreach (MethodInfo test in typeof(BindingTests).GetMethods(BindingFlags.Static | BindingFlags.NonPublic)
                     .Where(m => m.Name.StartsWith("Test")).OrderBy(m => m.Name))
        {
            var watch = Stopwatch.StartNew();
            try
            {
                test.Invoke(null, null);
                passed++;
                Console.WriteLine("PASS {0} ({1} ms)", test.Name, watch.ElapsedMilliseconds);
            }
            catch (TargetInvocationException e)
            {
                failed++;
                Console.WriteLine("FAIL {0}: {1}", test.Name, e.InnerException);
            }
        }
        Console.WriteLine("{0} passed, {1} failed", passed, failed);
        return failed == 0 ? 0 : 1;
    }

    // ---- helpers ----

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new Exception("check failed: " + what);
        }
    }

    private static void Equal<T>(T actual, T expected)
    {
        if (!EqualityComparer<T>.Default.Equals(actual, expected))
        {
            throw new Exception("expected <" + expected + "> but was <" + actual + ">");
        }
    }

    /// <summary>Runs body, which must throw OcrException with code; answers it.</summary>
    private static OcrException Fails(OcrCode code, Action body)
    {
        OcrException e = Throws<OcrException>(body);
        Check(e.Code == code, "expected " + code + " but got " + e);
        Check(e.Message.Length > 0, "a message");
        return e;
    }

    /// <summary>Runs body, which must throw T (or a subclass); answers it.</summary>
    private static T Throws<T>(Action body) where T : Exception
    {
        try
        {
            body();
        }
        catch (T e)
        {
            return e;
        }
        catch (Exception e)
        {
            throw new Exception("expected " + typeof(T).Name + " but got " + e);
        }
        throw new Exception("expected " + typeof(T).Name);
    }

    private static OcrClient DemoClient()
    {
        return OcrClient.WithCredentials(url, "demo", "demo-secret");
    }

    private static PollOptions Fast()
    {
        return new PollOptions
        {
            Interval = TimeSpan.FromMilliseconds(30),
            Backoff = new Backoff(1.0, TimeSpan.FromMilliseconds(30)),
            Timeout = TimeSpan.FromSeconds(10),
        };
    }

    /// <summary>Reports synchronously on the polling thread.</summary>
    private sealed class Recorder : IProgress<PollProgress>
    {
        public readonly List<PollProgress> Reports = new List<PollProgress>();
        public readonly List<int> Threads = new List<int>();
        public Action OnReport = () => { };

        public void Report(PollProgress value)
        {
            Reports.Add(value);
            Threads.Add(Thread.CurrentThread.ManagedThreadId);
            OnReport();
        }
    }

    private static string Control(string method, string path, string json)
    {
        using (var web = new WebClient { Encoding = Encoding.UTF8 })
        {
            if (json == null)
            {
                return web.DownloadString(url + path);
            }
            web.Headers[HttpRequestHeader.ContentType] = "application/json";
            return web.UploadString(url + path, method, json);
        }
    }

    /// <summary>Creates a fixture task through the emulator's control endpoint and answers its id.</summary>
    private static string Fixture(string json)
    {
        return Control("POST", "/_emulator/tasks", json);
    }

    /// <summary>How many GETs the emulator answered for a task.</summary>
    private static int Polls(string taskId)
    {
        Match m = Regex.Match(Control("GET", "/_emulator/tasks/" + Uri.EscapeDataString(taskId), null), "\"polls\":\\s*(\\d+)");
        Check(m.Success, "polls in the task's description");
        return int.Parse(m.Groups[1].Value);
    }

    [DllImport("ocrcloud")]
    private static extern IntPtr ocr_code_name(int code);

    [DllImport("ocrcloud")]
    private static extern IntPtr ocr_task_status_name(int status);

    [DllImport("libc.so.6")]
    private static extern int malloc_trim(UIntPtr pad);

    /// <summary>
    /// The process's resident set size in bytes, after a garbage collection and after giving free
    /// malloc pages back to the system, so that only live memory counts.
    /// </summary>
    private static long Rss()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        malloc_trim(UIntPtr.Zero);
        string[] fields = File.ReadAllText("/proc/self/statm").Trim().Split(' ');
        return long.Parse(fields[1]) * 4096;
    }

    /// <summary>
    /// A loopback listener that accepts connections and never answers: a request to it waits until
    /// the client gives up. Dispose it explicitly (mono).
    /// </summary>
    private sealed class SilentServer : IDisposable
    {
        private readonly TcpListener listener = new TcpListener(IPAddress.Loopback, 0);
        private readonly List<TcpClient> held = new List<TcpClient>();
        private readonly Thread acceptor;

        public SilentServer()
        {
            listener.Start(16);
            Url = "http://127.0.0.1:" + ((IPEndPoint)listener.LocalEndpoint).Port;
            acceptor = new Thread(() => {
                try
                {
                    while (true)
                    {
                        TcpClient connection = listener.AcceptTcpClient();
                        lock (held)
                        {
                            held.Add(connection);
                        }
                    }
                }
                catch (SocketException)
                {
                    // Stop() ends the loop
                }
                catch (ObjectDisposedException)
                {
                }
            }) { IsBackground = true };
            acceptor.Start();
        }

        public string Url { get; private set; }

        public void Dispose()
        {
            listener.Stop();
            acceptor.Join(2000);
            lock (held)
            {
                foreach (TcpClient connection in held)
                {
                    connection.Close();
                }
            }
        }
    }

    /// <summary>The calls that take a timeout and a CancellationToken, by name.</summary>
    private static List<KeyValuePair<string, Action<TimeSpan, CancellationToken>>> EachCall(OcrClient client, string dir)
    {
        byte[] pdf = Encoding.UTF8.GetBytes("%PDF-1.4");
        return new List<KeyValuePair<string, Action<TimeSpan, CancellationToken>>>
        {
            new KeyValuePair<string, Action<TimeSpan, CancellationToken>>("Submit", (t, c) => client.Submit(null, pdf, null, t, c)),
            new KeyValuePair<string, Action<TimeSpan, CancellationToken>>("SubmitFile", (t, c) => client.SubmitFile(null, samplePdf, null, t, c)),
            new KeyValuePair<string, Action<TimeSpan, CancellationToken>>("Fetch", (t, c) => client.Fetch("task", t, c).Dispose()),
            new KeyValuePair<string, Action<TimeSpan, CancellationToken>>("FetchToDir", (t, c) => client.FetchToDir(null, "task", dir, t, c).Dispose()),
            new KeyValuePair<string, Action<TimeSpan, CancellationToken>>("GetTaskStatus", (t, c) => client.GetTaskStatus(null, "task", t, c)),
            new KeyValuePair<string, Action<TimeSpan, CancellationToken>>("CancelTask", (t, c) => client.CancelTask(null, "task", t, c)),
        };
    }

    // ---- tests ----

    private static SortedDictionary<string, int> Defines(string prefix)
    {
        var found = new SortedDictionary<string, int>();
        foreach (Match m in Regex.Matches(header, "#define " + prefix + @"(\w+) (\d+)"))
        {
            found[m.Groups[1].Value] = int.Parse(m.Groups[2].Value);
        }
        return found;
    }

    private static SortedDictionary<string, int> Members(Type type)
    {
        var found = new SortedDictionary<string, int>();
        foreach (object value in Enum.GetValues(type))
        {
            found[Regex.Replace(value.ToString(), "(?<=.)([A-Z])", "_$1").ToUpperInvariant()] = (int)value;
        }
        return found;
    }

    private static void TestTheBindingFollowsTheHeader()
    {
        var declared = new SortedSet<string>(Regex.Matches(header, @"^[a-z][\w ]*?\**\s*\**(ocr_\w+)\(", RegexOptions.Multiline)
            .Cast<Match>().Select(m => m.Groups[1].Value));
        Check(declared.Count > 40, "functions found in the header: " + declared.Count);
        Type native = typeof(OcrClient).Assembly.GetType("Ocrcloud.Native", true);
        declared.ExceptWith(native.GetMethods(BindingFlags.Static | BindingFlags.NonPublic).Select(m => m.Name));
        Equal(string.Join(" ", declared), "");

        Equal(string.Join(" ", Members(typeof(OcrCode))), string.Join(" ", Defines("OCR_ERR_")));
        Equal(string.Join(" ", Members(typeof(OcrTaskStatus))), string.Join(" ", Defines("OCR_TASK_")));
        Equal(string.Join(" ", Members(typeof(OcrLogLevel))), string.Join(" ", Defines("OCR_LOG_")));
        foreach (OcrCode code in Enum.GetValues(typeof(OcrCode)))
        {
            Equal(Marshal.PtrToStringAnsi(ocr_code_name((int)code)), "OCR_ERR_" + Members(typeof(OcrCode)).First(m => m.Value == (int)code).Key);
        }
        foreach (OcrTaskStatus status in Enum.GetValues(typeof(OcrTaskStatus)))
        {
            string expected = status == OcrTaskStatus.Unknown ? "Unknown" : status.ToString();
            Equal(Marshal.PtrToStringAnsi(ocr_task_status_name((int)status)), expected);
        }
        Equal(OcrClient.LibraryVersion, Regex.Match(header, "#define OCR_VERSION_STRING \"([^\"]+)\"").Groups[1].Value);
    }

    private static void TestSubmittedDocumentComesBackByteForByte()
    {
        byte[] pdf = File.ReadAllBytes(samplePdf);
        using (OcrClient client = DemoClient())
        {
            string id = client.Submit("RecognizePdf", pdf, "{\"resultType\":\"TextAndPdf\"}");
            using (OcrResult polled = client.PollUntilDone(id, Fast()))
            {
                Equal(polled.Status, OcrTaskStatus.Completed);
            }
            using (OcrResult result = client.Fetch("recognizepdf", id))
            {
                Equal(result.Status, OcrTaskStatus.Completed);
                Equal(result.StatusText, "Completed");
                Equal(result.ResponseStatus, "Ok");
                Equal(result.Id, id);
                Equal(result.Files.Count, 2);
                Equal(result.Files[0].Type, "Text");
                Check(result.Files[0].Text.Contains("Hello from ocrcloud!"), result.Files[0].Text);
                Equal(result.Files[1].Type, "Pdf");
                Check(result.Files[1].Data.SequenceEqual(pdf), "the Pdf result is the submitted document");
                Equal(result.Messages.Count, 0);
                Equal(result.Warnings.Count, 0);

                string dir = Path.Combine(Path.GetTempPath(), "ocrcloud-cs-" + Guid.NewGuid());
                Directory.CreateDirectory(dir);
                string saved = Path.Combine(dir, "out.pdf");
                result.Save(1, saved);
                Check(File.ReadAllBytes(saved).SequenceEqual(pdf), "the saved file is the document");
                Directory.Delete(dir, true);
            }
        }
    }

    private static void TestPollReportsProgressUntilCompleted()
    {
        var recorder = new Recorder();
        using (OcrClient client = DemoClient())
        {
            string id = client.Submit(null, File.ReadAllBytes(samplePdf));
            using (OcrResult result = client.PollUntilDone("RecognizePdf", id, Fast(), CancellationToken.None, recorder))
            {
                Equal(result.Files[0].Type, "Pdf");
            }
            List<PollProgress> reports = recorder.Reports;
            Check(reports.Count >= 3, "Pending, Processing and Completed were seen: " + reports.Count);
            for (int i = 0; i < reports.Count; i++)
            {
                Equal(reports[i].TaskId, id);
                Equal(reports[i].Attempt, (uint)(i + 1));
            }
            Check(recorder.Threads.All(t => t == Thread.CurrentThread.ManagedThreadId), "progress runs on the polling thread");
            Equal(reports[0].Status, OcrTaskStatus.Pending);
            Check(reports.Any(r => r.Status == OcrTaskStatus.Processing), "Processing was seen");
            Equal(reports[reports.Count - 1].Status, OcrTaskStatus.Completed);
            Equal(Polls(id), reports.Count);
        }
    }

    private static void TestATaskInErrorIsTaskFailedWithTheServersMessage()
    {
        using (OcrClient client = DemoClient())
        {
            string id = client.Submit("RecognizePdf", Encoding.UTF8.GetBytes("GIF89a not a pdf"));
            OcrException e = Fails(OcrCode.TaskFailed, () => client.PollUntilDone(id, Fast()));
            Check(e.Message.Contains("The document is not a PDF file."), e.Message);
            Check(e.Message.Contains(id), e.Message);
            using (OcrResult result = client.Fetch(id))
            {
                Equal(result.Status, OcrTaskStatus.Error);
                Equal(result.Files.Count, 0);
                Check(result.Messages.SequenceEqual(new[] { "The document is not a PDF file." }), string.Join("|", result.Messages));
            }
            string warned = Fixture("{\"taskStatus\": \"Error\", \"error\": {\"messages\": [\"blank\", \"no text\"],"
                + " \"warnings\": [\"low resolution\"]}}");
            using (OcrResult result = client.Fetch(warned))
            {
                Check(result.Messages.SequenceEqual(new[] { "blank", "no text" }), string.Join("|", result.Messages));
                Check(result.Warnings.SequenceEqual(new[] { "low resolution" }), string.Join("|", result.Warnings));
            }
        }
    }

    private static void TestAnUnknownTaskIsTaskNotFound()
    {
        using (OcrClient client = DemoClient())
        {
            OcrException e = Fails(OcrCode.TaskNotFound, () => client.PollUntilDone("never-existed", Fast()));
            Check(e.Message.Contains("never-existed"), e.Message);
            using (OcrResult result = client.Fetch("never-existed"))
            {
                Equal(result.Status, OcrTaskStatus.NotExist);
                Equal(result.Id, "never-existed");
            }
        }
    }

    private static void TestStatusesAreInformationForFetch()
    {
        using (OcrClient client = DemoClient())
        {
            using (OcrResult result = client.Fetch(Fixture("{\"taskStatus\": \"Pending\"}")))
            {
                Equal(result.Status, OcrTaskStatus.Pending);
                Equal(result.ResponseStatus, "NotReady");
            }
            using (OcrResult result = client.Fetch(Fixture("{\"taskStatus\": \"Queued\"}")))
            {
                Equal(result.Status, OcrTaskStatus.Unknown);
                Equal(result.StatusText, "Queued");
            }
        }
    }

    private static void TestWrongTokenOrSecretIsUnauthorized()
    {
        string done = Fixture("{\"results\": [{\"type\": \"Text\", \"text\": \"x\"}]}");
        using (OcrClient client = OcrClient.WithToken(url, "made-up-token-123"))
        {
            OcrException e = Fails(OcrCode.Unauthorized, () => client.Fetch(done));
            Check(e.Message.Contains("401"), e.Message);
        }
        using (OcrClient client = OcrClient.WithCredentials(url, "demo", "not-the-secret"))
        {
            OcrException e = Fails(OcrCode.Unauthorized, () => client.PollUntilDone(done, Fast()));
            Check(!e.Message.Contains("not-the-secret"), e.Message);
        }
    }

    private static void TestCancelFromAnotherThreadEndsThePollPromptly()
    {
        string pending = Fixture("{\"taskStatus\": \"Pending\"}");
        var slow = new PollOptions { Interval = TimeSpan.FromSeconds(10), Timeout = TimeSpan.Zero };
        using (OcrClient client = DemoClient())
        using (var source = new CancellationTokenSource())
        {
            var watch = Stopwatch.StartNew();
            long triggeredAt = 0;
            var trigger = new Thread(() => {
                Thread.Sleep(300);
                Interlocked.Exchange(ref triggeredAt, watch.ElapsedMilliseconds);
                source.Cancel();
            }) { IsBackground = true };
            trigger.Start();
            OperationCanceledException e = Throws<OperationCanceledException>(
                () => client.PollUntilDone(pending, slow, source.Token));
            long ms = watch.ElapsedMilliseconds - Interlocked.Read(ref triggeredAt);
            trigger.Join();
            Console.WriteLine("  poll returned {0} ms after Cancel()", ms);
            Check(ms < 1000, "returned " + ms + " ms after the cancel");
            Equal(e.CancellationToken, source.Token);
            Equal(((OcrException)e.InnerException).Code, OcrCode.Cancelled);
            // A cancelled token ends the next poll before anything is sent.
            int before = Polls(pending);
            Throws<OperationCanceledException>(() => client.PollUntilDone(pending, slow, source.Token));
            Equal(Polls(pending), before);
        }
    }

    private static void TestAsyncPollCompletesAndHonoursTheToken()
    {
        string pending = Fixture("{\"taskStatus\": \"Pending\"}");
        string done = Fixture("{\"results\": [{\"type\": \"Text\", \"text\": \"async\"}]}");
        using (OcrClient client = DemoClient())
        {
            using (OcrResult result = client.PollUntilDoneAsync("RecognizePdf", done, Fast()).Result)
            {
                Equal(result.Files[0].Text, "async");
            }
            using (var source = new CancellationTokenSource())
            {
                var watch = Stopwatch.StartNew();
                Task<OcrResult> task = client.PollUntilDoneAsync(pending, new PollOptions { Interval = TimeSpan.FromSeconds(10) }, source.Token);
                source.CancelAfter(300);
                Throws<AggregateException>(() => task.Wait());
                Check(task.IsCanceled, "the task is Canceled: " + task.Status);
                Check(watch.ElapsedMilliseconds < 1300, "ended " + watch.ElapsedMilliseconds + " ms after start");
            }
            using (var source = new CancellationTokenSource())
            {
                source.Cancel();
                Task<OcrResult> task = client.PollUntilDoneAsync(done, Fast(), source.Token);
                Throws<AggregateException>(() => task.Wait());
                Check(task.IsCanceled, "an already cancelled token cancels the task: " + task.Status);
            }
        }
    }

    private static void TestPollLimitsAndOptionValidation()
    {
        string pending = Fixture("{\"taskStatus\": \"Pending\"}");
        using (OcrClient client = DemoClient())
        {
            PollOptions limited = Fast();
            limited.MaxAttempts = 3;
            limited.Timeout = TimeSpan.Zero;
            OcrException e = Fails(OcrCode.NotReady, () => client.PollUntilDone(pending, limited));
            Check(e.Message.Contains("3 attempts"), e.Message);
            Equal(Polls(pending), 3);
            var watch = Stopwatch.StartNew();
            Fails(OcrCode.Timeout, () => client.PollUntilDone(pending, new PollOptions
            {
                Interval = TimeSpan.FromMilliseconds(200),
                Backoff = new Backoff(1.0, TimeSpan.FromMilliseconds(200)),
                Timeout = TimeSpan.FromMilliseconds(700),
            }));
            Check(watch.ElapsedMilliseconds < 700, "the deadline is kept");
            PollOptions bad = Fast();
            bad.Backoff = new Backoff(0.5, TimeSpan.FromSeconds(1));
            Fails(OcrCode.InvalidArgument, () => client.PollUntilDone(pending, bad));
            bad.Backoff = null;
            bad.RequestCost = -1.0;
            Fails(OcrCode.InvalidArgument, () => client.PollUntilDone(pending, bad));
            bad.RequestCost = null;
            bad.Timeout = TimeSpan.FromMilliseconds(-1);
            Throws<ArgumentOutOfRangeException>(() => client.PollUntilDone(pending, bad));
            PollOptions learned = Fast();
            learned.Learning = true;
            learned.RequestCost = 2.0;
            using (OcrResult result = client.PollUntilDone(Fixture("{}"), learned))
            {
                Equal(result.Status, OcrTaskStatus.Completed);
            }
        }
    }

    private static void TestAProgressExceptionIsThrownByThePoll()
    {
        string done = Fixture("{\"results\": [{\"type\": \"Text\", \"text\": \"x\"}]}");
        using (OcrClient client = DemoClient())
        {
            var recorder = new Recorder { OnReport = () => { throw new InvalidOperationException("progress broke"); } };
            InvalidOperationException e = Throws<InvalidOperationException>(
                () => client.PollUntilDone(done, Fast(), CancellationToken.None, recorder));
            Equal(e.Message, "progress broke");
        }
    }

    private static void TestSubmitRefusesBadArgumentsBeforeSending()
    {
        using (OcrClient client = DemoClient())
        {
            OcrException e = Fails(OcrCode.InvalidArgument, () => client.Submit("RecognizeEverything", new byte[1]));
            Check(e.Message.Contains("RecognizeEverything"), e.Message);
            e = Fails(OcrCode.InvalidArgument, () => client.Submit(null, new byte[1], "[1]"));
            Check(e.Message.Contains("settings_json"), e.Message);
            Check(client.Submit("RecognizePdf", new byte[0]).Length > 0, "an empty document is a document");
            Fails(OcrCode.InvalidArgument, () => client.Fetch("a\r\nHost: evil"));
            Fails(OcrCode.InvalidArgument, () => client.Fetch(null));
            Fails(OcrCode.InvalidArgument, () => client.Fetch("Nope", "x"));
            Throws<ArgumentException>(() => client.Fetch("a\0b"));
            Throws<ArgumentNullException>(() => client.Submit(null, null));
            Fails(OcrCode.InvalidArgument, () => OcrClient.WithToken("ftp://x", null));
            Fails(OcrCode.InvalidArgument, () => OcrClient.WithCredentials(url, null, "secret"));
        }
    }

    /// <summary>How many API requests the emulator has answered.</summary>
    private static long Requests()
    {
        Match m = Regex.Match(Control("GET", "/_emulator/stats", null), "\"requests\":\\s*(\\d+)");
        Check(m.Success, "requests in the statistics");
        return long.Parse(m.Groups[1].Value);
    }

    private static KeyValuePair<string, Action> Refusal(string argument, Action call)
    {
        return new KeyValuePair<string, Action>(argument, call);
    }

    /// <summary>
    /// A lone surrogate would reach C as U+FFFD (another task fetched): refused like Python does,
    /// with an ArgumentException naming the argument, before anything is sent.
    /// </summary>
    private static void TestStringsWithLoneSurrogatesAreRefused()
    {
        string pair = "emoji-\uD83D\uDE00";
        Fixture("{\"id\": \"" + pair + "\", \"results\": [{\"type\": \"Text\", \"text\": \"x\"}]}");
        using (OcrClient client = DemoClient())
        {
            using (OcrResult result = client.Fetch(pair))
            {
                Equal(result.Id, pair);
            }
            long before = Requests();
            foreach (string lone in new[] { "task-\uD800", "task-\uDC00", "task-\uDE00\uD83D" })
            {
                var refusals = new List<KeyValuePair<string, Action>>
                {
                    Refusal("taskId", () => client.Fetch(lone)),
                    Refusal("operation", () => client.Fetch(lone, pair)),
                    Refusal("taskId", () => client.GetTaskStatus(null, lone)),
                    Refusal("taskId", () => client.CancelTask(null, lone)),
                    Refusal("taskId", () => client.PollUntilDone(lone, Fast())),
                    Refusal("taskIds[1]", () => client.PollMany(null, new[] { pair, lone }, Fast())),
                    Refusal("settingsJson", () => client.Submit(null, new byte[1], "{\"language\": \"" + lone + "\"}")),
                    Refusal("userAgent", () => client.SetUserAgent(lone)),
                    Refusal("clientSecret", () => OcrClient.WithCredentials(url, "demo", lone)),
                };
                foreach (KeyValuePair<string, Action> refusal in refusals)
                {
                    ArgumentException e = Throws<ArgumentException>(refusal.Value);
                    Check(e.Message.Contains(refusal.Key) && e.Message.Contains("lone surrogate"), e.Message);
                }
            }
            Equal(Requests(), before);
        }
    }

    /// <summary>
    /// 50 async polls waiting on a Pending task, each with its own CancellationTokenSource(300 ms):
    /// no poll holds a pool thread, so the timers fire on time and every task is Canceled soon
    /// after. (On the thread pool, 50 polls ended after 25 s.)
    /// </summary>
    private static void TestManyAsyncPollsAreCancelledOnTime()
    {
        const int Polls = 50;
        string pending = Fixture("{\"taskStatus\": \"Pending\"}");
        using (OcrClient client = DemoClient())
        {
            client.SetMaxConnections(Polls);
            var options = new PollOptions { Interval = TimeSpan.FromSeconds(10), Timeout = TimeSpan.Zero };
            var sources = Enumerable.Range(0, Polls).Select(_ => new CancellationTokenSource(300)).ToArray();
            var watch = Stopwatch.StartNew();
            var ended = new long[Polls];
            Task[] polls = Enumerable.Range(0, Polls).Select(i =>
                client.PollUntilDoneAsync(pending, options, sources[i].Token)
                    .ContinueWith(t => { ended[i] = watch.ElapsedMilliseconds; return t; }).Unwrap()).ToArray();
            Throws<AggregateException>(() => Task.WaitAll(polls));
            Check(polls.All(t => t.IsCanceled), "every task is Canceled: " + string.Join(",", polls.Select(t => t.Status)));
            long last = ended.Max();
            Console.WriteLine("  {0} async polls: cancelled {1} to {2} ms after the start (the tokens fire at 300 ms)",
                Polls, ended.Min(), last);
            Check(last < 1300, "the last poll ended " + last + " ms after the start");
            foreach (CancellationTokenSource source in sources)
            {
                source.Dispose();
            }
        }
    }

    /// <summary>The base URL of a loopback port that nothing listens on: connections are refused.</summary>
    private static string DeadUrl()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return "http://127.0.0.1:" + port;
    }

    /// <summary>ClientStats has one property per OCR_STAT_* value of the header, in its order.</summary>
    private static void TestClientStatsFollowTheHeader()
    {
        Type stat = typeof(OcrClient).Assembly.GetType("Ocrcloud.ClientStat", true);
        Equal(string.Join(" ", Members(stat)), string.Join(" ", Defines("OCR_STAT_")));
        Equal(string.Join(" ", Enum.GetNames(stat)),
            string.Join(" ", typeof(ClientStats).GetProperties().OrderBy(p => p.MetadataToken).Select(p => p.Name)));
    }

    private static void TestStatsCountTheRequestsAndTheTokenFetches()
    {
        string done = Fixture("{\"results\": [{\"type\": \"Text\", \"text\": \"x\"}]}");
        OcrClient disposed;
        using (OcrClient client = DemoClient())
        {
            disposed = client;
            Equal(client.GetStats(), new ClientStats(0, 0, 0, 0, 0.0, false, 500));
            for (int i = 0; i < 3; i++)
            {
                client.Fetch(done).Dispose();
            }
            ClientStats stats = client.GetStats();
            Equal(stats.Requests, 4L); // three fetches and the token request
            Equal(stats.TokenFetches, 1L);
            Equal(stats, new ClientStats(4, 0, 0, 1, 0.0, false, 500));
            client.Fetch(done).Dispose();
            Equal(client.GetStats().Requests, 5L);
            Equal(client.GetStats().TokenFetches, 1L);
        }
        Throws<ObjectDisposedException>(() => disposed.GetStats());
    }

    private static void TestMaxRateIsValidatedAndShownInTheStats()
    {
        using (OcrClient client = DemoClient())
        {
            foreach (double bad in new[] { -1, -0.5, double.NaN, double.PositiveInfinity, double.NegativeInfinity })
            {
                OcrException e = Fails(OcrCode.InvalidArgument, () => client.SetMaxRate(bad));
                Check(e.Message.Contains("per_second"), e.Message);
            }
            Equal(client.GetStats().Rate, 0.0); // the refusals changed nothing
            client.SetMaxRate(20);
            Equal(client.GetStats().Rate, 20.0);
            client.SetMaxRate(2.5);
            Equal(client.GetStats().Rate, 2.5);
            client.SetMaxRate(0);
            Equal(client.GetStats().Rate, 0.0);
            Equal(client.GetStats().Requests, 0L);
        }
    }

    private static void TestTheCircuitBreakerOpensOnADeadPortUnlessTurnedOff()
    {
        string dead = DeadUrl();
        using (OcrClient client = OcrClient.WithToken(dead, "token"))
        {
            client.SetMaxAttempts(1);
            client.SetCircuitBreaker(false);
            for (int i = 0; i < 6; i++)
            {
                OcrException e = Fails(OcrCode.Network, () => client.Fetch("x").Dispose());
                Check(!e.Message.Contains("looks down"), e.Message);
            }
            Check(!client.GetStats().BreakerOpen, "the breaker stays closed while it is off");
            Equal(client.GetStats().Requests, 6L);
        }
        using (OcrClient client = OcrClient.WithToken(dead, "token"))
        {
            client.SetMaxAttempts(1); // the breaker is on by default
            for (int i = 0; i < 5; i++)
            {
                OcrException e = Fails(OcrCode.Network, () => client.Fetch("x").Dispose());
                Check(!e.Message.Contains("looks down"), e.Message);
            }
            var watch = Stopwatch.StartNew();
            OcrException sixth = Fails(OcrCode.Network, () => client.Fetch("x").Dispose());
            Check(sixth.Message.Contains("looks down"), sixth.Message);
            Check(watch.ElapsedMilliseconds < 500, "the sixth failed at once, not after " + watch.ElapsedMilliseconds + " ms");
            Check(client.GetStats().BreakerOpen, "the breaker is open");
            Equal(client.GetStats().Requests, 5L); // the sixth was not sent
            client.SetCircuitBreaker(false); // turning it off closes it
            Check(!client.GetStats().BreakerOpen, "closed");
            OcrException after = Fails(OcrCode.Network, () => client.Fetch("x").Dispose());
            Check(!after.Message.Contains("looks down"), after.Message);
        }
    }

    private static void TestStringsTravelAsUtf8()
    {
        string id = "ünï ✓ a b/c?d&e=f";
        Fixture("{\"id\": \"" + id + "\", \"results\": [{\"type\": \"Text\", \"text\": \"héllo ✓\\n\"}]}");
        using (OcrClient client = DemoClient())
        using (OcrResult result = client.Fetch(id))
        {
            Equal(result.Id, id);
            Equal(result.Files[0].Text, "héllo ✓\n");
            client.SetUserAgent("ocrcloud-csharp ✓");
        }
    }

    private static void TestClientSettings()
    {
        string done = Fixture("{\"results\": [{\"type\": \"Pdf\", \"generate\": {\"bytes\": 100000}}]}");
        using (OcrClient client = DemoClient())
        {
            client.SetConnectTimeout(TimeSpan.FromSeconds(5));
            client.SetReadTimeout(TimeSpan.FromSeconds(5));
            client.SetRequestTimeout(TimeSpan.FromSeconds(20));
            client.SetUserAgent("binding-test");
            client.SetMaxAttempts(1);
            client.SetAllowInsecureHttp(false);
            client.SetMaxResponseBytes(10000);
            OcrException e = Fails(OcrCode.TooLarge, () => client.Fetch(done));
            Check(e.Message.Contains("10000"), e.Message);
            client.SetMaxResponseBytes(1000000);
            using (OcrResult result = client.Fetch(done))
            {
                Equal(result.Files[0].Data.Length, 100000);
                Equal(result.Files[0].Data[252], (byte)1);
            }
            Fails(OcrCode.InvalidArgument, () => client.SetRequestTimeout(TimeSpan.Zero));
            Fails(OcrCode.InvalidArgument, () => client.SetMaxAttempts(0));
        }
        // A host that is not loopback (`.invalid` never resolves); the request is refused unsent.
        using (OcrClient client = OcrClient.WithToken("http://ocr.invalid:9", "token"))
        {
            OcrException e = Fails(OcrCode.InvalidArgument, () => client.Fetch("x"));
            Check(e.Message.Contains("plain http"), e.Message);
        }
    }

    private static void TestSaveFailures()
    {
        string done = Fixture("{\"results\": [{\"type\": \"Pdf\", \"generate\": {\"bytes\": 5000}}]}");
        using (OcrClient client = DemoClient())
        using (OcrResult result = client.Fetch(done))
        {
            OcrException e = Fails(OcrCode.Io, () => result.Save(0, "/nonexistent-dir/out.pdf"));
            Check(e.Message.Contains("No such file or directory"), e.Message);
            Fails(OcrCode.InvalidArgument, () => result.Save(1, "/tmp/never-written.pdf"));
            Fails(OcrCode.InvalidArgument, () => result.Save(-1, "/tmp/never-written.pdf"));
        }
    }

    private static void TestThreadsShareAClientAndGetTheirOwnMessages()
    {
        using (OcrClient client = DemoClient())
        {
            var problems = new List<string>();
            var threads = Enumerable.Range(0, 8).Select(i => new Thread(() => {
                string id = "missing-" + i;
                try
                {
                    OcrException e = Fails(OcrCode.TaskNotFound, () => client.PollUntilDone(id, Fast()));
                    Check(e.Message.Contains(id), e.Message);
                }
                catch (Exception e)
                {
                    lock (problems)
                    {
                        problems.Add(e.Message);
                    }
                }
            }) { IsBackground = true }).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            Equal(string.Join("; ", problems), "");
        }
    }

    private static void TestDisposedObjectsThrowAClearException()
    {
        string done = Fixture("{\"results\": [{\"type\": \"Text\", \"text\": \"x\"}]}");
        OcrClient client = DemoClient();
        OcrResult result = client.Fetch(done);
        client.Dispose();
        client.Dispose();
        ObjectDisposedException e = Throws<ObjectDisposedException>(() => client.Fetch(done));
        Check(e.Message.Contains("OcrClient is disposed"), e.Message);
        Throws<ObjectDisposedException>(() => client.SetUserAgent("x"));
        Throws<ObjectDisposedException>(() => client.PollUntilDone(done));
        Equal(result.Files[0].Text, "x");
        result.Dispose();
        result.Dispose();
        Equal(result.Files[0].Text, "x");
        e = Throws<ObjectDisposedException>(() => result.Save(0, "/tmp/never-written.txt"));
        Check(e.Message.Contains("OcrResult is disposed"), e.Message);
    }

    private static void TestDisposingAClientDuringAPollWaitsForThePoll()
    {
        string pending = Fixture("{\"taskStatus\": \"Pending\"}");
        OcrClient client = DemoClient();
        using (var source = new CancellationTokenSource())
        {
            Exception outcome = null;
            var poller = new Thread(() => {
                try
                {
                    client.PollUntilDone(pending, new PollOptions { Interval = TimeSpan.FromMilliseconds(30), Timeout = TimeSpan.Zero }, source.Token);
                }
                catch (Exception e)
                {
                    outcome = e;
                }
            }) { IsBackground = true };
            poller.Start();
            try
            {
                Thread.Sleep(200);
                client.Dispose();
                Throws<ObjectDisposedException>(() => client.Fetch(pending));
                Thread.Sleep(100);
                Check(poller.IsAlive, "the poll goes on with the disposed client");
            }
            finally
            {
                source.Cancel();
                poller.Join();
            }
            Check(outcome is OperationCanceledException, "" + outcome);
        }
    }

    private static void TestAFileIsSubmittedLikeItsBytes()
    {
        using (OcrClient client = DemoClient())
        {
            string id = client.SubmitFile(null, samplePdf, "{\"resultType\": \"Pdf\"}");
            using (OcrResult result = client.PollUntilDone(id, Fast()))
            {
                Check(result.Files[0].Data.SequenceEqual(File.ReadAllBytes(samplePdf)), "the document");
            }
            OcrException e = Fails(OcrCode.Io, () => client.SubmitFile(null, "/no/such/file.pdf"));
            Check(e.Message.Contains("/no/such/file.pdf"), e.Message);
        }
    }

    private static void TestStatusFollowsTheTaskAndCancelRemovesIt()
    {
        using (OcrClient client = DemoClient())
        {
            string id = client.Submit(null, File.ReadAllBytes(samplePdf));
            OcrTaskStatus early = client.GetTaskStatus(null, id);
            Check(early == OcrTaskStatus.Pending || early == OcrTaskStatus.Processing, "early: " + early);
            client.PollUntilDone(id, Fast()).Dispose();
            Equal(client.GetTaskStatus("RecognizePdf", id), OcrTaskStatus.Completed);
            client.CancelTask(null, id);
            Equal(client.GetTaskStatus(null, id), OcrTaskStatus.NotExist);
            Equal(client.GetTaskStatus(null, "no-such-task"), OcrTaskStatus.NotExist);
            Fails(OcrCode.InvalidArgument, () => client.CancelTask(null, null));
        }
    }

    private static void TestPollManyGivesEachTaskItsResultOrError()
    {
        byte[] pdf = File.ReadAllBytes(samplePdf);
        using (OcrClient client = DemoClient())
        {
            client.SetMaxConnections(2);
            Fails(OcrCode.InvalidArgument, () => client.SetMaxConnections(0));
            string[] done = { client.Submit(null, pdf), client.Submit(null, pdf) };
            string failed = client.Submit(null, Encoding.UTF8.GetBytes("GIF89a"));
            string[] ids = { done[0], failed, "never-existed", done[1] };
            var recorder = new Recorder();
            IReadOnlyList<PollOutcome> outcomes = client.PollMany(null, ids, Fast(), CancellationToken.None, recorder);
            Equal(outcomes.Count, 4);
            foreach (int i in new[] { 0, 3 })
            {
                Equal(outcomes[i].TaskId, ids[i]);
                Check(outcomes[i].Error == null, "no error");
                using (OcrResult result = outcomes[i].Result)
                {
                    Check(result.Files[0].Data.SequenceEqual(pdf), "the document");
                }
            }
            Check(outcomes[1].Result == null, "no result");
            Equal(outcomes[1].Error.Code, OcrCode.TaskFailed);
            Check(outcomes[1].Error.Message.Contains("The document is not a PDF file."), outcomes[1].Error.Message);
            Equal(outcomes[2].Error.Code, OcrCode.TaskNotFound);
            Check(outcomes[2].Error.Message.Contains("never-existed"), outcomes[2].Error.Message);
            Equal(string.Join(" ", recorder.Reports.Select(r => r.TaskId).Distinct().OrderBy(t => t)),
                string.Join(" ", ids.OrderBy(t => t)));
            Equal(client.PollMany(null, new string[0], null).Count, 0);
            OcrException e = Fails(OcrCode.InvalidArgument, () => client.PollMany(null, new[] { done[0], null }, Fast()));
            Check(e.Message.Contains("task_ids[1]"), e.Message);
        }
    }

    private static void TestACallCancelledFromAnotherThreadEndsPromptly()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ocrcloud-cs-cancel-" + Guid.NewGuid());
        Directory.CreateDirectory(dir);
        var latencies = new List<string>();
        long worst = 0;
        try
        {
            using (var server = new SilentServer())
            using (OcrClient client = OcrClient.WithToken(server.Url, "token"))
            {
                foreach (var call in EachCall(client, dir))
                {
                    using (var source = new CancellationTokenSource())
                    {
                        var watch = Stopwatch.StartNew();
                        long triggeredAt = 0;
                        var trigger = new Thread(() => {
                            Thread.Sleep(100);
                            Interlocked.Exchange(ref triggeredAt, watch.ElapsedMilliseconds);
                            source.Cancel();
                        }) { IsBackground = true };
                        trigger.Start();
                        OperationCanceledException e = Throws<OperationCanceledException>(
                            () => call.Value(TimeSpan.Zero, source.Token));
                        long returnedAt = watch.ElapsedMilliseconds;
                        trigger.Join();
                        Check(returnedAt >= 100, call.Key + " ended before the cancel: " + returnedAt + " ms");
                        Equal(e.CancellationToken, source.Token);
                        Equal(((OcrException)e.InnerException).Code, OcrCode.Cancelled);
                        long ms = returnedAt - Interlocked.Read(ref triggeredAt);
                        worst = Math.Max(worst, ms);
                        latencies.Add(call.Key + " " + ms + " ms");
                    }
                }
            }
            Equal(Directory.GetFiles(dir).Length, 0);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
        Console.WriteLine("  calls returned after Cancel(): {0}", string.Join(", ", latencies));
        Check(worst < 500, "returned " + worst + " ms after the cancel");
    }

    private static void TestATimeoutEndsACallWithTimeout()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ocrcloud-cs-timeout-" + Guid.NewGuid());
        Directory.CreateDirectory(dir);
        try
        {
            using (var server = new SilentServer())
            using (OcrClient client = OcrClient.WithToken(server.Url, "token"))
            {
                foreach (var call in EachCall(client, dir))
                {
                    var watch = Stopwatch.StartNew();
                    Fails(OcrCode.Timeout, () => call.Value(TimeSpan.FromMilliseconds(200), CancellationToken.None));
                    long ms = watch.ElapsedMilliseconds;
                    Check(ms >= 190 && ms < 2000, call.Key + " took " + ms + " ms");
                }
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static void TestCallLimitsThatAreNotReachedChangeNothing()
    {
        string done = Fixture("{\"results\": [{\"type\": \"Text\", \"text\": \"in time\"}]}");
        using (OcrClient client = DemoClient())
        using (var source = new CancellationTokenSource())
        {
            using (OcrResult result = client.Fetch(done, TimeSpan.FromSeconds(10), source.Token))
            {
                Equal(result.Files[0].Text, "in time");
            }
            Equal(client.GetTaskStatus(null, done, Timeout.InfiniteTimeSpan), OcrTaskStatus.Completed);
            Equal(client.GetTaskStatus(null, done, cancellationToken: source.Token), OcrTaskStatus.Completed);
            source.Cancel(); // cancelled before the call: nothing is sent
            int before = Polls(done);
            OperationCanceledException e = Throws<OperationCanceledException>(() => client.Fetch(null, done, cancellationToken: source.Token));
            Equal(e.CancellationToken, source.Token);
            Equal(Polls(done), before);
            Throws<ArgumentOutOfRangeException>(() => client.Fetch(done, TimeSpan.FromMilliseconds(-5)));
        }
    }

    private static void TestPollManyGivesEachFailedTaskItsOwnMessage()
    {
        string first = Fixture("{\"taskStatus\": \"Error\", \"error\": {\"messages\": [\"page 1 is blank\"]}}");
        string second = Fixture("{\"taskStatus\": \"Error\", \"error\": {\"messages\": [\"the scan is upside down\"]}}");
        string done = Fixture("{\"results\": [{\"type\": \"Text\", \"text\": \"x\"}]}");
        using (OcrClient client = DemoClient())
        {
            IReadOnlyList<PollOutcome> outcomes = client.PollMany(null, new[] { first, done, second, "never-existed" }, Fast());
            string one = outcomes[0].Error.Message;
            Equal(outcomes[0].Error.Code, OcrCode.TaskFailed);
            Check(one.Contains("page 1 is blank") && one.Contains(first) && !one.Contains("upside down"), one);
            outcomes[1].Result.Dispose();
            string two = outcomes[2].Error.Message;
            Equal(outcomes[2].Error.Code, OcrCode.TaskFailed);
            Check(two.Contains("the scan is upside down") && two.Contains(second) && !two.Contains("blank"), two);
            string missing = outcomes[3].Error.Message;
            Equal(outcomes[3].Error.Code, OcrCode.TaskNotFound);
            Check(missing.Contains("never-existed") && !missing.Contains("did not complete"), missing);
        }
    }

    private static void TestPollManyIsCancelledAsAWhole()
    {
        string[] pending = Enumerable.Range(0, 3).Select(i => Fixture("{\"taskStatus\": \"Pending\"}")).ToArray();
        using (OcrClient client = DemoClient())
        using (var source = new CancellationTokenSource())
        {
            source.CancelAfter(200);
            var watch = Stopwatch.StartNew();
            Throws<OperationCanceledException>(() => client.PollMany(null, pending,
                new PollOptions { Interval = TimeSpan.FromSeconds(10) }, source.Token));
            Check(watch.ElapsedMilliseconds < 1200, "ended after " + watch.ElapsedMilliseconds + " ms");
        }
    }

    private static void TestResultsCanBeWrittenToFiles()
    {
        byte[] pdf = File.ReadAllBytes(samplePdf);
        string dir = Path.Combine(Path.GetTempPath(), "ocrcloud-cs-dir-" + Guid.NewGuid());
        Directory.CreateDirectory(dir);
        try
        {
            using (OcrClient client = DemoClient())
            {
                string id = client.Submit(null, pdf, "{\"resultType\": \"TextAndPdf\"}");
                using (OcrResult result = client.PollUntilDoneToDir(null, id, dir, Fast(), CancellationToken.None, new Recorder()))
                {
                    Equal(result.Files.Count, 2);
                    Equal(result.Files[0].Path, Path.Combine(dir, id + ".txt"));
                    OcrFile file = result.Files[1];
                    Equal(file.Type, "Pdf");
                    Equal(file.Path, Path.Combine(dir, id + ".pdf"));
                    Equal(file.Size, (long)pdf.Length);
                    Check(file.Data == null, "no data in memory");
                    Check(File.ReadAllBytes(file.Path).SequenceEqual(pdf), "the written file is the document");
                }
                using (OcrResult result = client.FetchToDir("RecognizePdf", id, dir))
                {
                    Equal(result.Status, OcrTaskStatus.Completed);
                }
                Equal(string.Join(" ", Directory.GetFiles(dir).Select(Path.GetFileName).OrderBy(n => n)), id + ".pdf " + id + ".txt");
                Fails(OcrCode.Io, () => client.FetchToDir(null, id, Path.Combine(dir, "missing")));
                using (OcrResult result = client.Fetch(id))
                {
                    foreach (OcrFile file in result.Files)
                    {
                        Check(file.Path == null, "in memory");
                        Equal(file.Size, (long)file.Data.Length);
                    }
                }
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static void TestLogLinesReachAHandler()
    {
        var lines = new List<string>();
        OcrLog.SetHandler((level, message) => {
            lock (lines)
            {
                lines.Add(level + " " + message);
            }
        });
        OcrLog.SetLevel(OcrLogLevel.Debug);
        try
        {
            using (OcrClient client = DemoClient())
            using (OcrResult result = client.Fetch("no-such-task"))
            {
                Equal(result.Status, OcrTaskStatus.NotExist);
            }
        }
        finally
        {
            OcrLog.SetLevel(OcrLogLevel.Off);
            OcrLog.SetHandler(null);
        }
        string all = string.Join("\n", lines);
        Check(lines.Any(l => l.StartsWith("Info ") && l.Contains("obtained a token")), all);
        Check(lines.Any(l => l.StartsWith("Debug ") && l.Contains("-> HTTP 200")), all);
        Check(!all.Contains("demo-secret"), all);
        Fails(OcrCode.InvalidArgument, () => OcrLog.SetLevel((OcrLogLevel)7));
    }

    private static void TestNoMemoryGrowthOverCreateFreeCycles()
    {
        string small = Fixture("{\"results\": [{\"type\": \"Pdf\", \"generate\": {\"bytes\": 1024}}]}");
        using (OcrClient client = DemoClient())
        {
            var cycles = new Dictionary<string, Action>
            {
                { "clients", () => {
                    using (OcrClient c = OcrClient.WithCredentials(url, "demo", "demo-secret"))
                    {
                        c.SetUserAgent("cycle");
                    }
                } },
                { "results", () => {
                    using (OcrResult result = client.Fetch(small))
                    {
                        Equal(result.Files[0].Data.Length, 1024);
                    }
                } },
            };
            foreach (KeyValuePair<string, Action> cycle in cycles)
            {
                for (int i = 0; i < 5000; i++)
                {
                    cycle.Value();
                }
                long before = Rss();
                for (int i = 0; i < 10000; i++)
                {
                    cycle.Value();
                }
                long after = Rss();
                Console.WriteLine("  10000 {0}: RSS {1:F1} MiB -> {2:F1} MiB ({3:+0;-0} KiB)", cycle.Key,
                    before / 1048576.0, after / 1048576.0, (after - before) / 1024);
                Check(after - before < 4 * 1024 * 1024, cycle.Key + ": RSS grew by " + (after - before) / 1024 + " KiB");
            }
        }
    }

    // ---- HTTPS: the emulator's CA is trusted only when the client is told to ----

    private static OcrClient HttpsClient()
    {
        return OcrClient.WithCredentials(tlsUrl, "demo", "demo-secret");
    }

    /// <summary>Submit, poll and fetch over HTTPS.</summary>
    private static void HttpsRoundTrip(OcrClient client)
    {
        byte[] pdf = File.ReadAllBytes(samplePdf);
        string id = client.Submit(null, pdf, "{\"resultType\":\"TextAndPdf\"}");
        using (OcrResult polled = client.PollUntilDone(id, Fast()))
        {
            Equal(polled.Status, OcrTaskStatus.Completed);
            Check(polled.Files[0].Text.Contains("Hello from ocrcloud!"), polled.Files[0].Text);
        }
        using (OcrResult fetched = client.Fetch(null, id))
        {
            Check(fetched.Files[1].Data.SequenceEqual(pdf), "the Pdf result is the document");
        }
    }

    private static void TestHttpsAnUntrustedCertificateIsATlsError()
    {
        Check(tlsUrl.StartsWith("https://"), tlsUrl);
        using (OcrClient client = HttpsClient())
        {
            var watch = Stopwatch.StartNew();
            OcrException e = Fails(OcrCode.Tls, () => client.Fetch("x"));
            Check(e.Message.Contains("not trusted"), e.Message);
            Check(watch.ElapsedMilliseconds < 2000, "not retried: " + watch.ElapsedMilliseconds + " ms");
        }
        // The plain emulator's port does not speak TLS.
        using (OcrClient client = OcrClient.WithToken("https://" + url.Substring("http://".Length), "t"))
        {
            client.SetMaxAttempts(1);
            Fails(OcrCode.Tls, () => client.Fetch("x"));
        }
    }

    private static void TestHttpsCaFileTrustsTheEmulatorsCa()
    {
        using (OcrClient client = HttpsClient())
        {
            client.SetCaFile(caFile);
            HttpsRoundTrip(client);
            client.SetCaFile(null); // back to the default: untrusted again
            Fails(OcrCode.Tls, () => client.Fetch("x"));
        }
    }

    private static void TestHttpsCaPemTrustsTheSameBytes()
    {
        using (OcrClient client = HttpsClient())
        {
            client.SetCaPem(File.ReadAllBytes(caFile));
            HttpsRoundTrip(client);
            client.SetCaPem(null);
            Fails(OcrCode.Tls, () => client.Fetch("x"));
        }
    }

    private static void TestHttpsABadCaIsAnInvalidArgumentAndChangesNothing()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ocrcloud-cs-ca-" + Guid.NewGuid());
        Directory.CreateDirectory(dir);
        string empty = Path.Combine(dir, "empty.pem");
        File.WriteAllText(empty, "no certificate here\n");
        try
        {
            using (OcrClient client = HttpsClient())
            {
                client.SetCaFile(caFile);
                foreach (string bad in new[] { Path.Combine(dir, "missing.pem"), empty, samplePdf })
                {
                    OcrException e = Fails(OcrCode.InvalidArgument, () => client.SetCaFile(bad));
                    Check(e.Message.Contains(bad), e.Message);
                }
                Fails(OcrCode.InvalidArgument, () => client.SetCaPem(new byte[0]));
                Fails(OcrCode.InvalidArgument, () => client.SetCaPem(Encoding.UTF8.GetBytes("-----BEGIN NOTHING-----\n")));
                using (OcrResult result = client.Fetch("x")) // the CA given first is still trusted
                {
                    Equal(result.Status, OcrTaskStatus.NotExist);
                }
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static void TestHttpsProxies()
    {
        using (OcrClient client = HttpsClient())
        {
            client.SetCaFile(caFile);
            foreach (string bad in new[] { "socks5://x:1", "socks4://x:1", "ftp://x:1", "x:1" })
            {
                OcrException e = Fails(OcrCode.InvalidArgument, () => client.SetProxy(bad));
                Check(e.Message.Contains(bad), e.Message);
            }
            // A loopback base URL never goes through a proxy, even one that does not exist.
            client.SetProxy("http://127.0.0.1:9");
            using (OcrResult result = client.Fetch("x"))
            {
                Equal(result.Status, OcrTaskStatus.NotExist);
            }
            client.SetProxy("");
            client.SetProxy(null);
            using (OcrResult result = client.Fetch("x"))
            {
                Equal(result.Status, OcrTaskStatus.NotExist);
            }
        }
    }

    private static void WriteFile(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path));
        File.WriteAllText(path, text);
    }

    /// <summary>Records the batch's progress synchronously on the run's thread.</summary>
    private sealed class BatchRecorder : IProgress<BatchProgress>
    {
        public readonly List<string> Seen = new List<string>();
        public Action OnReport = () => { };

        public void Report(BatchProgress value)
        {
            Seen.Add(value.Index + " " + value.State);
            OnReport();
        }
    }

    /// <summary>A folder of three small PDFs run to the end, then skipped by a second batch that sends nothing.</summary>
    private static void TestBatchRunsAFolderThenSkipsIt()
    {
        Equal(string.Join(" ", Members(typeof(BatchState))), string.Join(" ", Defines("OCR_BATCH_")));
        string dir = Path.Combine(Path.GetTempPath(), "ocrcloud-cs-batch-" + Guid.NewGuid());
        string input = Path.Combine(dir, "in"), output = Path.Combine(dir, "out");
        try
        {
            string[] names = { "a", "b", "sub/c" };
            foreach (string name in names)
            {
                WriteFile(Path.Combine(input, name + ".pdf"), "%PDF-1.4\n% " + name + "\n");
            }
            const string text = "{\"resultType\":\"Text\"}";
            var recorder = new BatchRecorder();
            using (OcrClient client = DemoClient())
            using (Batch batch = Batch.Open(client, null, output))
            {
                Equal(batch.AddFolder(input, null, text), 3);
                OcrException inUse = Fails(OcrCode.Io, () => Batch.Open(client, null, output));
                Check(inUse.Message.Contains("in use"), inUse.Message);
                batch.Run(4, Fast(), CancellationToken.None, recorder);
                Equal(batch.Size, 3);
                Equal(batch.Count(BatchState.Completed), 3);
                Equal(batch.Count(BatchState.Failed), 0);
                for (int i = 0; i < names.Length; i++)
                {
                    BatchItem item = batch.Item(i);
                    string result = Path.Combine(output, names[i] + ".txt");
                    Equal(item.Path, Path.Combine(input, names[i] + ".pdf"));
                    Equal(item.State, BatchState.Completed);
                    Equal(item.Code, (OcrCode?)null);
                    Equal(item.Message, "");
                    Equal(string.Join(" ", item.Outputs), result);
                    Check(File.Exists(result), result);
                    Check(item.TaskId != null && !item.Skipped && item.Seconds >= 0 && item.PossibleDuplicates == 0,
                        item.TaskId + " " + item.Seconds);
                    Equal(recorder.Seen.Count(s => s == i + " Completed"), 1);
                }
                Throws<ArgumentOutOfRangeException>(() => batch.Item(3));
                Throws<ArgumentOutOfRangeException>(() => batch.Item(-1));
            }
            long before = Requests();
            using (OcrClient client = DemoClient())
            using (Batch again = Batch.Open(client, null, output))
            {
                Equal(again.AddFolder(input, null, text), 3);
                again.Run();
                for (int i = 0; i < 3; i++)
                {
                    Check(again.Item(i).Skipped && again.Item(i).State == BatchState.Completed, "input " + i + " skipped");
                }
            }
            Equal(Requests(), before);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    // A shared batch on the PostgreSQL that test.sh starts (OCR_TEST_PG_URL): it runs to the
    // end, a second worker finds nothing left, and no message shows the password.
    private static void TestSharedBatchRunsAndHidesThePassword()
    {
        string pgUrl = Environment.GetEnvironmentVariable("OCR_TEST_PG_URL");
        Check(pgUrl != null, "test.sh gives OCR_TEST_PG_URL");
        string password = pgUrl.Substring(pgUrl.IndexOf(':', 13) + 1);
        password = password.Substring(0, password.IndexOf('@'));
        string dir = Path.Combine(Path.GetTempPath(), "ocrcloud-cs-shared-" + Guid.NewGuid());
        string input = Path.Combine(dir, "in"), output = Path.Combine(dir, "out");
        try
        {
            WriteFile(Path.Combine(input, "a.pdf"), "%PDF-1.4\n% shared a\n");
            WriteFile(Path.Combine(input, "sub/b.pdf"), "%PDF-1.4\n% shared b\n");
            const string text = "{\"resultType\":\"Text\"}";
            using (OcrClient client = DemoClient())
            {
                using (Batch batch = Batch.OpenShared(client, pgUrl, "csharp", output))
                {
                    Equal(batch.AddFolder(input, null, text), 2);
                    batch.Run(2, Fast());
                    Equal(batch.Count(BatchState.Completed), 2);
                    Equal(string.Join(" ", batch.Item(1).Outputs), Path.Combine(output, "sub", "b.txt"));
                }
                using (Batch again = Batch.OpenShared(client, pgUrl, "csharp", output))
                {
                    again.AddFolder(input, null, text);
                    again.Run();
                    Check(again.Item(0).Skipped && again.Item(1).Skipped, "a second worker finds nothing left");
                }
                Fails(OcrCode.InvalidArgument, () => Batch.OpenShared(client, "mysql://u@h/d", "csharp", output));
                string wrong = pgUrl.Replace(":" + password + "@", ":Cs-Wrong-Password-57@");
                OcrException refused = Fails(OcrCode.Io, () => Batch.OpenShared(client, wrong, "csharp", output));
                Check(!refused.Message.Contains("Cs-Wrong-Password-57") && !refused.Message.Contains(password),
                    refused.Message);
                Throws<ArgumentNullException>(() => Batch.OpenShared(null, pgUrl, "csharp", output));
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static void TestBatchFailuresAndBadArguments()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ocrcloud-cs-batch-bad-" + Guid.NewGuid());
        string input = Path.Combine(dir, "in"), output = Path.Combine(dir, "out");
        try
        {
            WriteFile(Path.Combine(input, "empty.pdf"), "");
            WriteFile(Path.Combine(input, "one.pdf"), "%PDF-1.4\n% one\n");
            Directory.CreateDirectory(Path.Combine(input, "nothing"));
            OcrClient client = DemoClient();
            Batch batch = Batch.Open(client, Path.Combine(dir, "journal.sqlite"), output);
            batch.AddFile(Path.Combine(input, "empty.pdf"));
            batch.AddFile(Path.Combine(input, "one.pdf"), input);
            Fails(OcrCode.InvalidArgument, () => batch.AddFile(null));
            Fails(OcrCode.InvalidArgument, () => batch.AddFolder(null));
            Fails(OcrCode.InvalidArgument, () => Batch.Open(client, null, null));
            Fails(OcrCode.InvalidArgument, () => batch.AddFile(Path.Combine(input, "one.pdf"), null, "Nope"));
            Fails(OcrCode.InvalidArgument, () => batch.AddFile(Path.Combine(input, "one.pdf"), null, null, "[1]"));
            Fails(OcrCode.InvalidArgument, () => batch.AddFolder(Path.Combine(input, "nothing")));
            Throws<ArgumentException>(() => batch.AddFile("one\0.pdf"));
            Throws<ArgumentNullException>(() => Batch.Open(null, null, output));
            Equal(batch.Size, 2);
            Equal(batch.Item(0).State, BatchState.Failed);
            batch.Run(2, Fast());
            Equal(batch.Count(BatchState.Failed), 1);
            Equal(batch.Count(BatchState.Completed), 1);
            BatchItem empty = batch.Item(0);
            Equal(empty.Code, (OcrCode?)OcrCode.InvalidArgument);
            Check(empty.Message.Contains("empty") && empty.Outputs.Count == 0 && empty.TaskId == null, empty.Message);
            Equal(string.Join(" ", batch.Item(1).Outputs), Path.Combine(output, "one.pdf"));
            Equal(File.ReadAllText(Path.Combine(output, "one.pdf")), "%PDF-1.4\n% one\n");
            // The batch keeps its client: disposing the client first frees it only with the batch.
            client.Dispose();
            Equal(batch.Size, 2);
            batch.Dispose();
            batch.Dispose();
            Equal(Throws<ObjectDisposedException>(() => { int size = batch.Size; }).ObjectName, "Batch");
            Throws<ObjectDisposedException>(() => Batch.Open(client, null, output));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>A progress exception stops the run and is thrown by it; a cancelled token stops it too.</summary>
    private static void TestBatchProgressExceptionAndCancellationStopTheRun()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ocrcloud-cs-batch-stop-" + Guid.NewGuid());
        string input = Path.Combine(dir, "in"), output = Path.Combine(dir, "out");
        try
        {
            foreach (string name in new[] { "a", "b", "c", "d" })
            {
                WriteFile(Path.Combine(input, name + ".pdf"), "%PDF-1.4\n% " + name + "\n");
            }
            using (OcrClient client = DemoClient())
            {
                using (Batch batch = Batch.Open(client, null, output))
                {
                    batch.AddFolder(input);
                    var recorder = new BatchRecorder { OnReport = () => { throw new InvalidOperationException("stop the batch"); } };
                    Equal(Throws<InvalidOperationException>(() => batch.Run(1, Fast(), CancellationToken.None, recorder)).Message,
                        "stop the batch");
                    Equal(recorder.Seen.Count, 1);
                    Check(batch.Count(BatchState.Completed) < 4, "stopped early");
                }
                using (var source = new CancellationTokenSource())
                using (Batch batch = Batch.Open(client, null, output))
                {
                    batch.AddFolder(input);
                    var recorder = new BatchRecorder { OnReport = source.Cancel };
                    Throws<OperationCanceledException>(() => batch.Run(1, Fast(), source.Token, recorder));
                    Check(batch.Count(BatchState.Completed) < 4, "stopped early");
                }
                using (Batch batch = Batch.Open(client, null, output))
                {
                    batch.AddFolder(input);
                    batch.Run(2, Fast());
                    Equal(batch.Count(BatchState.Completed), 4);
                }
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static void TestTheSampleProgramRuns()
    {
        string output = Path.Combine(Path.GetTempPath(), "ocrcloud-cs-sample-" + Guid.NewGuid());
        Directory.CreateDirectory(output);
        var start = new ProcessStartInfo(Process.GetCurrentProcess().MainModule.FileName,
            "\"" + sampleExe + "\" " + url + " \"" + samplePdf + "\" \"" + output + "\"")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
        };
        using (Process process = Process.Start(start))
        {
            string text = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            Equal(process.ExitCode, 0);
            Check(text.Contains("poll  1: task ") && text.Contains("is Completed"), text);
            Check(text.Contains("Hello from ocrcloud!"), text);
        }
        Equal(Directory.GetFiles(output).Length, 2);
        Directory.Delete(output, true);
    }

    /// <summary>
    /// The package of build-nupkg.sh, laid out as NuGet lays a referenced package into an
    /// application's folder (the assembly and its config, and runtimes/), runs the sample on mono
    /// with no LD_LIBRARY_PATH and no other environment variable.
    /// </summary>
    private static void TestTheNupkgRunsTheSampleWithNoLibraryPath()
    {
        string folder = Path.Combine(Path.GetTempPath(), "ocrcloud-cs-nupkg-" + Guid.NewGuid());
        string package = Path.Combine(folder, "package");
        string app = Path.Combine(folder, "app");
        try
        {
            ZipFile.ExtractToDirectory(nupkg, package);
            string[] entries = Directory.GetFiles(package, "*", SearchOption.AllDirectories)
                .Select(f => f.Substring(package.Length + 1)).OrderBy(f => f, StringComparer.Ordinal).ToArray();
            Equal(string.Join(" ", entries), "Ocrcloud.nuspec [Content_Types].xml lib/net8.0/Ocrcloud.dll " +
                "lib/net8.0/Ocrcloud.dll.config runtimes/linux-x64/native/libocrcloud.so");
            Check(File.ReadAllText(Path.Combine(package, "Ocrcloud.nuspec")).Contains("<version>" + OcrClient.LibraryVersion + "</version>"),
                "the package's version is the library's");
            Directory.CreateDirectory(Path.Combine(app, "runtimes", "linux-x64", "native"));
            foreach (string name in new[] { "Ocrcloud.dll", "Ocrcloud.dll.config" })
            {
                File.Copy(Path.Combine(package, "lib", "net8.0", name), Path.Combine(app, name));
            }
            File.Copy(Path.Combine(package, NativeRelativePath), Path.Combine(app, NativeRelativePath));
            File.Copy(sampleExe, Path.Combine(app, "Sample.exe"));
            string exe = Path.Combine(app, "Sample.exe");
            Equal(RunIn(folder, 2, exe), "usage: mono Sample.exe BASE_URL PDF OUTPUT_DIR\n");
            string text = RunIn(folder, 0, exe, url, samplePdf, "out-csharp");
            Check(text.Contains("Hello from ocrcloud!"), text);
            Equal(string.Join(" ", Directory.GetFiles(Path.Combine(folder, "out-csharp")).Select(Path.GetExtension).OrderBy(e => e)),
                ".pdf .txt");
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    private const string NativeRelativePath = "runtimes/linux-x64/native/libocrcloud.so";

    /// <summary>Runs a program on mono in <c>folder</c> with only PATH in its environment; answers what it printed.</summary>
    private static string RunIn(string folder, int expectedExit, params string[] arguments)
    {
        var start = new ProcessStartInfo(Process.GetCurrentProcess().MainModule.FileName,
            string.Join(" ", arguments.Select(a => "\"" + a + "\"")))
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = folder,
        };
        string path = Environment.GetEnvironmentVariable("PATH");
        start.EnvironmentVariables.Clear();
        start.EnvironmentVariables["PATH"] = path;
        using (Process process = Process.Start(start))
        {
            Task<string> errors = process.StandardError.ReadToEndAsync();
            string text = process.StandardOutput.ReadToEnd() + errors.Result;
            process.WaitForExit();
            Equal(process.ExitCode, expectedExit);
            return text;
        }
    }
}

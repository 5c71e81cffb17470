using System;
using System.IO;
using Ocrcloud;

/// <summary>
/// Submits a PDF, polls with a progress line per answer, saves every result, prints the text.
/// Usage: Sample.exe BASE_URL PDF OUTPUT_DIR (OUTPUT_DIR is made if missing; without arguments it prints
/// its usage and exits with 2). Credentials come from OCR_CLIENT_ID / OCR_CLIENT_SECRET (the emulator's:
/// demo / demo-secret).
/// </summary>
public static class Sample
{
    /// <summary>Prints on the polling thread, in order (a Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class PrintProgress : IProgress<PollProgress>
    {
        public void Report(PollProgress p)
        {
            Console.WriteLine("  poll {0,2}: task {1} is {2}", p.Attempt, p.TaskId, p.Status);
        }
    }

    private static string Extension(string type)
    {
        switch (type)
        {
            case "Text": return "txt";
            case "Pdf": return "pdf";
            case "Hocr": return "html";
            case "JSON": return "json";
            default: return "bin";
        }
    }

    public static int Main(string[] args)
    {
        if (args.Length != 3)
        {
            Console.Error.WriteLine("usage: mono Sample.exe BASE_URL PDF OUTPUT_DIR");
            return 2;
        }
        string url = args[0]; // "https://api.aspose.cloud", or the emulator's URL
        string pdf = args[1];
        string outputDir = args[2];
        Directory.CreateDirectory(outputDir);
        string clientId = Environment.GetEnvironmentVariable("OCR_CLIENT_ID") ?? "demo";
        string secret = Environment.GetEnvironmentVariable("OCR_CLIENT_SECRET") ?? "demo-secret";
        try
        {
            using (OcrClient client = OcrClient.WithCredentials(url, clientId, secret))
            {
                string taskId = client.SubmitFile("RecognizePdf", pdf,
                    "{\"language\":\"English\",\"resultType\":\"TextAndPdf\"}");
                Console.WriteLine("submitted " + pdf + " as task " + taskId);
                var options = new PollOptions
                {
                    Interval = TimeSpan.FromMilliseconds(250),
                    Backoff = new Backoff(1.5, TimeSpan.FromSeconds(2)),
                    Timeout = TimeSpan.FromMinutes(1),
                };
                using (OcrResult result = client.PollUntilDone(taskId, options, progress: new PrintProgress()))
                {
                    for (int i = 0; i < result.Files.Count; i++)
                    {
                        OcrFile file = result.Files[i];
                        string path = Path.Combine(outputDir, taskId + "." + Extension(file.Type));
                        result.Save(i, path);
                        Console.WriteLine("saved " + file.Type + " result (" + file.Size + " bytes) to " + path);
                        if (file.Type == "Text")
                        {
                            Console.Write("---- recognized text ----\n" + file.Text + "-------------------------\n");
                        }
                    }
                }
            }
            return 0;
        }
        catch (OcrException e)
        {
            Console.Error.WriteLine("failed: " + e.Code + ": " + e.Message);
            return 1;
        }
    }
}

using System.Text;

namespace Jobplane.Testing.Processes;

/// <summary>
/// Output appended to a log file by the child itself: no pipe for us to drain (nothing to slow a
/// measured process), and the log outlives the run for post-mortems. Only what was written after
/// <see cref="Start"/> (this process's part of a shared log) is read back.
/// </summary>
public sealed class LogFileOutput(string path) : ProcessOutput
{
    // Enough for a few dozen lines; a controller's log can grow to megabytes in a long run.
    private const int TailBytes = 16 * 1024;

    public string Path { get; } = path;

    /// <summary>Where this process's output begins in the file.</summary>
    public long Start { get; } = File.Exists(path) ? new FileInfo(path).Length : 0;

    public override string Text => Read(Start);

    public override string Tail(int lines) => TailOf(Path, lines, Start);

    /// <summary>The last lines of any log file (a server's own log, say), quoted; never throws.</summary>
    public static string TailOf(string path, int lines, long from = 0)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var start = Math.Max(from, file.Length - TailBytes);
            file.Seek(start, SeekOrigin.Begin);
            using var reader = new StreamReader(file, Encoding.UTF8);
            var all = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            // A partial first line (we started reading mid-file) is dropped.
            return QuoteLines((start > from ? all.Skip(1) : all).TakeLast(lines));
        }
        catch (IOException e)
        {
            return $"{Quote}(cannot read {path}: {e.Message})";
        }
    }

    private string Read(long from)
    {
        try
        {
            using var file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            file.Seek(from, SeekOrigin.Begin);
            using var reader = new StreamReader(file, Encoding.UTF8);
            return reader.ReadToEnd();
        }
        catch (IOException)
        {
            return "";
        }
    }
}

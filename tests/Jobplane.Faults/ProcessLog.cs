using System.Text;

namespace Jobplane.Faults;

/// <summary>Reading the end of a process's log file for the console.</summary>
public static class ProcessLog
{
    // Enough for a few dozen lines; a controller's log can grow to megabytes in a long run.
    private const int TailBytes = 16 * 1024;

    public static string Tail(string path, int lines)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var start = Math.Max(0, file.Length - TailBytes);
            file.Seek(start, SeekOrigin.Begin);
            using var reader = new StreamReader(file, Encoding.UTF8);
            var all = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            // A partial first line (we started reading mid-file) is dropped.
            var usable = start > 0 ? all.Skip(1).ToArray() : all;
            return string.Join('\n', usable.TakeLast(lines).Select(l => "    | " + l.TrimEnd('\r')));
        }
        catch (IOException e)
        {
            return $"    | (cannot read {path}: {e.Message})";
        }
    }
}

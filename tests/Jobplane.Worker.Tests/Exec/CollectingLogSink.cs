using System.Text;
using Jobplane.Worker.Runtimes;

namespace Jobplane.Worker.Tests.Exec;

/// <summary>A thread-safe sink that keeps every line, in arrival order per stream.</summary>
internal sealed class CollectingLogSink : ILogSink
{
    private readonly Lock _gate = new();
    private readonly List<(LogStream Stream, string Line)> _lines = [];

    public void Write(LogStream stream, string line)
    {
        lock (_gate) _lines.Add((stream, line));
    }

    public IReadOnlyList<string> Lines(LogStream stream)
    {
        lock (_gate) return _lines.Where(l => l.Stream == stream).Select(l => l.Line).ToList();
    }

    public IReadOnlyList<string> Stdout => Lines(LogStream.Stdout);
    public IReadOnlyList<string> Stderr => Lines(LogStream.Stderr);

    public string Text(LogStream stream)
    {
        var text = new StringBuilder();
        foreach (var line in Lines(stream)) text.Append(line).Append('\n');
        return text.ToString();
    }
}

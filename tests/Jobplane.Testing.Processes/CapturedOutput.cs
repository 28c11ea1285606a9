using System.Text;

namespace Jobplane.Testing.Processes;

/// <summary>
/// Output read through pipes into memory, bounded: a chatty process in a long test keeps its last
/// lines (the ones a failure message needs), not everything it ever wrote.
/// </summary>
public sealed class CapturedOutput(int maxLines = CapturedOutput.DefaultMaxLines) : ProcessOutput
{
    public const int DefaultMaxLines = 20_000;

    private readonly Queue<string> _lines = new();
    private readonly Lock _gate = new();
    private long _dropped;

    public void Append(string? line)
    {
        if (line is null) return;
        lock (_gate)
        {
            _lines.Enqueue(line);
            if (_lines.Count <= maxLines) return;
            _lines.Dequeue();
            _dropped++;
        }
    }

    public override string Text
    {
        get
        {
            lock (_gate)
            {
                var text = new StringBuilder();
                if (_dropped > 0) text.Append('(').Append(_dropped).AppendLine(" earlier lines dropped)");
                foreach (var line in _lines) text.AppendLine(line);
                return text.ToString();
            }
        }
    }

    public override string Tail(int lines)
    {
        lock (_gate) return QuoteLines(_lines.TakeLast(lines));
    }
}

namespace Jobplane.Testing.Processes;

/// <summary>What a child process has written (stdout and stderr together), for assertions and failure messages.</summary>
public abstract class ProcessOutput
{
    /// <summary>Prefix of every line quoted by <see cref="Tail"/>, so that quoted output stands apart in a message.</summary>
    public const string Quote = "    | ";

    /// <summary>Everything kept, one line per line written.</summary>
    public abstract string Text { get; }

    /// <summary>The last <paramref name="lines"/> lines, each quoted.</summary>
    public abstract string Tail(int lines);

    public virtual bool Contains(string text) => Text.Contains(text, StringComparison.Ordinal);

    protected static string QuoteLines(IEnumerable<string> lines) => string.Join('\n', lines.Select(l => Quote + l.TrimEnd('\r')));
}

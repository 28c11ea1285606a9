using System.Text;

namespace Jobplane.Cli.Output;

/// <summary>
/// A plain column formatter: left-aligned, two spaces between columns, upper-case headers, one row per line.
/// Cells are never truncated here (ids must stay copyable); callers shorten free text themselves.
/// </summary>
internal sealed class TableWriter
{
    private const string Gap = "  ";
    private const string Bold = "\u001b[1m";
    private const string Reset = "\u001b[0m";

    private readonly string[] headers;
    private readonly List<string[]> rows = [];

    public TableWriter(params string[] headers)
    {
        if (headers.Length == 0) throw new ArgumentException("a table needs at least one column", nameof(headers));
        this.headers = [.. headers.Select(h => h.ToUpperInvariant())];
    }

    public int RowCount => rows.Count;

    public TableWriter AddRow(params string?[] cells)
    {
        if (cells.Length != headers.Length)
            throw new ArgumentException($"row has {cells.Length} cells, table has {headers.Length} columns", nameof(cells));
        rows.Add([.. cells.Select(Clean)]);
        return this;
    }

    /// <summary>Writes the table; <paramref name="color"/> bolds the header (only for a terminal).</summary>
    public void WriteTo(TextWriter writer, bool color = false)
    {
        var widths = new int[headers.Length];
        for (var i = 0; i < headers.Length; i++)
            widths[i] = Math.Max(headers[i].Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length));

        WriteLine(writer, headers, widths, color ? Bold : null);
        foreach (var row in rows)
            WriteLine(writer, row, widths, null);
    }

    public override string ToString()
    {
        using var writer = new StringWriter { NewLine = "\n" };
        WriteTo(writer);
        return writer.ToString();
    }

    private static void WriteLine(TextWriter writer, string[] cells, int[] widths, string? style)
    {
        var line = new StringBuilder();
        for (var i = 0; i < cells.Length; i++)
        {
            if (i > 0) line.Append(Gap);
            // The last column is not padded: trailing blanks only get in the way of copy and paste.
            line.Append(i == cells.Length - 1 ? cells[i] : cells[i].PadRight(widths[i]));
        }
        var text = line.ToString().TrimEnd();
        writer.WriteLine(style is null ? text : style + text + Reset);
    }

    /// <summary>Empty cells become "-" so that whitespace-splitting tools (awk, cut) keep column positions.</summary>
    private static string Clean(string? cell)
    {
        if (string.IsNullOrWhiteSpace(cell)) return "-";
        var builder = new StringBuilder(cell.Length);
        foreach (var c in cell.Trim())
            builder.Append(char.IsControl(c) ? ' ' : c);
        return builder.ToString();
    }
}

namespace Jobplane.Testing.Dashboard;

/// <summary>
/// A markdown table of the violations found on each page checked, by impact, appended to the file
/// named by JOBPLANE_AXE_REPORT (make test prints it at the end); nothing is written when it is unset.
/// </summary>
public static class AxeReport
{
    public const string Variable = "JOBPLANE_AXE_REPORT";

    private const string Header = """
        | page | path | critical | serious | moderate | minor |
        | --- | --- | ---: | ---: | ---: | ---: |

        """;

    // Test classes run in parallel: rows are appended one at a time.
    private static readonly Lock Gate = new();

    /// <summary>Adds the page's row to the report named by JOBPLANE_AXE_REPORT, if any.</summary>
    public static void Record(string name, string url, IReadOnlyCollection<AxeViolation> violations)
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } path) Append(path, name, url, violations);
    }

    /// <summary>Adds the page's row to the report at <paramref name="path"/>, starting the table when the file is new.</summary>
    public static void Append(string path, string name, string url, IReadOnlyCollection<AxeViolation> violations)
    {
        int Count(string impact) => violations.Count(v => v.Impact == impact);
        var pathAndQuery = Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.PathAndQuery : url;
        var row = $"| {Cell(name)} | `{Cell(pathAndQuery)}` | {Count("critical")} | {Count("serious")} | {Count("moderate")} | {Count("minor")} |\n";
        lock (Gate)
        {
            var fresh = !File.Exists(path) || new FileInfo(path).Length == 0;
            File.AppendAllText(path, fresh ? Header + row : row);
        }
    }

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");
}

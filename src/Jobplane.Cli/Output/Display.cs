using System.Globalization;
using System.Text;

namespace Jobplane.Cli.Output;

/// <summary>How values look in tables and key/value listings (JSON output never goes through here).</summary>
internal static class Display
{
    public static string Time(DateTimeOffset? value)
    {
        if (value is not { } t) return "-";
        // RFC3339 to the second, in the offset the controller used; "Z" for UTC as people expect to read it.
        var text = t.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
        return t.Offset == TimeSpan.Zero ? text + "Z" : text + t.ToString("zzz", CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// key: value lines with the values aligned. A multi-line value (an error with a stack trace) keeps its
    /// lines, indented under the value column, so `grep '^status:'` and friends still see one line per key.
    /// </summary>
    public static void Fields(TextWriter writer, IReadOnlyList<(string Key, string Value)> fields)
    {
        var width = fields.Max(f => f.Key.Length) + 2;
        foreach (var (key, value) in fields)
        {
            var lines = value.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
            writer.WriteLine((key + ":").PadRight(width) + lines[0]);
            foreach (var line in lines.Skip(1))
                writer.WriteLine(new string(' ', width) + line);
        }
    }

    public static string Number(long? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "-";

    /// <summary>What a job asks of its container, e.g. "memory=32MiB cpus=0.5 pids=20 network root"; "-" for the worker's defaults.</summary>
    public static string Resources(Api.JobResources? resources, bool network, bool runAsRoot)
    {
        var parts = new List<string>(5);
        if (resources?.MemoryMib is { } memory) parts.Add(string.Create(CultureInfo.InvariantCulture, $"memory={memory}MiB"));
        if (resources?.Cpus is { } cpus) parts.Add(string.Create(CultureInfo.InvariantCulture, $"cpus={cpus}"));
        if (resources?.Pids is { } pids) parts.Add(string.Create(CultureInfo.InvariantCulture, $"pids={pids}"));
        if (network) parts.Add("network");
        if (runAsRoot) parts.Add("root");
        return parts.Count == 0 ? "-" : string.Join(' ', parts);
    }

    /// <summary>
    /// Charged attempts against the limit, e.g. "1/3". Attempts a draining worker handed back are not
    /// charged, so they are left out here (status lists them as handed_back): counting them gave "2/1".
    /// </summary>
    public static string Attempt(Api.ExecutionView execution) =>
        string.Create(CultureInfo.InvariantCulture, $"{execution.Attempt - execution.HandedBack}/{execution.MaxAttempts}");

    /// <summary>When a waiting execution (SCHEDULED, or RETRYING after its backoff) becomes due; "-" for any other.</summary>
    public static string DueAt(Api.ExecutionView execution) =>
        IsWaitingForTime(execution.Status) ? Time(execution.ScheduledAt) : "-";

    /// <summary>SCHEDULED and RETRYING executions wait for their due time before a worker can get them.</summary>
    public static bool IsWaitingForTime(string status) => status is Api.ExecutionStatus.Scheduled or Api.ExecutionStatus.Retrying;

    /// <summary>Shortens free text for a table cell; newlines would break the one-row-per-line layout.</summary>
    public static string Truncate(string? text, int max)
    {
        if (string.IsNullOrWhiteSpace(text)) return "-";
        var flat = string.Join(' ', text.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return flat.Length <= max ? flat : flat[..(max - 3)] + "...";
    }

    /// <summary>A command line as a shell would need it typed: arguments with spaces or quotes get single quotes.</summary>
    public static string Command(IReadOnlyList<string>? command)
    {
        if (command is null || command.Count == 0) return "-";
        var builder = new StringBuilder();
        foreach (var argument in command)
        {
            if (builder.Length > 0) builder.Append(' ');
            var plain = argument.Length > 0 && argument.All(c => char.IsLetterOrDigit(c) || "-_./=:,+@%".Contains(c));
            builder.Append(plain ? argument : "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'");
        }
        return builder.ToString();
    }
}

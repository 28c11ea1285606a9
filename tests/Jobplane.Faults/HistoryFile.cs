using System.Globalization;

namespace Jobplane.Faults;

/// <summary>What the job itself wrote about one attempt: each start and end, in nanoseconds of the wall clock.</summary>
public sealed record HistoryRun(int Attempt, IReadOnlyList<long> Starts, IReadOnlyList<long> Ends)
{
    public DateTimeOffset? Start => Starts.Count > 0 ? FromNanoseconds(Starts[0]) : null;
    public DateTimeOffset? End => Ends.Count > 0 ? FromNanoseconds(Ends[0]) : null;
    public bool Completed => Starts.Count > 0 && Ends.Count > 0;

    private static DateTimeOffset FromNanoseconds(long ns) => DateTimeOffset.UnixEpoch.AddTicks(ns / 100);
}

/// <summary>
/// The job's own record of what really ran, independent of anything the platform says: every
/// attempt appends "EXECUTION_ID ATTEMPT start NS" before its work and "... end NS" after it, with
/// one small O_APPEND write each (atomic on a local file system), so lines never interleave.
/// </summary>
public sealed class HistoryFile
{
    private HistoryFile(Dictionary<Guid, List<HistoryRun>> runs, Dictionary<Guid, List<string>> lines, int malformed)
    {
        Runs = runs.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<HistoryRun>)kv.Value);
        Lines = lines.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)kv.Value);
        Malformed = malformed;
    }

    /// <summary>The runs of each execution, by attempt number.</summary>
    public IReadOnlyDictionary<Guid, IReadOnlyList<HistoryRun>> Runs { get; }

    /// <summary>The raw lines of each execution, for evidence.</summary>
    public IReadOnlyDictionary<Guid, IReadOnlyList<string>> Lines { get; }

    /// <summary>Lines that are not "ID ATTEMPT start|end NS" (a torn write would show up here).</summary>
    public int Malformed { get; }

    public static HistoryFile Read(string path)
    {
        var starts = new Dictionary<(Guid, int), List<long>>();
        var ends = new Dictionary<(Guid, int), List<long>>();
        var lines = new Dictionary<Guid, List<string>>();
        var malformed = 0;
        foreach (var line in File.Exists(path) ? File.ReadLines(path) : [])
        {
            var parts = line.Split(' ');
            if (parts.Length != 4 || !Guid.TryParse(parts[0], out var id) ||
                !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var attempt) ||
                !long.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var ns) ||
                parts[2] is not ("start" or "end"))
            {
                malformed++;
                continue;
            }
            var map = parts[2] == "start" ? starts : ends;
            if (!map.TryGetValue((id, attempt), out var list)) map[(id, attempt)] = list = [];
            list.Add(ns);
            if (!lines.TryGetValue(id, out var raw)) lines[id] = raw = [];
            raw.Add(line);
        }

        var runs = new Dictionary<Guid, List<HistoryRun>>();
        foreach (var key in starts.Keys.Union(ends.Keys))
        {
            if (!runs.TryGetValue(key.Item1, out var list)) runs[key.Item1] = list = [];
            list.Add(new HistoryRun(key.Item2, starts.GetValueOrDefault(key) ?? [], ends.GetValueOrDefault(key) ?? []));
        }
        foreach (var list in runs.Values) list.Sort((a, b) => a.Attempt.CompareTo(b.Attempt));
        return new HistoryFile(runs, lines, malformed);
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Jobplane.Faults;

public sealed record FaultJson(string Kind, string Target, int? Pid, DateTimeOffset InjectedAt, DateTimeOffset? RestoredAt);
public sealed record CheckJson(string Name, int Value, bool MustBeZero, bool Ok, string Meaning, IReadOnlyList<Guid> Examples);
public sealed record RecoveryJson(int Count, double? P50Seconds, double? P99Seconds, double? MaxSeconds);
public sealed record SubmissionJson(int Acknowledged, int Requests, int Retries, int InDoubt, int Replayed);
public sealed record InDoubtJson(int Submission, DateTimeOffset SentAt, DateTimeOffset EndedAt, string Controller, string Detail);

/// <summary>The JSON summary of a run (--json).</summary>
public sealed record SummaryJson(
    bool Passed,
    IReadOnlyList<string> Failed,
    int Seed,
    int Executions,
    int Workers,
    double DurationSeconds,
    double WallClockDriftMs,
    IReadOnlyDictionary<string, int> FaultCounts,
    SubmissionJson Submission,
    RecoveryJson RecoveryRescued,
    RecoveryJson Recovery,
    RecoveryJson RecoveryToSuccess,
    int ClaimedWhileAway,
    IReadOnlyList<CheckJson> Checks,
    IReadOnlyList<FaultJson> Faults,
    IReadOnlyList<InDoubtJson> InDoubtRequests);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(SummaryJson))]
public sealed partial class FaultsJsonContext : JsonSerializerContext;

/// <summary>The printed figures of a run, the evidence behind a failing check, and the JSON summary.</summary>
public static class Report
{
    private const int EvidencePerCheck = 3;

    public static string Describe(FaultKind kind) => kind switch
    {
        FaultKind.WorkerKill => "worker SIGKILL + restart",
        FaultKind.WorkerPause => "worker SIGSTOP > lease + SIGCONT",
        FaultKind.WorkerTerm => "worker SIGTERM (drain, hand back) + restart",
        FaultKind.ControllerKill => "controller SIGKILL + restart",
        FaultKind.ControllerTerm => "controller SIGTERM + restart",
        FaultKind.PostgresCrash => "PostgreSQL crash + restart",
        _ => kind.ToString(),
    };

    public static string Print(FaultOptions options, RunEvidence run, IReadOnlyList<CheckResult> checks, RecoveryFigures recovery,
        TimeSpan duration, TimeSpan drift)
    {
        var s = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        s.AppendLine();
        s.AppendLine(inv, $"==== jobplane faults: {options.Executions} executions, {options.Workers} workers, seed {options.Seed}, {duration.TotalSeconds:0.0}s ====");
        s.AppendLine();
        s.AppendLine(inv, $"{"Faults injected",-46}{"count",8}");
        foreach (var kind in Enum.GetValues<FaultKind>())
            s.AppendLine(inv, $"  {Describe(kind),-44}{run.Faults.Count(f => f.Kind == kind),8}");
        s.AppendLine(inv, $"  {"total",-44}{run.Faults.Count,8}");
        s.AppendLine();
        var sub = run.Submission;
        s.AppendLine("Submissions");
        s.AppendLine(inv, $"  {"acknowledged",-44}{sub.Acknowledged.Count,8} of {options.Executions}");
        s.AppendLine(inv, $"  {"requests",-44}{sub.Requests,8}");
        s.AppendLine(inv, $"  {"retries / in doubt / replayed by key",-44}{$"{sub.Retries} / {sub.InDoubt.Count} / {sub.Replayed}",8}");
        s.AppendLine();
        s.AppendLine(inv, $"{"Checks",-46}{"value",8}   rule");
        foreach (var c in checks)
        {
            var rule = c.MustBeZero ? (c.Failed ? "must be 0   FAILED" : "must be 0   ok") : "reported";
            s.AppendLine(inv, $"  {c.Name,-44}{c.Value,8}   {rule}");
        }
        s.AppendLine();
        s.AppendLine("Recovery after a worker SIGKILL/SIGSTOP at T, for each execution it was running at T");
        s.AppendLine(Line("T -> lease rescued (detection)", recovery.Rescued));
        s.AppendLine(Line("T -> next attempt starts", recovery.NextAttempt));
        s.AppendLine(Line("T -> the succeeded attempt starts", recovery.SucceededAttempt));
        s.AppendLine(inv, $"  {"attempts granted to a stopped/dead worker",-44}{recovery.ClaimedWhileAway,8}");
        if (Math.Abs(drift.TotalMilliseconds) > 50)
            s.AppendLine(inv, $"  !! the wall clock moved {drift.TotalMilliseconds:0} ms against the monotonic clock: time figures are suspect");
        s.AppendLine();
        var failed = checks.Where(c => c.Failed).Select(c => c.Name).ToList();
        s.AppendLine(failed.Count == 0 ? "RESULT: PASS (every must-be-zero figure is zero)" : $"RESULT: FAIL ({string.Join(", ", failed)})");
        return s.ToString();
    }

    /// <summary>For each failing check, a few of its executions: the database's attempts and the job's own HISTORY lines.</summary>
    public static string Evidence(RunEvidence run, IReadOnlyList<CheckResult> checks)
    {
        var s = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        foreach (var check in checks.Where(c => c.Failed && c.Examples.Count > 0))
        {
            s.AppendLine(inv, $"-- {check.Name}: {check.Meaning}");
            foreach (var id in check.Examples.Take(EvidencePerCheck))
            {
                if (run.State.Executions.TryGetValue(id, out var e))
                {
                    s.AppendLine(inv, $"   execution {id}: status {e.Status}, attempt {e.Attempt}, created {e.CreatedAt:HH:mm:ss.ffffff}");
                    AttemptRow? previous = null;
                    foreach (var a in e.Attempts)
                    {
                        // How far this attempt's recorded start precedes the previous one's recorded end.
                        var overlap = previous?.EndedAt is { } end && a.StartedAt < end
                            ? string.Create(inv, $" [starts {(end - a.StartedAt).TotalMilliseconds:0.000} ms before attempt {previous.Attempt} ended]")
                            : "";
                        s.AppendLine(inv,
                            $"     attempt {a.Attempt} on {a.WorkerId}: {a.StartedAt:HH:mm:ss.ffffff} .. {a.EndedAt?.ToString("HH:mm:ss.ffffff", inv) ?? "(open)"} {a.Outcome ?? "(none)"} exit {a.ExitCode?.ToString(inv) ?? "-"} {a.Error}{overlap}");
                        previous = a;
                    }
                }
                else
                {
                    s.AppendLine(inv, $"   execution {id}: not in the database");
                }
                foreach (var line in run.History.Lines.GetValueOrDefault(id) ?? [])
                    s.AppendLine(inv, $"     HISTORY {line}{HistoryTime(line)}");
            }
        }
        return s.ToString();
    }

    public static async Task WriteJsonAsync(string path, FaultOptions options, RunEvidence run, IReadOnlyList<CheckResult> checks,
        RecoveryFigures recovery, TimeSpan duration, TimeSpan drift)
    {
        var summary = new SummaryJson(
            Passed: !checks.Any(c => c.Failed),
            Failed: [.. checks.Where(c => c.Failed).Select(c => c.Name)],
            Seed: options.Seed,
            Executions: options.Executions,
            Workers: options.Workers,
            DurationSeconds: Math.Round(duration.TotalSeconds, 3),
            WallClockDriftMs: Math.Round(drift.TotalMilliseconds, 3),
            FaultCounts: Enum.GetValues<FaultKind>().ToDictionary(k => JsonNamingPolicy.SnakeCaseLower.ConvertName(k.ToString()),
                k => run.Faults.Count(f => f.Kind == k)),
            Submission: new SubmissionJson(run.Submission.Acknowledged.Count, run.Submission.Requests, run.Submission.Retries,
                run.Submission.InDoubt.Count, run.Submission.Replayed),
            RecoveryRescued: Json(recovery.Rescued),
            Recovery: Json(recovery.NextAttempt),
            RecoveryToSuccess: Json(recovery.SucceededAttempt),
            ClaimedWhileAway: recovery.ClaimedWhileAway,
            Checks: [.. checks.Select(c => new CheckJson(c.Name, c.Value, c.MustBeZero, !c.Failed, c.Meaning, c.Examples))],
            Faults: [.. run.Faults.Select(f => new FaultJson(JsonNamingPolicy.SnakeCaseLower.ConvertName(f.Kind.ToString()),
                f.Target, f.Pid, f.InjectedAt, f.RestoredAt))],
            InDoubtRequests: [.. run.Submission.InDoubt.Select(r => new InDoubtJson(r.Submission, r.SentAt, r.EndedAt, r.Controller, r.Detail))]);
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } dir) Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(summary, FaultsJsonContext.Default.SummaryJson));
    }

    /// <summary>The nanosecond stamp of a HISTORY line as a time of day, to read beside the database's times.</summary>
    private static string HistoryTime(string line) =>
        long.TryParse(line.Split(' ')[^1], NumberStyles.None, CultureInfo.InvariantCulture, out var ns)
            ? $"  ({DateTimeOffset.UnixEpoch.AddTicks(ns / 100):HH:mm:ss.ffffff})"
            : "";

    private static string Line(string what, Distribution d) => d.Count == 0
        ? $"  {what,-44}{"none",8}"
        : string.Create(CultureInfo.InvariantCulture, $"  {what,-44}{d.Count,8}   p50 {Seconds(d.P50)}   p99 {Seconds(d.P99)}   max {Seconds(d.Max)}");

    private static RecoveryJson Json(Distribution d) =>
        new(d.Count, d.P50?.TotalSeconds, d.P99?.TotalSeconds, d.Max?.TotalSeconds);

    private static string Seconds(TimeSpan? t) =>
        t is { } v ? string.Create(CultureInfo.InvariantCulture, $"{v.TotalSeconds:0.000}s") : "-";
}

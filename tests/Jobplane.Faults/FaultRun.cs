using System.Globalization;
using Jobplane.Api;
using Npgsql;

namespace Jobplane.Faults;

/// <summary>
/// One run of the suite, start to finish: a private PostgreSQL, the platform, a tenant and a job,
/// paced submissions under a nemesis, quiescence, then the checks on the final state. Whatever
/// happens, every process it started is stopped and its temporary directory removed.
/// </summary>
public sealed class FaultRun(FaultOptions options, Timeline timeline)
{
    private const int SubmitConcurrency = 16;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(5);

    /// <summary>Counts from the last poll, with how many acknowledgements they were computed for.</summary>
    private sealed record Snapshot(QueueCounts Counts, int Acknowledged);

    private volatile Snapshot? _last;

    /// <summary>0 when every check holds, 1 otherwise.</summary>
    public async Task<int> RunAsync(CancellationToken ct)
    {
        var source = Platform.FindBinaries();
        var runId = Guid.NewGuid().ToString("N")[..8];
        var root = Path.Combine(Path.GetTempPath(), $"jobplane-faults-{runId}");
        Directory.CreateDirectory(root);
        // The postgres user must be able to reach its own directory inside ours.
        File.SetUnixFileMode(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        PrivatePostgres? postgres = null;
        Platform? platform = null;
        NpgsqlDataSource? db = null;
        try
        {
            timeline.Say("setup", $"{options.Executions} executions over {options.SubmitPhase.TotalSeconds:0}s, {options.Workers} workers, seed {options.Seed}");
            timeline.Say("setup", $"temporary directory {root} (process logs in logs/)");
            var built = File.GetLastWriteTimeUtc(Path.Combine(source, "jobplane-controller"));
            var bin = Platform.SnapshotBinaries(source, Path.Combine(root, "bin"));
            timeline.Say("setup", $"binaries from {source} copied for the run (controller built {built:yyyy-MM-ddTHH:mm:ssZ})");
            postgres = await PrivatePostgres.StartAsync(Path.Combine(root, "pg"), ct);
            timeline.Say("setup", $"private PostgreSQL on unix socket {postgres.Directory} port {postgres.Port}");
            // Short timeouts: the suite's own reads must fail fast while PostgreSQL is down, and retry.
            db = NpgsqlDataSource.Create(postgres.ConnectionString + ";Timeout=3;Command Timeout=30;Application Name=jobplane-faults");
            platform = new Platform(bin, postgres.ConnectionString, root, options.Workers, runId, timeline);
            await platform.StartAsync(ct);

            using var api = new PublicApi();
            var history = Path.Combine(root, "HISTORY");
            // Every attempt runs as a job user of its own and appends here: made beforehand, open to all.
            await File.WriteAllTextAsync(history, "", ct);
            File.SetUnixFileMode(history, (UnixFileMode)0b110_110_110);
            var (apiKey, jobId) = await CreateJobAsync(api, platform.ControllerUrls[0], runId, history, ct);
            var watch = new QueueWatch(db, jobId);
            var submitter = new Submitter(api, platform.ControllerUrls, apiKey, jobId, runId, timeline);
            var nemesis = new Nemesis(platform, postgres, timeline, options.Seed, options.SubmitPhase, options.Executions);

            var submitting = submitter.RunAsync(options.Executions, options.SubmitPhase, SubmitConcurrency, ct);
            var faulting = nemesis.RunAsync(() => submitting.IsCompleted && _last is { Counts.AcknowledgedOpen: 0 } last &&
                                                  last.Acknowledged == submitter.AcknowledgedCount, ct);
            await WatchAsync(watch, submitter, nemesis, Task.WhenAll(submitting, faulting), ct);
            var submission = await submitting;
            await faulting;
            timeline.Say("submit", string.Create(CultureInfo.InvariantCulture,
                $"{submission.Acknowledged.Count} of {options.Executions} acknowledged ({submission.Requests} requests, {submission.InDoubt.Count} in doubt)"));

            var quiesced = await QuiesceAsync(watch, submitter, ct);
            // A worker resumed from SIGSTOP may still be finishing a job it had lost; let HISTORY settle
            // before the workers go, then stop everything so that nothing changes while we read.
            await Task.Delay(TimeSpan.FromSeconds(1.5), ct);
            timeline.Say("platform", "stopping workers, then controllers");
            await platform.StopAllAsync();

            var evidence = new RunEvidence(submission, await FinalState.ReadAsync(db, jobId, ct), HistoryFile.Read(history),
                nemesis.Faults, platform.UnexpectedExits, nemesis.RestoreFailures, quiesced);
            var checks = Checks.Evaluate(evidence);
            var recovery = Checks.Recovery(evidence.Faults, evidence.State);
            var duration = timeline.Elapsed;
            timeline.Print(Report.Print(options, evidence, checks, recovery, duration, timeline.WallClockDrift));
            var details = Report.Evidence(evidence, checks);
            if (details.Length > 0) timeline.Print("Evidence (database attempts, then the job's own HISTORY lines):\n" + details);
            if (options.JsonPath is { } json)
            {
                await Report.WriteJsonAsync(json, options, evidence, checks, recovery, duration, timeline.WallClockDrift);
                timeline.Say("report", $"JSON summary written to {json}");
            }
            return checks.Any(c => c.Failed) ? 1 : 0;
        }
        finally
        {
            if (platform is not null) await platform.DisposeAsync();
            if (db is not null) await db.DisposeAsync();
            if (postgres is not null) await postgres.StopQuietlyAsync();
            if (options.Keep)
            {
                timeline.Say("cleanup", $"kept {root}");
            }
            else
            {
                try
                {
                    Directory.Delete(root, recursive: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    timeline.Say("cleanup", $"!! could not remove {root}: {e.Message}");
                }
            }
        }
    }

    /// <summary>A tenant of our own, and one job whose script records every start and end of itself in HISTORY.</summary>
    private async Task<(string ApiKey, Guid JobId)> CreateJobAsync(PublicApi api, string url, string runId, string history, CancellationToken ct)
    {
        var apiKey = await api.CreateTenantAsync(url, $"faults-{runId}", ct);
        // Our script, not user input: the path is ours and has no quote in it. Each echo is one small
        // O_APPEND write, which is atomic, so concurrent attempts never tear each other's lines.
        var script =
            $"echo \"$JOBPLANE_EXECUTION_ID $JOBPLANE_ATTEMPT start $(date +%s%N)\" >> '{history}'; " +
            "sleep 0.1; " +
            $"echo \"$JOBPLANE_EXECUTION_ID $JOBPLANE_ATTEMPT end $(date +%s%N)\" >> '{history}'";
        var jobId = await api.CreateJobAsync(url, apiKey, new CreateJobRequest
        {
            Name = "faults-history",
            Image = "exec",
            Command = ["sh", "-c", script],
            // Faults burn attempts (a lost lease is charged): 20 keeps every execution clear of the
            // dead-letter queue, so that a non-SUCCEEDED execution means loss, not bad luck.
            MaxAttempts = 20,
            DefaultTimeout = 60,
        }, ct);
        timeline.Say("setup", $"tenant faults-{runId}, job {jobId} (max_attempts 20)");
        return (apiKey, jobId);
    }

    /// <summary>Polls the database while submissions and faults run; prints progress now and then.</summary>
    private async Task WatchAsync(QueueWatch watch, Submitter submitter, Nemesis nemesis, Task running, CancellationToken ct)
    {
        var nextReport = timeline.Elapsed + ProgressInterval;
        while (!running.IsCompleted)
        {
            var acknowledged = submitter.AcknowledgedSoFar();
            if (await watch.ReadAsync(acknowledged, ct) is { } counts) _last = new Snapshot(counts, acknowledged.Length);
            if (timeline.Elapsed >= nextReport)
            {
                Progress(submitter, $"faults {nemesis.Faults.Count}");
                nextReport = timeline.Elapsed + ProgressInterval;
            }
            await Task.WhenAny(Task.Delay(PollInterval, ct), running);
        }
    }

    /// <summary>Waits, with a generous bound, until every execution of the run is terminal.</summary>
    private async Task<bool> QuiesceAsync(QueueWatch watch, Submitter submitter, CancellationToken ct)
    {
        var limit = TimeSpan.FromSeconds(120) + TimeSpan.FromMilliseconds(50) * options.Executions;
        var deadline = timeline.Elapsed + limit;
        var nextReport = timeline.Elapsed;
        timeline.Say("quiesce", $"waiting up to {limit.TotalSeconds:0}s for every execution to be terminal");
        while (timeline.Elapsed < deadline)
        {
            var acknowledged = submitter.AcknowledgedSoFar();
            if (await watch.ReadAsync(acknowledged, ct) is { } counts)
            {
                _last = new Snapshot(counts, acknowledged.Length);
                if (counts is { Open: 0, AcknowledgedOpen: 0 })
                {
                    Progress(submitter, "all terminal");
                    return true;
                }
            }
            if (timeline.Elapsed >= nextReport)
            {
                Progress(submitter, "quiescing");
                nextReport = timeline.Elapsed + ProgressInterval;
            }
            await Task.Delay(PollInterval, ct);
        }
        timeline.Say("quiesce", $"!! executions still open after {limit.TotalSeconds:0}s");
        return false;
    }

    private void Progress(Submitter submitter, string tail)
    {
        if (_last is not { } s)
        {
            timeline.Say("progress", $"acknowledged {submitter.AcknowledgedCount}/{options.Executions}; database not read yet; {tail}");
            return;
        }
        var c = s.Counts;
        timeline.Say("progress", string.Create(CultureInfo.InvariantCulture,
            $"acknowledged {submitter.AcknowledgedCount}/{options.Executions}, in database {c.Total}: {c.Succeeded} {ExecutionStatus.Succeeded}, {c.Failed} {ExecutionStatus.Failed}, {c.Open} open; {tail}"));
    }
}

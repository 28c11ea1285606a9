using System.Globalization;
using System.Runtime.InteropServices;
using Jobplane.Bench;
using Jobplane.Testing.Processes;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

// jobplane-bench: starts the built platform (./bin) against fresh databases on the local PostgreSQL
// and measures what the performance issue asks for. Prints a table and a JSON summary (also written
// to bench/results/latest.json). Exit code 0 when the run completed, whatever the figures; 1 when the
// run itself broke down. `jobplane-bench quartz ...` is one node of the Quartz.NET baseline that the
// schedules scenario starts (twice) as child processes; `jobplane-bench hangfire ...` one Hangfire
// server of the peers' no-op baseline.
if (args is [QuartzNode.Mode, ..]) return await QuartzNode.RunAsync(args);
if (args is [HangfireNode.Mode, ..]) return await HangfireNode.RunAsync(args);

var root = RepositoryRoot.TryFind();
if (root is null)
{
    await Console.Error.WriteLineAsync("jobplane-bench: run from inside the repository (Jobplane.slnx not found)");
    return 2;
}
var options = BenchOptions.FromEnvironment(Environment.GetEnvironmentVariable, root);
var report = new Report(options);
var work = Directory.CreateTempSubdirectory("jobplane-bench-").FullName;
var machine = new Dictionary<string, string>
{
    ["cores"] = Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture),
    ["memory_gib"] = (GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024)).ToString("0", CultureInfo.InvariantCulture),
    ["os"] = RuntimeInformation.OSDescription,
    ["dotnet"] = Environment.Version.ToString(),
    ["load_average_at_start"] = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?",
};

Console.WriteLine($"jobplane benchmark ({(options.Quick ? "quick" : "full")} run); binaries from {options.BinDirectory}; logs in {work}");
var failed = false;
try
{
    var only = Environment.GetEnvironmentVariable("BENCH_ONLY") is { Length: > 0 } o ? o.Split(',') : ["platform", "peers", "claims", "retention", "schedules", "dashboard", "webhooks", "scale"];
    double starts = double.NaN;
    if (only.Contains("platform"))
    {
        Console.WriteLine($"\n== process start rate (.NET Process.Start, output captured, {options.ProcessStartParallelism} at a time)");
        starts = await ProcessStartRate.MeasureAsync("true", [], options.ProcessStarts, options.ProcessStartParallelism);
        report.Add(new Figure("process_start_per_s", "Process start rate, `true`", starts, "processes/s"));
        // What the exec runtime starts on a root worker: setpriv as the attempt's user, then the job
        // (two execs). The user is the last of the default job user range, which no attempt reaches.
        var chain = Environment.IsPrivilegedProcess
            ? await ProcessStartRate.MeasureAsync("/usr/bin/setpriv",
                ["--reuid=1565535", "--regid=1565535", "--clear-groups", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--", "true"],
                options.ProcessStarts / 2, options.ProcessStartParallelism)
            : starts;
        report.Add(new Figure("process_start_chain_per_s", "Process start rate, `setpriv --reuid=U ... -- true` (what exec starts as root)", chain, "processes/s"));

        await using (var db = await BenchDatabase.CreateAsync(options.ServerConnectionString, "platform"))
        {
            machine["postgresql"] = await db.ServerVersionAsync();
            if (!db.HasStatementStats)
                report.Note("pg_stat_statements is not loaded on this server (it needs shared_preload_libraries and a restart): statements per job are not reported; commits come from pg_stat_database");
            await using var platform = new BenchPlatform(options, db, work);
            await platform.StartAsync();
            var scenarios = new PlatformScenarios(options, platform, report);
            await scenarios.SubmitOneByOneAsync();
            await scenarios.SubmitBatchesAsync();
            await scenarios.DrainAsync("noop", options.NoopBacklog, options.NoopWorkers, options.NoopConcurrency, null);
            await scenarios.PickupLatencyAsync();
            await platform.StopWorkersAsync();
            // About 15 s of work at this machine's own process start rate (a busy machine starts far fewer).
            var execBacklog = Environment.GetEnvironmentVariable("BENCH_EXEC_BACKLOG") is { Length: > 0 }
                ? options.ExecBacklog
                : (int)Math.Clamp(starts * 15, 200, options.ExecBacklog);
            await scenarios.DrainAsync("exec", execBacklog, options.ExecWorkers, options.ExecConcurrency, starts);
            await platform.StopWorkersAsync();

            var controllerPeak = ProcessMemory.Read(platform.Controller!.Pid)?.Peak ?? double.NaN;
            report.Add(new Figure("controller_peak_rss_mib", "Controller peak RSS (whole run)", controllerPeak, "MiB", Target.Max(200),
                "Kestrel, the Npgsql pool and the server GC's per-core heaps; see the controller's log for its settings."));
            if (platform.WorkerPeaks.Count > 0)
                report.Add(new Figure("worker_peak_rss_mib", "Worker peak RSS (largest of all workers)", platform.WorkerPeaks.Max(), "MiB"));
        }
    }

    // Right after the platform, in the same invocation and on the same server: the figures the
    // platform's are divided by (and nothing of the platform is running any more).
    if (only.Contains("peers"))
    {
        await new PeerScenarios(options, report, work).RunAsync(platformRan: only.Contains("platform"));
    }
    else if (only.Contains("store"))
    {
        await new PeerScenarios(options, report, work).RunDatabaseAsync();
    }

    if (only.Contains("claims"))
    {
        await using (var db = await BenchDatabase.CreateAsync(options.ServerConnectionString, "claims"))
        {
            await new ClaimScaling(options, db, report).RunAsync();
        }
        await using (var db = await BenchDatabase.CreateAsync(options.ServerConnectionString, "tenants"))
        {
            await new ClaimTenants(options, db, report).RunAsync();
        }
    }

    if (only.Contains("retention"))
    {
        await using var db = await BenchDatabase.CreateAsync(options.ServerConnectionString, "retention");
        await new RetentionScenario(options, db, report).RunAsync();
    }

    if (only.Contains("schedules"))
    {
        await new ScheduleScenario(options, report, work).RunAsync();
    }

    if (only.Contains("dashboard"))
    {
        await using var db = await BenchDatabase.CreateAsync(options.ServerConnectionString, "dashboard");
        await new DashboardScenario(options, db, report, work).RunAsync();
    }

    if (only.Contains("webhooks"))
    {
        await using var db = await BenchDatabase.CreateAsync(options.ServerConnectionString, "webhooks");
        await new WebhookScenario(options, db, report, work).RunAsync();
    }

    if (only.Contains("scale"))
    {
        await new ScaleScenarios(options, report, work).RunAsync();
    }
}
catch (Exception e)
{
    failed = true;
    await Console.Error.WriteLineAsync($"\njobplane-bench: the run broke down: {e}");
    report.Note($"the run broke down: {e.Message}");
}

var json = report.Json(machine);
Console.WriteLine();
Console.WriteLine(report.Table());
Console.WriteLine(Report.ToJsonText(json));
Directory.CreateDirectory(Path.GetDirectoryName(options.ResultsPath)!);
await File.WriteAllTextAsync(options.ResultsPath, Report.ToJsonText(json) + "\n");
Console.WriteLine($"\nwritten to {Path.GetRelativePath(root, options.ResultsPath)}; process logs kept in {work}");
return failed ? 1 : 0;

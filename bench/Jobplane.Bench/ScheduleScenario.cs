using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using Jobplane.Api;
using Jobplane.Testing.Processes;
using Npgsql;

namespace Jobplane.Bench;

/// <summary>
/// What one firing run measured over its window: every (schedule, due time) of the window's 10 s
/// boundaries, how many of them fired once, twice or not at all, how late, and the CPU spent.
/// </summary>
/// <param name="Schedules">Schedules (or triggers) that existed through the window.</param>
/// <param name="Boundaries">Due times in the window: its 10 s boundaries.</param>
/// <param name="Present">Distinct (schedule, due time) pairs of the window that fired.</param>
/// <param name="Total">Fires of those pairs, duplicates included.</param>
/// <param name="LatenessMs">Each fire's lateness from its due time.</param>
/// <param name="WindowSeconds">The CPU window: whole 10 s periods.</param>
/// <param name="CpuOwn">The system's own processes (two controllers, or two Quartz nodes), seconds.</param>
/// <param name="CpuPostgres">The PostgreSQL backends of the system's database, seconds.</param>
/// <param name="CpuPostgresServer">Every postgres process of the server (all databases, the WAL writer, the checkpointer), seconds.</param>
public sealed record FiringRun(int Schedules, int Boundaries, long Present, long Total, IReadOnlyList<double> LatenessMs,
    double WindowSeconds, double CpuOwn, double CpuPostgres, double CpuPostgresServer)
{
    public long Expected => (long)Schedules * Boundaries;
    public long Duplicates => Total - Present;
    public long Misses => Expected - Present;
    public double P50 => Percentiles.Of(LatenessMs, 50);
    public double P99 => Percentiles.Of(LatenessMs, 99);
    public double Max => LatenessMs.Count == 0 ? double.NaN : LatenessMs.Max();

    /// <summary>CPU seconds scaled to a 2-minute window (the issue's unit).</summary>
    public double PerTwoMinutes(double seconds) => seconds * 120 / WindowSeconds;

    public double Cpu => CpuOwn + CpuPostgres;
}

/// <summary>
/// Recurring schedules at scale, against the scheduler .NET users pick today. jobplane: a fresh
/// database, two controller processes on it, BENCH_SCHEDULES schedules (`*/10 * * * * *`, UTC)
/// created through the API for one tenant, no workers (the executions fired stay PENDING: firing is
/// what is measured). Quartz.NET 4.7.3: a fresh database on the same server, two clustered scheduler
/// nodes as separate processes (ADO job store, PostgreSQL delegate, Npgsql; see <see cref="QuartzNode"/>),
/// as many cron triggers (`0/10 * * * * ?`), each with a no-op job of its own. Each is measured
/// over the same window: BENCH_SCHEDULE_SECONDS of whole 10 s periods from the first boundary after
/// everything was created and started. Duplicates, misses and lateness come from the database
/// afterwards; CPU from /proc over the window, for the system's two processes and for the PostgreSQL
/// backends of its database.
/// </summary>
public sealed class ScheduleScenario(BenchOptions options, Report report, string work)
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(10);
    /// <summary>How long after the window's last due time its fires may still arrive before they count as missed.</summary>
    private static readonly TimeSpan Tail = TimeSpan.FromSeconds(20);
    /// <summary>CPU is read this long before a boundary, when neither system is firing.</summary>
    private static readonly TimeSpan ReadBefore = TimeSpan.FromMilliseconds(500);

    /// <summary>How long the controllers' CPU is read with no schedule to fire.</summary>
    private static readonly TimeSpan IdleWindow = TimeSpan.FromSeconds(20);

    /// <summary>The controllers' and their database's CPU with no schedules, per 2 minutes.</summary>
    private (double Controllers, double Postgres) Idle { get; set; }

    private const string JobplaneCron = "*/10 * * * * *";
    private const int Creators = 8;

    public async Task RunAsync()
    {
        Console.WriteLine($"\n== schedules: {options.Schedules:N0} schedules due every 10 s on two controllers, and as many cron triggers on two clustered "
            + $"Quartz.NET 4.7.3 nodes ({string.Join(", ", options.QuartzVariants.Select(v => v.Name))}); {options.ScheduleWindow.TotalSeconds:0} s measured each");
        FiringRun ours;
        IReadOnlyList<double> commits;
        await using (var db = await BenchDatabase.CreateAsync(options.ServerConnectionString, "schedules"))
        {
            (ours, commits) = await RunJobplaneAsync(db);
        }
        var baselines = new List<(QuartzVariant Variant, FiringRun Run)>();
        foreach (var variant in options.QuartzVariants)
        {
            await using var db = await BenchDatabase.CreateAsync(options.ServerConnectionString, $"quartz_{variant.Name}", migrate: false);
            baselines.Add((variant, await RunQuartzAsync(db, variant)));
        }
        Console.WriteLine();
        Console.WriteLine(SideBySide(ours, baselines));
        ReportFigures(ours, commits, baselines);
    }

    private async Task<(FiringRun Run, IReadOnlyList<double> CommitMs)> RunJobplaneAsync(BenchDatabase db)
    {
        var settings = new Dictionary<string, string?>
        {
            ["MAX_SCHEDULES_PER_TENANT"] = Math.Max(1000, options.Schedules).ToString(CultureInfo.InvariantCulture),
            ["SCHEDULE_MIN_INTERVAL"] = "10s",
        };
        await using var platform = new BenchPlatform(options, db, work, settings);
        await platform.StartAsync();
        var replica = await platform.StartReplicaAsync();
        var jobId = await platform.CreateJobAsync("bench-schedule", "true");

        var watch = Stopwatch.StartNew();
        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, Creators).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) <= options.Schedules)
            {
                using var response = await platform.Http.PostAsJsonAsync("/schedules",
                    new ScheduleRequest { Name = $"bench-{i:D5}", JobId = jobId, Cron = JobplaneCron },
                    JobplaneJsonContext.Default.ScheduleRequest);
                if (!response.IsSuccessStatusCode)
                    throw new InvalidOperationException($"POST /schedules answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }
        })));
        Console.WriteLine($"  jobplane: {options.Schedules:N0} schedules created through the API in {watch.Elapsed.TotalSeconds:0.0} s "
            + $"({Creators} clients); controllers pid {platform.Controller!.Pid} and {replica.Pid}");

        // When each due time's fires were all committed: a connection of the harness's own (left out of
        // the database's CPU) counts them as they become visible (the lateness figure is taken at the
        // firing transaction's start, before its statements run and it commits).
        var first = NextBoundary(DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1));
        await using var watcher = await db.DataSource.OpenConnectionAsync();
        using var stopWatching = new CancellationTokenSource();
        var watching = WatchCommitsAsync(watcher, first, first + options.ScheduleWindow, options.Schedules, stopWatching.Token);

        ChildProcess[] controllers = [platform.Controller, replica];
        var window = await MeasureWindowAsync("jobplane", db, first, new HashSet<int> { watcher.ProcessID },
            () => controllers.Sum(c => CpuTime.Of(c.Pid)), platform.ThrowIfDied);
        await stopWatching.CancelAsync();
        var commits = await watching;

        long schedules, present, total, skipped;
        await using (var cmd = db.DataSource.CreateCommand("""
            /* bench */ with due as (
                select generate_series($1::timestamptz, $2::timestamptz - interval '10 seconds', interval '10 seconds') as due_at
            ), runs as (
                select schedule_id, schedule_due_at, count(*) as n from executions
                where schedule_id is not null and schedule_due_at in (select due_at from due)
                group by schedule_id, schedule_due_at
            )
            select (select count(*) from schedules), (select count(*) from runs), (select coalesce(sum(n), 0) from runs)::bigint,
                   (select coalesce(sum(missed), 0) from schedule_fires
                    where trigger = 'schedule' and outcome = 'skipped' and due_at >= $1 and due_at < $2)::bigint
            """))
        {
            AddWindow(cmd, window);
            await using var reader = await cmd.ExecuteReaderAsync();
            await reader.ReadAsync();
            (schedules, present, total, skipped) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
        }
        var lateness = await ReadDoublesAsync(db, """
            /* bench */ select extract(epoch from fired_at - due_at)::float8 * 1000 from schedule_fires
            where trigger = 'schedule' and outcome = 'fired'
              and due_at in (select generate_series($1::timestamptz, $2::timestamptz - interval '10 seconds', interval '10 seconds'))
            """, window);
        // The firing transactions of each due time: when each started (its now()) and how many it fired.
        await using (var cmd = db.DataSource.CreateCommand("""
            /* bench */ select due_at, string_agg(format('+%s ms (%s)', round(extract(epoch from fired_at - due_at)::numeric * 1000, 1), n), ', ' order by fired_at)
            from (select due_at, fired_at, count(*) as n from schedule_fires
                  where trigger = 'schedule' and outcome = 'fired' and due_at >= $1 and due_at < $2 group by due_at, fired_at) t
            group by due_at order by due_at
            """))
        {
            AddWindow(cmd, window);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
                Console.WriteLine($"  jobplane: due {reader.GetFieldValue<DateTimeOffset>(0):HH:mm:ss}: firing transactions started {reader.GetString(1)}");
        }
        if (skipped > 0) report.Note($"schedules, jobplane: {skipped} due times of the window were skipped (recorded as missed or by a policy)");

        var run = new FiringRun((int)schedules, window.Boundaries, present, total, lateness, window.Seconds, window.Own, window.Postgres, window.PostgresServer);
        Console.WriteLine($"  jobplane: {Summary(run)}");

        // What the same two controllers and their database cost with nothing to fire (every schedule
        // paused, the executions fired still queued): the floor under the CPU figure.
        await using (var pause = db.DataSource.CreateCommand("/* bench */ update schedules set paused_at = now()")) await pause.ExecuteNonQueryAsync();
        var idleFrom = NextBoundary(DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1));
        await DelayUntilAsync(idleFrom - ReadBefore, platform.ThrowIfDied);
        await using (var idleCpu = await DatabaseCpu.StartAsync(options.ServerConnectionString, db.Name, new HashSet<int>(), TimeSpan.FromSeconds(1)))
        {
            var own0 = controllers.Sum(c => CpuTime.Of(c.Pid));
            await DelayUntilAsync(idleFrom + IdleWindow - ReadBefore, platform.ThrowIfDied);
            var own = controllers.Sum(c => CpuTime.Of(c.Pid)) - own0;
            Idle = (own * 120 / IdleWindow.TotalSeconds, await idleCpu.StopAsync() * 120 / IdleWindow.TotalSeconds);
        }
        Console.WriteLine($"  jobplane: the same controllers with every schedule paused, per 2 min: controllers {Report.Format(Idle.Controllers)} s, "
            + $"PostgreSQL {Report.Format(Idle.Postgres)} s");
        return (run, commits);
    }

    private async Task<FiringRun> RunQuartzAsync(BenchDatabase db, QuartzVariant variant)
    {
        Console.WriteLine($"  quartz {variant.Name}: {variant.Describe()}");
        await using (var cmd = db.DataSource.CreateCommand(QuartzNode.FiresTableSql)) await cmd.ExecuteNonQueryAsync();
        var connection = new NpgsqlConnectionStringBuilder(db.ConnectionString) { ApplicationName = "quartz-bench" }.ConnectionString;

        var watch = Stopwatch.StartNew();
        // The first node creates the schema and the triggers, then starts; the second joins the cluster.
        await using var node1 = StartNode(variant, connection, "node1", options.Schedules);
        await WaitForNodesAsync(db, 1, node1);
        await using var node2 = StartNode(variant, connection, "node2", 0);
        await WaitForNodesAsync(db, 2, node2);
        Console.WriteLine($"  quartz {variant.Name}: schema, {options.Schedules:N0} jobs and triggers created and both nodes checked in after "
            + $"{watch.Elapsed.TotalSeconds:0.0} s; nodes pid {node1.Pid} and {node2.Pid}");

        ChildProcess[] nodes = [node1, node2];
        var first = NextBoundary(DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1));
        var window = await MeasureWindowAsync($"quartz {variant.Name}", db, first, new HashSet<int>(),
            () => nodes.Sum(n => CpuTime.Of(n.Pid)), () => ThrowIfExited(nodes));
        foreach (var node in nodes)
        {
            await node.StopAsync(TimeSpan.FromSeconds(60));
            if (!node.HasExited || node.ExitCode != 0)
                throw new InvalidOperationException($"{node.Name} did not stop cleanly (the fires it recorded are lost):\n{node.Tail(30)}");
        }

        long triggers, present, total, offGrid;
        await using (var cmd = db.DataSource.CreateCommand("""
            /* bench */ with due as (
                select generate_series($1::timestamptz, $2::timestamptz - interval '10 seconds', interval '10 seconds') as due_at
            ), runs as (
                select trigger_name, scheduled_at, count(*) as n from bench_quartz_fires
                where scheduled_at in (select due_at from due)
                group by trigger_name, scheduled_at
            )
            select (select count(*) from qrtz_triggers), (select count(*) from runs), (select coalesce(sum(n), 0) from runs)::bigint,
                   (select count(*) from bench_quartz_fires
                    where scheduled_at >= $1 and scheduled_at < $2 and scheduled_at not in (select due_at from due))
            """))
        {
            AddWindow(cmd, window);
            await using var reader = await cmd.ExecuteReaderAsync();
            await reader.ReadAsync();
            (triggers, present, total, offGrid) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
        }
        const string InWindow = "scheduled_at in (select generate_series($1::timestamptz, $2::timestamptz - interval '10 seconds', interval '10 seconds'))";
        var lateness = await ReadDoublesAsync(db, $"/* bench */ select extract(epoch from started_at - scheduled_at)::float8 * 1000 from bench_quartz_fires where {InWindow}", window);
        var triggered = await ReadDoublesAsync(db, $"/* bench */ select extract(epoch from fired_at - scheduled_at)::float8 * 1000 from bench_quartz_fires where {InWindow}", window);
        var perNode = new List<string>();
        await using (var cmd = db.DataSource.CreateCommand($"/* bench */ select instance, count(*) from bench_quartz_fires where {InWindow} group by instance order by instance"))
        {
            AddWindow(cmd, window);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync()) perNode.Add($"{reader.GetString(0)} {reader.GetInt64(1):N0}");
        }
        if (offGrid > 0)
            report.Note($"schedules, quartz {variant.Name}: {offGrid} fires in the window had a scheduled time off the 10 s grid (misfire handling fired them late as new times)");
        var run = new FiringRun((int)triggers, window.Boundaries, present, total, lateness, window.Seconds, window.Own, window.Postgres, window.PostgresServer);
        Console.WriteLine($"  quartz {variant.Name}: {Summary(run)}; trigger fired (before the job started) p50 {Report.Format(Percentiles.Of(triggered, 50))} ms, "
            + $"p99 {Report.Format(Percentiles.Of(triggered, 99))} ms; fires per node: {string.Join(", ", perNode)}");
        return run;
    }

    /// <summary>The window measured, and the CPU read over it.</summary>
    private sealed record Window(DateTimeOffset First, DateTimeOffset End, double Own, double Postgres, double PostgresServer)
    {
        public int Boundaries => (int)Math.Round((End - First) / Period);
        public double Seconds => (End - First).TotalSeconds;
    }

    /// <summary>
    /// From the 10 s boundary <paramref name="first"/>: reads CPU just before it and just before the
    /// boundary a window later (so whole periods are counted, each with its firing), prints the
    /// statements that took PostgreSQL's time over it, then waits <see cref="Tail"/> past the window's
    /// last due time for its late fires.
    /// </summary>
    private async Task<Window> MeasureWindowAsync(string label, BenchDatabase db, DateTimeOffset first, IReadOnlySet<int> excluded,
        Func<double> ownCpu, Action throwIfDied)
    {
        var end = first + options.ScheduleWindow;
        Console.WriteLine($"  {label}: measuring due times from {first:HH:mm:ss} to {end - Period:HH:mm:ss} UTC ({(end - first) / Period:0} boundaries)");
        await DelayUntilAsync(first - ReadBefore, throwIfDied);
        await db.ResetStatementStatsAsync();
        await using var postgres = await DatabaseCpu.StartAsync(options.ServerConnectionString, db.Name, excluded, TimeSpan.FromSeconds(1));
        var (own0, server0) = (ownCpu(), CpuTime.OfPostgres());
        await DelayUntilAsync(end - ReadBefore, throwIfDied);
        var (own1, server1) = (ownCpu(), CpuTime.OfPostgres());
        var pg = await postgres.StopAsync();
        var statements = await db.TopStatementsAsync(6);
        if (statements.Count > 0) Console.WriteLine($"  {label}: PostgreSQL's time over the window by statement (pg_stat_statements):\n    {string.Join("\n    ", statements)}");
        await DelayUntilAsync(end - Period + Tail, throwIfDied);
        return new Window(first, end, own1 - own0, pg, server1 - server0);
    }

    /// <summary>
    /// For each due time of the window, how long after it all <paramref name="schedules"/> fires of it
    /// were committed (visible to another connection), polled every few milliseconds.
    /// </summary>
    private static async Task<List<double>> WatchCommitsAsync(NpgsqlConnection conn, DateTimeOffset first, DateTimeOffset end, int schedules,
        CancellationToken ct)
    {
        var committed = new List<double>();
        await using var cmd = new NpgsqlCommand(
            "/* bench */ select count(*) from schedule_fires where fired_at >= $1 and due_at = $1 and trigger = 'schedule'", conn);
        var due = new NpgsqlParameter<DateTimeOffset>();
        cmd.Parameters.Add(due);
        try
        {
            for (var at = first; at < end; at += Period)
            {
                var left = at - DateTimeOffset.UtcNow;
                if (left > TimeSpan.Zero) await Task.Delay(left, ct);
                due.TypedValue = at;
                while (DateTimeOffset.UtcNow < at + Period - TimeSpan.FromSeconds(1))
                {
                    if ((long)(await cmd.ExecuteScalarAsync(ct))! >= schedules)
                    {
                        committed.Add((DateTimeOffset.UtcNow - at).TotalMilliseconds);
                        break;
                    }
                    await Task.Delay(TimeSpan.FromMilliseconds(5), ct);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        return committed;
    }

    private static async Task DelayUntilAsync(DateTimeOffset when, Action throwIfDied)
    {
        while (true)
        {
            throwIfDied();
            var left = when - DateTimeOffset.UtcNow;
            if (left <= TimeSpan.Zero) return;
            await Task.Delay(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1));
        }
    }

    private static DateTimeOffset NextBoundary(DateTimeOffset after)
    {
        var ticks = (after.UtcTicks / Period.Ticks + 1) * Period.Ticks;
        return new DateTimeOffset(ticks, TimeSpan.Zero);
    }

    private static void AddWindow(NpgsqlCommand cmd, Window window)
    {
        cmd.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = window.First });
        cmd.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = window.End });
    }

    private static async Task<List<double>> ReadDoublesAsync(BenchDatabase db, string sql, Window window)
    {
        var values = new List<double>();
        await using var cmd = db.DataSource.CreateCommand(sql);
        AddWindow(cmd, window);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) values.Add(reader.GetDouble(0));
        return values;
    }

    private ChildProcess StartNode(QuartzVariant variant, string connection, string instance, int create)
    {
        // This very program in its quartz mode: the apphost, or the dll under the dotnet host.
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("the harness's own executable is unknown");
        List<string> arguments = Path.GetFileNameWithoutExtension(self) == "dotnet" ? [typeof(QuartzNode).Assembly.Location] : [];
        arguments.AddRange(QuartzNode.Arguments(connection, instance, variant, create));
        return ChildProcess.Start(new ChildProcessStart($"quartz-{variant.Name}-{instance}", self)
        {
            Arguments = arguments,
            LogPath = Path.Combine(work, $"quartz-{variant.Name}-{instance}.log"),
        });
    }

    /// <summary>Waits until <paramref name="count"/> nodes have checked in (a node checks in once it has started).</summary>
    private static async Task WaitForNodesAsync(BenchDatabase db, int count, ChildProcess node)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            ThrowIfExited([node]);
            try
            {
                await using var cmd = db.DataSource.CreateCommand("/* bench */ select count(*) from qrtz_scheduler_state");
                if ((long)(await cmd.ExecuteScalarAsync())! >= count) return;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
            {
                // The node has not created the schema yet.
            }
            if (watch.Elapsed > TimeSpan.FromMinutes(5)) throw new TimeoutException($"{node.Name} did not check in within 5 minutes:\n{node.Tail(30)}");
            await Task.Delay(250);
        }
    }

    private static void ThrowIfExited(IEnumerable<ChildProcess> nodes)
    {
        foreach (var n in nodes)
        {
            if (n.HasExited) throw new InvalidOperationException($"{n.Name} exited:\n{n.Tail(30)}");
        }
    }

    private static string Summary(FiringRun r) =>
        $"{r.Expected:N0} due times expected, {r.Present:N0} fired ({r.Duplicates} duplicates, {r.Misses} missed); lateness p50 {Report.Format(r.P50)} ms, "
        + $"p99 {Report.Format(r.P99)} ms, max {Report.Format(r.Max)} ms; CPU {Report.Format(r.CpuOwn)} s own + {Report.Format(r.CpuPostgres)} s PostgreSQL "
        + $"over {r.WindowSeconds:0} s";

    private static string SideBySide(FiringRun ours, List<(QuartzVariant Variant, FiringRun Run)> baselines)
    {
        var columns = new List<(string Name, FiringRun Run)> { ("jobplane", ours) };
        columns.AddRange(baselines.Select(b => ($"Quartz {b.Variant.Name}", b.Run)));
        (string Label, Func<FiringRun, double> Value)[] rows =
        [
            ("due times expected (N0)", r => r.Expected),
            ("duplicates (N0)", r => r.Duplicates),
            ("misses (N0)", r => r.Misses),
            ("lateness p50, ms", r => r.P50),
            ("lateness p99, ms", r => r.P99),
            ("lateness max, ms", r => r.Max),
            ("CPU own processes, s / 2 min", r => r.PerTwoMinutes(r.CpuOwn)),
            ("CPU PostgreSQL (its database), s / 2 min", r => r.PerTwoMinutes(r.CpuPostgres)),
            ("CPU total, s / 2 min", r => r.PerTwoMinutes(r.Cpu)),
            ("CPU PostgreSQL whole server, s / 2 min", r => r.PerTwoMinutes(r.CpuPostgresServer)),
        ];
        static string Cell(string label, double value) =>
            label.EndsWith(" (N0)", StringComparison.Ordinal) ? value.ToString("N0", CultureInfo.InvariantCulture) : Report.Format(value);
        var w = rows.Max(r => r.Label.Replace(" (N0)", "", StringComparison.Ordinal).Length);
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"  {"".PadRight(w)}{string.Concat(columns.Select(c => c.Name.PadLeft(18)))}");
        foreach (var (label, value) in rows)
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {label.Replace(" (N0)", "", StringComparison.Ordinal).PadRight(w)}{string.Concat(columns.Select(c => Cell(label, value(c.Run)).PadLeft(18)))}");
        return sb.ToString().TrimEnd();
    }

    private void ReportFigures(FiringRun ours, IReadOnlyList<double> commits, List<(QuartzVariant Variant, FiringRun Run)> baselines)
    {
        const string Lateness = "From the due time to the firing transaction's now(), which is the execution's created_at (schedule_fires.fired_at).";
        report.Add(new Figure("schedules_jobplane_duplicates", $"Schedules, jobplane ({Label(ours)}): duplicate fires", ours.Duplicates, "", Target.Max(0)));
        report.Add(new Figure("schedules_jobplane_misses", "Schedules, jobplane: due times missed", ours.Misses, "", Target.Max(0)));
        report.Add(new Figure("schedules_jobplane_lateness_p50_ms", "Schedules, jobplane: lateness p50", ours.P50, "ms", Target.Max(50), Lateness));
        report.Add(new Figure("schedules_jobplane_lateness_p99_ms", "Schedules, jobplane: lateness p99", ours.P99, "ms", Target.Max(250), Lateness));
        report.Add(new Figure("schedules_jobplane_lateness_max_ms", "Schedules, jobplane: lateness max", ours.Max, "ms"));
        if (commits.Count > 0)
        {
            report.Add(new Figure("schedules_jobplane_committed_p50_ms", "Schedules, jobplane: last fire of a due time committed, median over due times",
                Percentiles.Of(commits, 50), "ms", Note: "from the due time until another connection saw all of its fires committed (polled every 5 ms)"));
            report.Add(new Figure("schedules_jobplane_committed_max_ms", "Schedules, jobplane: last fire of a due time committed, worst due time", commits.Max(), "ms"));
        }
        report.Add(new Figure("schedules_jobplane_cpu_controllers_s", "Schedules, jobplane: CPU of the two controllers per 2 min", ours.PerTwoMinutes(ours.CpuOwn), "s"));
        report.Add(new Figure("schedules_jobplane_cpu_postgres_s", "Schedules, jobplane: CPU of PostgreSQL (its database's backends) per 2 min",
            ours.PerTwoMinutes(ours.CpuPostgres), "s"));
        report.Add(new Figure("schedules_jobplane_idle_cpu_controllers_s", "Schedules, jobplane: CPU of the two controllers per 2 min, every schedule paused", Idle.Controllers, "s",
            Note: "their other loops (maintenance, rescue, queue gauges) and the firer's polling; measured over 20 s after the window with every schedule paused"));
        report.Add(new Figure("schedules_jobplane_idle_cpu_postgres_s", "Schedules, jobplane: CPU of PostgreSQL per 2 min, every schedule paused", Idle.Postgres, "s"));
        report.Add(new Figure("schedules_jobplane_cpu_s", "Schedules, jobplane: CPU, controllers + PostgreSQL, per 2 min", ours.PerTwoMinutes(ours.Cpu), "s"));
        report.Add(new Figure("schedules_jobplane_cpu_postgres_server_s", "Schedules, jobplane: CPU of every postgres process per 2 min",
            ours.PerTwoMinutes(ours.CpuPostgresServer), "s", Note: "the whole server: other databases' work on a shared machine, and the WAL writer and checkpointer"));

        foreach (var (variant, run) in baselines)
        {
            var key = $"schedules_quartz_{variant.Name}";
            var name = $"Schedules, Quartz.NET {variant.Name}";
            report.Add(new Figure($"{key}_duplicates", $"{name} ({variant.Describe()}): duplicate fires", run.Duplicates, ""));
            report.Add(new Figure($"{key}_misses", $"{name}: due times missed", run.Misses, ""));
            report.Add(new Figure($"{key}_lateness_p50_ms", $"{name}: lateness p50 (due time to job start)", run.P50, "ms"));
            report.Add(new Figure($"{key}_lateness_p99_ms", $"{name}: lateness p99", run.P99, "ms"));
            report.Add(new Figure($"{key}_lateness_max_ms", $"{name}: lateness max", run.Max, "ms"));
            report.Add(new Figure($"{key}_cpu_nodes_s", $"{name}: CPU of the two nodes per 2 min", run.PerTwoMinutes(run.CpuOwn), "s"));
            report.Add(new Figure($"{key}_cpu_postgres_s", $"{name}: CPU of PostgreSQL (its database's backends) per 2 min", run.PerTwoMinutes(run.CpuPostgres), "s"));
            report.Add(new Figure($"{key}_cpu_s", $"{name}: CPU, nodes + PostgreSQL, per 2 min", run.PerTwoMinutes(run.Cpu), "s"));
            report.Add(new Figure($"{key}_cpu_postgres_server_s", $"{name}: CPU of every postgres process per 2 min", run.PerTwoMinutes(run.CpuPostgresServer), "s"));
            report.Add(new Figure($"schedules_cpu_ratio_{variant.Name}", $"Schedules: jobplane CPU / Quartz.NET {variant.Name} CPU (processes + PostgreSQL)",
                ours.Cpu / run.Cpu, "", Target.Max(0.1)));
            report.Add(new Figure($"schedules_lateness_p50_ratio_{variant.Name}", $"Schedules: jobplane lateness p50 / Quartz.NET {variant.Name}", ours.P50 / run.P50, ""));
            report.Add(new Figure($"schedules_lateness_p99_ratio_{variant.Name}", $"Schedules: jobplane lateness p99 / Quartz.NET {variant.Name}", ours.P99 / run.P99, ""));
        }
    }

    private static string Label(FiringRun r) =>
        $"{r.Schedules:N0} schedules x {r.Boundaries} due times, two controllers";
}

using System.Globalization;

namespace Jobplane.Bench;

/// <summary>
/// The sizes of one benchmark run. The full run (`make bench`) takes several minutes; the quick
/// run (BENCH_QUICK=1, `make bench-quick`) is a smoke run of a minute or two with smaller backlogs,
/// whose figures are rougher. Every size can be overridden by its BENCH_* variable, and
/// BENCH_ONLY=platform, peers, claims, retention, schedules, dashboard, webhooks or scale (comma-separated) runs only those parts.
/// </summary>
public sealed record BenchOptions
{
    public bool Quick { get; init; }
    public required string BinDirectory { get; init; }
    public required string ServerConnectionString { get; init; }
    public required string ResultsPath { get; init; }

    public int ProcessStarts { get; init; }
    public int ProcessStartParallelism { get; init; } = 16;
    public TimeSpan SubmitDuration { get; init; }
    public int SubmitClients { get; init; } = 32;
    public int BatchSubmitTotal { get; init; }
    public int BatchSize { get; init; } = 10_000;
    public int BatchClients { get; init; } = 2;
    public int NoopBacklog { get; init; }
    public int NoopWorkers { get; init; } = 2;
    public int NoopConcurrency { get; init; } = 128;
    /// <summary>At most this many; fewer when the machine starts processes slowly (about 15 s of its process start rate).</summary>
    public int ExecBacklog { get; init; }
    public int ExecWorkers { get; init; } = 2;
    public int ExecConcurrency { get; init; } = 16;
    public int PickupSamples { get; init; }
    public TimeSpan PickupGap { get; init; } = TimeSpan.FromMilliseconds(50);
    public IReadOnlyList<int> ClaimBacklogs { get; init; } = [];
    public int ClaimSamples { get; init; }
    public int ClaimBatch { get; init; } = 100;
    /// <summary>The many-tenant claim: tenants, each one's ready backlog, the fleet (workers x slots) and a claim's batch (a worker's freed slots).</summary>
    public int ClaimTenants { get; init; } = 16;
    public int ClaimTenantBacklog { get; init; } = 2_000;
    public int ClaimFleetWorkers { get; init; } = 64;
    public int ClaimFleetSlots { get; init; } = 8;
    public int ClaimTenantBatch { get; init; } = 32;
    /// <summary>Executions in the database while the dashboard's pages are timed (the issue asks for a million).</summary>
    public long DashboardRows { get; init; }
    /// <summary>Executions whose succeeded events go to the flaky receiver (BENCH_WEBHOOK_EXECUTIONS).</summary>
    public int WebhookExecutions { get; init; }
    /// <summary>Over how long they are submitted (BENCH_WEBHOOK_SUBMIT_SECONDS); the receiver's minute down is in the middle.</summary>
    public TimeSpan WebhookSubmitDuration { get; init; }
    /// <summary>Old finished executions the retention scenario deletes (the issue asks for a million).</summary>
    public long RetentionRows { get; init; }
    public int RetentionBatch { get; init; } = 1000;
    /// <summary>Share of each tick retention spends deleting under load: the controller's RETENTION_MAX_PERCENT default.</summary>
    public int RetentionPercent { get; init; } = 10;
    /// <summary>How long submit and claim throughput are measured, without and then with retention running.</summary>
    public TimeSpan RetentionLoad { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>
    /// PostgreSQL publishes a backend's statistics (pg_stat_database) up to 10 s after its last
    /// transaction when it goes idle; commit counts are read only after this long a pause.
    /// </summary>
    public TimeSpan StatsSettle { get; init; } = TimeSpan.FromSeconds(11);
    /// <summary>Schedules (every 10 s) fired by two controllers, and cron triggers fired by two Quartz.NET nodes.</summary>
    public int Schedules { get; init; } = 1000;
    /// <summary>How long firing is measured: whole 10 s periods, from the first boundary after all schedules exist.</summary>
    public TimeSpan ScheduleWindow { get; init; } = TimeSpan.FromMinutes(2);
    /// <summary>The Quartz.NET baselines to run (<see cref="QuartzVariant.Named"/>), each on a fresh database, one after the other.</summary>
    public IReadOnlyList<QuartzVariant> QuartzVariants { get; init; } = [];
    /// <summary>No-op jobs the Hangfire baseline drains: jobplane's no-op backlog unless BENCH_HANGFIRE_BACKLOG says otherwise.</summary>
    public int HangfireBacklog { get; init; }
    /// <summary>Hangfire server processes (like jobplane's two no-op workers).</summary>
    public int HangfireNodes { get; init; } = 2;
    /// <summary>Worker threads per Hangfire server; 0 leaves Hangfire's own default (5 per core, at most 20).</summary>
    public int HangfireWorkers { get; init; }
    /// <summary>Rows of the pgbench-style claim/complete ceiling: jobplane's no-op backlog unless BENCH_CEILING_BACKLOG says otherwise.</summary>
    public int CeilingBacklog { get; init; }
    /// <summary>The client counts the ceiling is measured with, one round each; the best round is the ceiling.</summary>
    public IReadOnlyList<int> CeilingClients { get; init; } = [];
    /// <summary>Rows one claim takes (and one completion finishes).</summary>
    public int CeilingBatch { get; init; } = 100;
    /// <summary>The scale dimensions to run (BENCH_SCALE_PARTS, comma-separated): tenants, idle, rows; all by default.</summary>
    public IReadOnlyList<string> ScaleParts { get; init; } = [];
    /// <summary>Tenants with ready work at once (BENCH_SCALE_TENANTS) and each one's ready backlog (BENCH_SCALE_TENANT_BACKLOG).</summary>
    public int ScaleTenants { get; init; } = 1000;
    public int ScaleTenantBacklog { get; init; } = 50;
    /// <summary>Idle long-polling workers, as concurrent dequeue requests of the harness (BENCH_SCALE_POLLERS).</summary>
    public int ScalePollers { get; init; } = 500;
    /// <summary>How long the idle platform's CPU is measured (BENCH_SCALE_IDLE_SECONDS).</summary>
    public TimeSpan ScaleIdle { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>After a poller received an execution, the pause before the next submission (BENCH_SCALE_PICKUP_GAP_MS).</summary>
    public TimeSpan ScalePickupGap { get; init; } = TimeSpan.FromMilliseconds(500);
    /// <summary>Executions whose pickup is measured with the idle pollers connected (BENCH_SCALE_PICKUP_SAMPLES).</summary>
    public int ScalePickupSamples { get; init; }
    /// <summary>Executions in the large history (BENCH_SCALE_ROWS): 10 million, a million in the quick run.</summary>
    public long ScaleRows { get; init; }
    /// <summary>Tenants the large history is spread over (BENCH_SCALE_HISTORY_TENANTS); the first, the one read, has a fifth of it.</summary>
    public int ScaleHistoryTenants { get; init; } = 200;

    public static BenchOptions FromEnvironment(Func<string, string?> env, string repositoryRoot)
    {
        var quick = env("BENCH_QUICK") is "1" or "true" or "yes";
        int Int(string name, int full, int small) =>
            env(name) is { Length: > 0 } v ? int.Parse(v, CultureInfo.InvariantCulture) : quick ? small : full;

        var bin = env("JOBPLANE_BIN") is { Length: > 0 } b ? b : Path.Combine(repositoryRoot, "bin");
        var server = env("BENCH_DATABASE_URL") is { Length: > 0 } url
            ? Store.DatabaseUrl.ToConnectionString(url)
            : $"Host=/var/run/postgresql;Username={Environment.UserName};Database=postgres";
        var quartzThreads = Int("BENCH_QUARTZ_THREADS", 10, 10);
        var variants = (env("BENCH_QUARTZ_VARIANTS") is { } names ? names : "default,batch10")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(n => QuartzVariant.Named(n, quartzThreads)
                ?? throw new ArgumentException($"BENCH_QUARTZ_VARIANTS: unknown variant '{n}' (default, batch1, batch10)"))
            .ToArray();
        var backlogs = env("BENCH_CLAIM_BACKLOGS") is { Length: > 0 } list
            ? list.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray()
            : quick ? [1_000, 100_000] : [1_000, 100_000, 1_000_000];
        var noopBacklog = Int("BENCH_NOOP_BACKLOG", 100_000, 20_000);
        var ceilingClients = env("BENCH_CEILING_CLIENTS") is { Length: > 0 } clients
            ? clients.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray()
            : [4, 8];
        return new BenchOptions
        {
            Quick = quick,
            BinDirectory = Path.GetFullPath(bin),
            ServerConnectionString = server,
            ResultsPath = Path.Combine(repositoryRoot, "bench", "results", "latest.json"),
            ProcessStarts = Int("BENCH_PROCESS_STARTS", 3_000, 1_000),
            SubmitDuration = TimeSpan.FromSeconds(Int("BENCH_SUBMIT_SECONDS", 10, 4)),
            SubmitClients = Int("BENCH_SUBMIT_CLIENTS", 32, 32),
            BatchSubmitTotal = Int("BENCH_BATCH_TOTAL", 200_000, 40_000),
            NoopBacklog = noopBacklog,
            NoopWorkers = Int("BENCH_NOOP_WORKERS", 2, 2),
            NoopConcurrency = Int("BENCH_NOOP_CONCURRENCY", 128, 128),
            ExecBacklog = Int("BENCH_EXEC_BACKLOG", 6_000, 1_500),
            ExecWorkers = Int("BENCH_EXEC_WORKERS", 2, 2),
            ExecConcurrency = Int("BENCH_EXEC_CONCURRENCY", 16, 16),
            PickupSamples = Int("BENCH_PICKUP_SAMPLES", 200, 60),
            ClaimBacklogs = backlogs,
            ClaimSamples = Int("BENCH_CLAIM_SAMPLES", 200, 60),
            ClaimTenants = Int("BENCH_CLAIM_TENANTS", 16, 16),
            ClaimTenantBacklog = Int("BENCH_CLAIM_TENANT_BACKLOG", 2_000, 1_000),
            ClaimFleetWorkers = Int("BENCH_CLAIM_FLEET_WORKERS", 64, 64),
            ClaimFleetSlots = Int("BENCH_CLAIM_FLEET_SLOTS", 8, 8),
            ClaimTenantBatch = Int("BENCH_CLAIM_TENANT_BATCH", 32, 32),
            RetentionRows = Int("BENCH_RETENTION_ROWS", 1_000_000, 100_000),
            DashboardRows = Int("BENCH_DASHBOARD_ROWS", 1_000_000, 100_000),
            WebhookExecutions = Int("BENCH_WEBHOOK_EXECUTIONS", 10_000, 2_000),
            WebhookSubmitDuration = TimeSpan.FromSeconds(Int("BENCH_WEBHOOK_SUBMIT_SECONDS", 120, 90)),
            RetentionBatch = Int("BENCH_RETENTION_BATCH", 1000, 1000),
            RetentionPercent = Int("BENCH_RETENTION_PERCENT", 10, 10),
            RetentionLoad = TimeSpan.FromSeconds(Int("BENCH_RETENTION_SECONDS", 10, 5)),
            StatsSettle = TimeSpan.FromSeconds(Int("BENCH_STATS_SETTLE_SECONDS", 11, 11)),
            Schedules = Int("BENCH_SCHEDULES", 1_000, 1_000),
            // Whole 10 s periods: the CPU of a window of whole periods does not depend on where in a period it starts.
            ScheduleWindow = TimeSpan.FromSeconds(Math.Max(10, Int("BENCH_SCHEDULE_SECONDS", 120, 30) / 10 * 10)),
            QuartzVariants = variants,
            HangfireBacklog = Int("BENCH_HANGFIRE_BACKLOG", noopBacklog, noopBacklog),
            HangfireNodes = Int("BENCH_HANGFIRE_NODES", 2, 2),
            HangfireWorkers = Int("BENCH_HANGFIRE_WORKERS", 0, 0),
            CeilingBacklog = Int("BENCH_CEILING_BACKLOG", noopBacklog, noopBacklog),
            CeilingClients = ceilingClients,
            CeilingBatch = Int("BENCH_CEILING_BATCH", 100, 100),
            ScaleParts = (env("BENCH_SCALE_PARTS") is { Length: > 0 } parts ? parts : "tenants,idle,rows")
                .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            ScaleTenants = Int("BENCH_SCALE_TENANTS", 1000, 1000),
            ScaleTenantBacklog = Int("BENCH_SCALE_TENANT_BACKLOG", 50, 50),
            ScalePollers = Int("BENCH_SCALE_POLLERS", 500, 500),
            ScaleIdle = TimeSpan.FromSeconds(Int("BENCH_SCALE_IDLE_SECONDS", 10, 10)),
            ScalePickupGap = TimeSpan.FromMilliseconds(Int("BENCH_SCALE_PICKUP_GAP_MS", 500, 500)),
            ScalePickupSamples = Int("BENCH_SCALE_PICKUP_SAMPLES", 100, 60),
            ScaleRows = Int("BENCH_SCALE_ROWS", 10_000_000, 1_000_000),
            ScaleHistoryTenants = Math.Max(2, Int("BENCH_SCALE_HISTORY_TENANTS", 200, 200)),
        };
    }
}

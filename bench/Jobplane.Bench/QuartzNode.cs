using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using Quartz;
using Quartz.Diagnostics;

namespace Jobplane.Bench;

/// <summary>
/// How one Quartz.NET node of the schedules baseline is configured: the settings the scenario
/// varies, passed to the node on its command line.
/// </summary>
/// <param name="Name">The variant's name in figures and logs (default, batch1, batch10).</param>
/// <param name="Threads">The node's thread pool (quartz.threadPool.maxConcurrency).</param>
/// <param name="BatchSize">quartz.scheduler.batchTriggerAcquisitionMaxCount; 0 leaves Quartz's own default (the thread pool's size for a database store).</param>
/// <param name="AcquireWithinLock">quartz.jobStore.acquireTriggersWithinLock, which Quartz asks for when triggers are acquired in batches.</param>
public sealed record QuartzVariant(string Name, int Threads, int BatchSize, bool AcquireWithinLock)
{
    /// <summary>The variants BENCH_QUARTZ_VARIANTS may name, each with BENCH_QUARTZ_THREADS threads per node.</summary>
    public static QuartzVariant? Named(string name, int threads) => name switch
    {
        "default" => new QuartzVariant(name, threads, 0, false),
        "batch1" => new QuartzVariant(name, threads, 1, false),
        "batch10" => new QuartzVariant(name, threads, 10, true),
        _ => null,
    };

    public string Describe() =>
        $"{Threads} threads per node, batch {(BatchSize == 0 ? $"Quartz's default ({Threads}, the thread pool's size)" : BatchSize.ToString(CultureInfo.InvariantCulture))}"
        + (AcquireWithinLock ? ", acquireTriggersWithinLock" : "");
}

/// <summary>
/// The `quartz` mode of the benchmark executable: one Quartz.NET scheduler node of a cluster (ADO job
/// store, PostgreSQL delegate over Npgsql, clustered), the baseline the schedules scenario compares
/// against. Started twice as separate processes, like two controller replicas. The first node may
/// create the schema (Quartz's own schema provisioning) and the cron triggers, each with a job of its
/// own; every node then fires until SIGTERM, keeping each fire (scheduled fire time, the time the
/// trigger fired, the time the job started) in memory, and writes them to bench_quartz_fires in one
/// COPY after it stopped, outside the measured window.
/// </summary>
public static class QuartzNode
{
    public const string Mode = "quartz";
    public const string SchedulerName = "jobplane-bench";
    public const string Cron = "0/10 * * * * ?";

    public const string FiresTableSql = """
        create table bench_quartz_fires (
            trigger_name text not null,
            instance     text not null,
            scheduled_at timestamptz not null,
            fired_at     timestamptz not null,
            started_at   timestamptz not null
        )
        """;

    internal static readonly ConcurrentQueue<FireRecord> Fires = new();

    internal readonly record struct FireRecord(string Trigger, DateTimeOffset Scheduled, DateTimeOffset Fired, DateTimeOffset Started);

    /// <summary>The command line of a node: the mode, then these in order.</summary>
    public static IReadOnlyList<string> Arguments(string connectionString, string instanceId, QuartzVariant variant, int create) =>
    [
        Mode, connectionString, instanceId, variant.Name,
        variant.Threads.ToString(CultureInfo.InvariantCulture),
        variant.BatchSize.ToString(CultureInfo.InvariantCulture),
        variant.AcquireWithinLock ? "true" : "false",
        create.ToString(CultureInfo.InvariantCulture),
    ];

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length != 8 || args[0] != Mode)
        {
            await Console.Error.WriteLineAsync("usage: jobplane-bench quartz CONNECTION INSTANCE VARIANT THREADS BATCH WITHIN_LOCK CREATE");
            return 2;
        }
        var connectionString = args[1];
        var instance = args[2];
        var variant = new QuartzVariant(args[3], int.Parse(args[4], CultureInfo.InvariantCulture),
            int.Parse(args[5], CultureInfo.InvariantCulture), bool.Parse(args[6]));
        var create = int.Parse(args[7], CultureInfo.InvariantCulture);

        using var stop = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });
        using var logs = new WarningLoggerFactory();
        LogProvider.SetLogProvider(logs);

        await using var factory = QuartzSchedulerBuilder.Create(q =>
        {
            q.ConfigureScheduler(o =>
            {
                // One scheduler name for the cluster (SCHED_NAME), one instance id per node.
                o.InstanceName = SchedulerName;
                o.InstanceId = instance;
                if (variant.BatchSize > 0) o.MaxBatchSize = variant.BatchSize;
            });
            q.UseDefaultThreadPool(variant.Threads);
            q.UsePersistentStore(store =>
            {
                store.UsePostgres(connectionString);
                store.UseClustering(_ => { });
                store.ProvisionSchema();
                if (variant.AcquireWithinLock) store.ConfigureStore(o => o.AcquireTriggersWithinLock = true);
            });
        }).Build();
        var scheduler = await factory.GetScheduler(CancellationToken.None);

        if (create > 0)
        {
            // Each trigger with its own job, written in chunks (each ScheduleJobs call is one transaction).
            const int Chunk = 100;
            for (var start = 0; start < create; start += Chunk)
            {
                var chunk = new Dictionary<IJobDetail, IReadOnlyCollection<ITrigger>>();
                for (var i = start; i < Math.Min(create, start + Chunk); i++)
                {
                    var name = $"s{i:D5}";
                    var job = JobBuilder.Create<RecordFireJob>().WithIdentity(name, "bench").Build();
                    var trigger = TriggerBuilder.Create()
                        .WithIdentity(name, "bench")
                        .ForJob(job)
                        .WithSchedule(CronScheduleBuilder.Create(Cron).InTimeZone(TimeZoneInfo.Utc))
                        .StartNow()
                        .Build();
                    chunk[job] = [trigger];
                }
                await scheduler.ScheduleJobs(chunk, new ScheduleJobOptions { Replace = true }, CancellationToken.None);
            }
            Console.WriteLine($"{instance}: created {create} jobs with a cron trigger each ({Cron})");
        }

        await scheduler.Start(CancellationToken.None);
        Console.WriteLine($"{instance}: started ({variant.Name}: {variant.Describe()})");
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
            // SIGTERM: stop firing, then hand over what was recorded.
        }
        await scheduler.Shutdown(waitForJobsToComplete: true, CancellationToken.None);

        var fires = Fires.ToArray();
        await using (var conn = new NpgsqlConnection(connectionString))
        {
            await conn.OpenAsync();
            await using var copy = await conn.BeginBinaryImportAsync(
                "copy bench_quartz_fires (trigger_name, instance, scheduled_at, fired_at, started_at) from stdin (format binary)");
            foreach (var f in fires)
            {
                await copy.StartRowAsync();
                await copy.WriteAsync(f.Trigger, NpgsqlDbType.Text);
                await copy.WriteAsync(instance, NpgsqlDbType.Text);
                await copy.WriteAsync(f.Scheduled.UtcDateTime, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(f.Fired.UtcDateTime, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(f.Started.UtcDateTime, NpgsqlDbType.TimestampTz);
            }
            await copy.CompleteAsync();
        }
        Console.WriteLine($"{instance}: stopped; wrote {fires.Length} fires");
        return 0;
    }

    /// <summary>
    /// Quartz.NET logs through Microsoft.Extensions.Logging abstractions; the node prints its warnings
    /// and errors (to the node's log file) and nothing else.
    /// </summary>
    private sealed class WarningLoggerFactory : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => new WarningLogger(categoryName);

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        private sealed class WarningLogger(string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (!IsEnabled(logLevel)) return;
                Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : $"\n{exception}")}");
            }
        }
    }
}

/// <summary>The baseline's job: does nothing but note when it started and which fire it is.</summary>
public sealed class RecordFireJob : IJob
{
    public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        var started = DateTimeOffset.UtcNow;
        QuartzNode.Fires.Enqueue(new QuartzNode.FireRecord(context.Trigger.Key.Name,
            context.ScheduledFireTimeUtc ?? context.FireTimeUtc, context.FireTimeUtc, started));
        return ValueTask.CompletedTask;
    }
}

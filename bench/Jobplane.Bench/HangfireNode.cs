using System.Globalization;
using System.Runtime.InteropServices;
using Hangfire;
using Hangfire.Logging;
using Hangfire.PostgreSql;
using Npgsql;

namespace Jobplane.Bench;

/// <summary>
/// The `hangfire` mode of the benchmark executable: one Hangfire server (Hangfire.Core with
/// Hangfire.PostgreSql storage) processing the no-op jobs that <see cref="HangfireScenario"/> enqueued,
/// until SIGTERM. Started as separate processes, like jobplane's workers, so that each has a runtime,
/// a thread pool and a connection pool of its own and its CPU can be read from /proc.
/// </summary>
public static class HangfireNode
{
    public const string Mode = "hangfire";

    /// <summary>
    /// Hangfire's storage over the benchmark database, configured as Hangfire and Hangfire.PostgreSql
    /// recommend for throughput; the client (the harness) and the servers (the nodes) use the same.
    /// </summary>
    /// <param name="prepareSchema">True for the one that creates Hangfire's schema (the harness, before any node starts).</param>
    public static PostgreSqlStorage Storage(string connectionString, bool prepareSchema)
    {
        // Hangfire's getting-started configuration for new applications: the 1.8 data format and the
        // compact serializer settings (smaller payloads to write and read per job).
        GlobalConfiguration.Configuration
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings();
        var options = new PostgreSqlStorageOptions
        {
            // The idle fetch wait. A worker that finds a job fetches the next at once, so with a
            // backlog it matters only at the tail; 200 ms is the floor Hangfire 1.8 itself applies to
            // SQL Server's recommended "QueuePollInterval = TimeSpan.Zero" (the default is 15 s).
            QueuePollInterval = TimeSpan.FromMilliseconds(200),
            // Hangfire's recommended fetching for SQL Server (SlidingInvisibilityTimeout = 5 min) in
            // Hangfire.PostgreSql's terms: a fetched job is kept invisible by a heartbeat rather than by
            // a 30-minute timeout, so a crashed worker's jobs come back in minutes.
            UseSlidingInvisibilityTimeout = true,
            InvisibilityTimeout = TimeSpan.FromMinutes(5),
            // Left at their defaults, which are the throughput choices: native transactions (one
            // database transaction per state change) and no long polling (EnableLongPolling opens a
            // LISTEN connection for every dequeue, which costs a connection per job under a backlog).
            UseNativeDatabaseTransactions = true,
            EnableLongPolling = false,
            PrepareSchemaIfNecessary = prepareSchema,
        };
        // Npgsql's connection pool serves every worker (its default size, 100, exceeds a node's
        // workers), tuned as jobplane's own store tunes its pools, so that the comparison is of the
        // queues and not of the driver settings: Hangfire.PostgreSql opens and closes a pooled
        // connection for every operation, and without No Reset On Close each reuse first runs a
        // DISCARD ALL (six per job here); it keeps no session state on them (its distributed locks are
        // rows, and LISTEN is only used with long polling, off). Its statements are parameterised
        // text, which Npgsql prepares automatically after their second use.
        var csb = new NpgsqlConnectionStringBuilder(connectionString) { NoResetOnClose = true, MaxAutoPrepare = 64, AutoPrepareMinUsages = 2 };
        return GlobalConfiguration.Configuration.UsePostgreSqlStorage(c => c.UseNpgsqlConnection(csb.ConnectionString), options).Entry;
    }

    /// <summary>The command line of a node: the mode, then these in order.</summary>
    public static IReadOnlyList<string> Arguments(string connectionString, string name, int workers) =>
        [Mode, connectionString, name, workers.ToString(CultureInfo.InvariantCulture)];

    /// <summary>Hangfire's default worker count on this machine: five per core, at most twenty.</summary>
    public static int DefaultWorkers => new BackgroundJobServerOptions().WorkerCount;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length != 4 || args[0] != Mode)
        {
            await Console.Error.WriteLineAsync("usage: jobplane-bench hangfire CONNECTION NAME WORKERS (0: Hangfire's default)");
            return 2;
        }
        var (connectionString, name, workers) = (args[1], args[2], int.Parse(args[3], CultureInfo.InvariantCulture));

        using var stop = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });
        // Warnings and errors only, to the node's log file (a failing job would show here).
        GlobalConfiguration.Configuration.UseColouredConsoleLogProvider(LogLevel.Warn);

        var storage = Storage(connectionString, prepareSchema: false);
        // Hangfire's defaults otherwise: one "default" queue and its default degree of parallelism
        // (min(5 x cores, 20) worker threads; its documentation's "Configuring the Degree of
        // Parallelism" page starts from 5 per core). BENCH_HANGFIRE_WORKERS overrides it.
        var options = new BackgroundJobServerOptions { ServerName = name };
        if (workers > 0) options.WorkerCount = workers;
        using (var server = new BackgroundJobServer(options, storage))
        {
            Console.WriteLine($"{name}: started, {options.WorkerCount} workers, queues {string.Join(",", options.Queues)}");
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token);
            }
            catch (OperationCanceledException)
            {
                // SIGTERM: stop fetching; disposing the server waits for its workers.
            }
            server.SendStop();
        }
        Console.WriteLine($"{name}: stopped");
        return 0;
    }
}

/// <summary>The baseline's job: nothing, like jobplane's noop runtime.</summary>
public static class HangfireNoopJob
{
    public static void Run()
    {
    }
}

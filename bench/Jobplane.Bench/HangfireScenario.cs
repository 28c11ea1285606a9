using System.Diagnostics;
using Hangfire;
using Hangfire.Common;
using Hangfire.PostgreSql;
using Hangfire.States;
using Jobplane.Testing.Processes;
using Npgsql;

namespace Jobplane.Bench;

/// <summary>
/// The Hangfire baseline of the no-op drain: Hangfire.Core with Hangfire.PostgreSql on a fresh
/// database of the same server. The harness enqueues the same number of no-op jobs as jobplane's
/// no-op backlog through Hangfire's own client (several threads at once; not measured as the drain),
/// then starts <see cref="BenchOptions.HangfireNodes"/> Hangfire server processes
/// (<see cref="HangfireNode"/>) and waits until Hangfire's queue is empty. The drain rate is read, as
/// jobplane's is, from the database's own record: jobs that reached Succeeded over the span from the
/// first Processing state to the last Succeeded one. CPU comes from /proc: the nodes' (start-up
/// included, as for jobplane's workers) and that of the backends of Hangfire's database; commits
/// from pg_stat_database.
/// </summary>
public sealed class HangfireScenario(BenchOptions options, Report report, string work)
{
    /// <summary>Threads enqueueing the backlog: Hangfire's client is synchronous, one job per call.</summary>
    private const int Enqueuers = 8;

    /// <summary>How often the harness looks at Hangfire's queue: seldom enough to cost nothing next to the drain.</summary>
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(500);

    public async Task<double> RunAsync()
    {
        var workers = options.HangfireWorkers > 0 ? options.HangfireWorkers : HangfireNode.DefaultWorkers;
        var label = $"Hangfire {Version(typeof(BackgroundJobServer))} + Hangfire.PostgreSql {Version(typeof(PostgreSqlStorage))}";
        Console.WriteLine($"\n== {label}: drain {options.HangfireBacklog:N0} no-op jobs ({options.HangfireNodes} server processes x {workers} workers)");
        await using var db = await BenchDatabase.CreateAsync(options.ServerConnectionString, "hangfire", migrate: false);
        var connection = new NpgsqlConnectionStringBuilder(db.ConnectionString) { ApplicationName = "hangfire-bench" }.ConnectionString;

        // Creates Hangfire's schema; the nodes find it there.
        var storage = HangfireNode.Storage(connection, prepareSchema: true);
        var enqueueRate = await EnqueueAsync(storage);
        report.Add(new Figure("hangfire_enqueue_per_s", $"Hangfire: enqueue ({Enqueuers} threads in the harness, no HTTP)", enqueueRate, "jobs/s",
            Note: "BackgroundJobClient.Create with EnqueuedState, one job per call; not part of the drain"));
        // The harness's own connections end here, so that what their backends committed is published
        // (a backend publishes its statistics when it exits) before the drain's are counted.
        NpgsqlConnection.ClearAllPools();
        await Task.Delay(TimeSpan.FromSeconds(1));
        var before = await db.CountersAsync();
        await db.ResetStatementStatsAsync();

        // The backends of Hangfire's database only: on a shared machine other databases' backends come
        // and go, which the whole server's CPU would count (or lose) as well.
        await using var postgresCpu = await DatabaseCpu.StartAsync(options.ServerConnectionString, db.Name, new HashSet<int>(), Poll);
        var watch = Stopwatch.StartNew();
        var nodes = new List<ChildProcess>();
        try
        {
            for (var i = 1; i <= options.HangfireNodes; i++) nodes.Add(StartNode(connection, $"hangfire{i}", options.HangfireWorkers));
            // Generous (at least 20 jobs/s): the limit only catches a stall, not a slow drain.
            var limit = TimeSpan.FromSeconds(Math.Max(300, options.HangfireBacklog / 20));
            while (true)
            {
                await Task.Delay(Poll);
                ThrowIfExited(nodes);
                // A job's queue row is deleted once its state has changed (to Succeeded, or to a retry's
                // Scheduled): an empty queue means nothing is left to run.
                await using var cmd = db.DataSource.CreateCommand("/* bench */ select count(*) from hangfire.jobqueue");
                if ((long)(await cmd.ExecuteScalarAsync())! == 0) break;
                if (watch.Elapsed > limit)
                    throw new TimeoutException($"the Hangfire drain did not finish within {limit.TotalSeconds:0} s:\n{nodes[0].Tail(30)}");
            }
            var wall = watch.Elapsed.TotalSeconds;
            var nodeCpu = nodes.Sum(n => CpuTime.Of(n.Pid));
            var pgCpu = await postgresCpu.StopAsync();
            foreach (var node in nodes)
            {
                await node.StopAsync(TimeSpan.FromSeconds(30));
                if (!node.HasExited || node.ExitCode != 0)
                    report.Note($"Hangfire: {node.Name} did not stop cleanly:\n{node.Tail(10)}");
            }
            // The nodes' backends have exited and published what they committed.
            await Task.Delay(TimeSpan.FromSeconds(1));
            var delta = (await db.CountersAsync()).Minus(before);
            var statements = await db.TopStatementsAsync(10);
            if (statements.Count > 0)
                Console.WriteLine($"  Hangfire: PostgreSQL's time over the drain by statement (pg_stat_statements):\n    {string.Join("\n    ", statements)}");

            long succeeded;
            double span;
            await using (var cmd = db.DataSource.CreateCommand("""
                /* bench */ select (select count(*) from hangfire.job where statename = 'Succeeded'),
                       extract(epoch from (select max(createdat) from hangfire.state where name = 'Succeeded')
                                        - (select min(createdat) from hangfire.state where name = 'Processing'))::float8
                """))
            await using (var reader = await cmd.ExecuteReaderAsync())
            {
                await reader.ReadAsync();
                succeeded = reader.GetInt64(0);
                span = reader.IsDBNull(1) ? wall : reader.GetDouble(1);
            }
            if (succeeded != options.HangfireBacklog) report.Note($"Hangfire drain: {succeeded} of {options.HangfireBacklog} jobs Succeeded");
            var rate = succeeded / span;
            var perThousand = 1000.0 / Math.Max(1, succeeded);
            report.Add(new Figure("hangfire_noop_drain_per_s", $"Hangfire: drain, no-op jobs ({options.HangfireNodes} processes x {workers} workers)", rate, "jobs/s",
                Note: "from the first job's Processing state to the last one's Succeeded (Hangfire's state history); "
                    + "each job is a fetch, a Processing and a Succeeded state change and the removal from the queue, each a transaction of its own"));
            report.Add(new Figure("hangfire_noop_drain_wall_s", "Hangfire: drain wall clock incl. server start", wall, "s"));
            report.Add(new Figure("hangfire_noop_cpu_nodes_ms", "Hangfire: server processes' CPU per 1,000 jobs", nodeCpu * perThousand * 1000, "ms"));
            report.Add(new Figure("hangfire_noop_cpu_postgres_ms", "Hangfire: PostgreSQL CPU per 1,000 jobs (its database's backends)", pgCpu * perThousand * 1000, "ms",
                Note: "sampled from pg_stat_activity and /proc; the harness's polling included, the WAL writer and checkpointer not"));
            report.Add(new Figure("hangfire_noop_commits_per_job", "Hangfire: drain, commits per job", (double)delta.Commits / Math.Max(1, succeeded), "",
                Note: $"pg_stat_database of Hangfire's database over the drain, {delta.Rollbacks} rollbacks besides"));
            return rate;
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }

    /// <summary>Enqueues the backlog through Hangfire's client; returns jobs per second.</summary>
    private async Task<double> EnqueueAsync(PostgreSqlStorage storage)
    {
        var client = new BackgroundJobClient(storage);
        // One Job for all: what the expression-based Enqueue would build (and parse) on every call.
        var job = Job.FromExpression(() => HangfireNoopJob.Run());
        var next = 0;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Enqueuers).Select(_ => Task.Factory.StartNew(() =>
        {
            while (Interlocked.Increment(ref next) <= options.HangfireBacklog) client.Create(job, new EnqueuedState());
        }, TaskCreationOptions.LongRunning)));
        var rate = options.HangfireBacklog / watch.Elapsed.TotalSeconds;
        Console.WriteLine($"  enqueued {options.HangfireBacklog:N0} jobs in {watch.Elapsed.TotalSeconds:0.0} s ({Report.Format(rate)}/s, {Enqueuers} threads)");
        return rate;
    }

    private ChildProcess StartNode(string connection, string name, int workers)
    {
        // This very program in its hangfire mode: the apphost, or the dll under the dotnet host.
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("the harness's own executable is unknown");
        List<string> arguments = Path.GetFileNameWithoutExtension(self) == "dotnet" ? [typeof(HangfireNode).Assembly.Location] : [];
        arguments.AddRange(HangfireNode.Arguments(connection, name, workers));
        return ChildProcess.Start(new ChildProcessStart(name, self)
        {
            Arguments = arguments,
            LogPath = Path.Combine(work, $"{name}.log"),
        });
    }

    private static void ThrowIfExited(IEnumerable<ChildProcess> nodes)
    {
        foreach (var n in nodes)
        {
            if (n.HasExited) throw new InvalidOperationException($"{n.Name} exited:\n{n.Tail(30)}");
        }
    }

    private static string Version(Type type) => type.Assembly.GetName().Version?.ToString(3) ?? "?";
}

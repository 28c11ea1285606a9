using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Store.Dashboard;
using Npgsql;

namespace Jobplane.Bench;

/// <summary>
/// The dashboard's pages against a large history: BENCH_DASHBOARD_ROWS executions of one tenant
/// (created evenly over the last 30 days; 96% succeeded, 2% failed, 2% cancelled; one in a thousand
/// failed with a rare error text) are written straight into the schema, then the real controller
/// serves the overview and the executions page (plain, filtered by status, by job, and by a rare
/// error text) to a signed-in browser-like client. Each page's server time is the controller's own
/// Server-Timing figure (it leaves out the network and the client). The overview's activity read is
/// cached for 5 s per viewer, so most loads are served from memory: its uncached query is also timed
/// on its own, through the same store code, as what the first viewer of every 5 s pays.
/// </summary>
public sealed partial class DashboardScenario(BenchOptions options, BenchDatabase db, Report report, string work)
{
    private const int Warmup = 3;
    private const int Samples = 40;

    public async Task RunAsync()
    {
        var rows = options.DashboardRows;
        Console.WriteLine($"\n== dashboard pages with {rows:N0} executions in the database");
        await using var platform = new BenchPlatform(options, db, work);
        await platform.StartAsync();
        var jobs = new JobStore(db.DataSource);
        var (job, _) = await jobs.UpsertAsync(platform.TenantId, new JobSpec("nightly-export", "exec", ["true"], 3600, Priority.Normal, 3), CancellationToken.None);
        var watch = Stopwatch.StartNew();
        await InsertAsync(platform.TenantId, job, rows);
        await using (var vacuum = db.DataSource.CreateCommand("vacuum analyze"))
        {
            vacuum.CommandTimeout = 0;
            await vacuum.ExecuteNonQueryAsync();
        }
        Console.WriteLine($"  {rows:N0} executions written in {watch.Elapsed.TotalSeconds:0.0} s");

        var key = platform.Http.DefaultRequestHeaders.Authorization!.Parameter!;
        using var tenant = await SignInAsync(platform.Http.BaseAddress!, key);
        using var admin = await SignInAsync(platform.Http.BaseAddress!, BenchPlatform.AdminSecret);
        var label = rows >= 1_000_000 ? $"{rows / 1_000_000.0:0.#}M" : $"{rows / 1000}k";
        (string Key, string Name, HttpClient Client, string Path)[] pages =
        [
            ("overview", "Overview (tenant, last hour)", tenant, "/ui"),
            ("overview_day", "Overview (tenant, last day)", tenant, "/ui?range=day"),
            ("overview_admin", "Overview (administrator, every tenant)", admin, "/ui"),
            ("executions", "Executions, newest first", tenant, "/ui/executions"),
            ("executions_failed", "Executions, status FAILED", tenant, "/ui/executions?status=FAILED"),
            ("executions_job", "Executions of one job", tenant, "/ui/executions?job=nightly-export"),
            ("executions_error", "Executions, rare error text (bounded search)", tenant, "/ui/executions?error=disk%20quota"),
        ];
        foreach (var (pageKey, name, client, path) in pages)
        {
            var times = await TimeAsync(client, path);
            report.Add(new Figure($"dashboard_{pageKey}_p50_ms", $"{name}, {label} executions: server time p50", Percentiles.Of(times, 50), "ms"));
            report.Add(new Figure($"dashboard_{pageKey}_p99_ms", $"{name}, {label} executions: server time p99", Percentiles.Of(times, 99), "ms"));
            Console.WriteLine($"  {path,-45} p50 {Percentiles.Of(times, 50),7:0.0} ms  p99 {Percentiles.Of(times, 99),7:0.0} ms");
        }

        // The overview's activity query itself, uncached (what the first load in every 5 s pays).
        var queries = new ActivityQueries(db.DataSource);
        foreach (var (rangeKey, window, bucket) in new[] { ("hour", TimeSpan.FromHours(1), TimeSpan.FromMinutes(1)), ("day", TimeSpan.FromDays(1), TimeSpan.FromMinutes(30)) })
        {
            var times = new List<double>();
            for (var i = 0; i < Warmup + 20; i++)
            {
                var started = Stopwatch.GetTimestamp();
                await queries.ReadAsync(platform.TenantId, window, bucket, CancellationToken.None);
                if (i >= Warmup) times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            report.Add(new Figure($"dashboard_activity_{rangeKey}_uncached_p50_ms", $"Overview activity query, last {rangeKey}, uncached, {label} executions: p50",
                Percentiles.Of(times, 50), "ms"));
            report.Add(new Figure($"dashboard_activity_{rangeKey}_uncached_p99_ms", $"Overview activity query, last {rangeKey}, uncached, {label} executions: p99",
                Percentiles.Of(times, 99), "ms"));
            Console.WriteLine($"  activity query (last {rangeKey}, uncached)        p50 {Percentiles.Of(times, 50),7:0.0} ms  p99 {Percentiles.Of(times, 99),7:0.0} ms");
        }
    }

    private static async Task<List<double>> TimeAsync(HttpClient client, string path)
    {
        var times = new List<double>();
        for (var i = 0; i < Warmup + Samples; i++)
        {
            using var response = await client.GetAsync(path);
            if (response.StatusCode != HttpStatusCode.OK)
                throw new InvalidOperationException($"GET {path} answered {(int)response.StatusCode}");
            await response.Content.ReadAsStringAsync();
            var timing = response.Headers.TryGetValues("Server-Timing", out var v) ? v.First() : throw new InvalidOperationException($"GET {path}: no Server-Timing");
            var ms = double.Parse(ServerTiming().Match(timing).Groups[1].Value, CultureInfo.InvariantCulture);
            if (i >= Warmup) times.Add(ms);
        }
        return times;
    }

    private static async Task<HttpClient> SignInAsync(Uri baseAddress, string key)
    {
        var client = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = baseAddress };
        var form = await client.GetStringAsync("/ui/signin");
        var presign = PreSign().Match(form).Groups[1].Value;
        using var answer = await client.PostAsync("/ui/signin", new FormUrlEncodedContent([new("key", key), new("presign", presign)]));
        if (answer.StatusCode != HttpStatusCode.SeeOther) throw new InvalidOperationException($"dashboard sign-in answered {(int)answer.StatusCode}");
        return client;
    }

    private async Task InsertAsync(Guid tenant, Guid job, long count)
    {
        const int Chunk = 100_000;
        for (long done = 0; done < count; done += Chunk)
        {
            var n = (int)Math.Min(Chunk, count - done);
            await using var cmd = db.DataSource.CreateCommand("""
                /* bench */ insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, attempt, max_attempts,
                                        scheduled_at, created_at, started_at, completed_at, exit_code, error, worker_id)
                select gen_random_uuid(), $1, $2,
                       case when g % 50 = 0 then 'FAILED' when g % 50 = 1 then 'CANCELLED' else 'SUCCEEDED' end,
                       50, 3600, 1, 3, t, t, t + interval '40 milliseconds', t + interval '2 seconds',
                       case when g % 50 = 0 then 1 when g % 50 = 1 then null else 0 end,
                       case when g % 1000 = 0 then 'disk quota exceeded while writing the export'
                            when g % 50 = 0 then 'exit code 1: connection reset by peer' end,
                       'bench-worker-' || (g % 8)
                from generate_series($3::bigint, $3 + $4 - 1) g,
                     lateral (select now() - interval '30 days' + (g::float8 / $5) * interval '30 days' as t) x
                """);
            cmd.CommandTimeout = 0;
            cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = tenant });
            cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = job });
            cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = done + 1 });
            cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = n });
            cmd.Parameters.Add(new NpgsqlParameter<double> { TypedValue = count });
            await cmd.ExecuteNonQueryAsync();
        }
    }

    [GeneratedRegex("app;dur=([0-9.]+)")]
    private static partial Regex ServerTiming();

    [GeneratedRegex("name=\"presign\" value=\"([^\"]*)\"")]
    private static partial Regex PreSign();
}

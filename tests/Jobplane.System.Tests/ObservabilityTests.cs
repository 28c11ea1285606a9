using System.Globalization;

namespace Jobplane.SystemTests;

/// <summary>
/// The built controller and worker, scraped by a real Prometheus server: both targets up, and the
/// jobplane families (queue depth, execution duration, worker slots) queryable through its API.
/// </summary>
public sealed class ObservabilityTests : IAsyncLifetime
{
    private readonly Platform _platform = new();
    private readonly PrometheusServer _prometheus = new();

    public Task InitializeAsync() => _platform.InitializeAsync();

    public async Task DisposeAsync()
    {
        await _prometheus.DisposeAsync();
        await _platform.DisposeAsync();
    }

    [Fact]
    public async Task A_real_prometheus_scrapes_the_controller_and_a_worker()
    {
        _platform.ControllerEnv["QUEUE_METRICS_INTERVAL"] = "500ms";
        // Prometheus scrapes the controller on its metrics port, as on a private network.
        var metricsPort = FreePort.Next();
        _platform.ControllerEnv["METRICS_PORT"] = metricsPort.ToString(CultureInfo.InvariantCulture);
        await _platform.StartControllerAsync();
        var workerPort = FreePort.Next();
        var worker = _platform.StartWorker("scraped-worker", new Dictionary<string, string?>
        {
            ["WORKER_METRICS_PORT"] = workerPort.ToString(CultureInfo.InvariantCulture),
        });

        // One job through the platform, so execution durations exist.
        var token = await _platform.CreateTenantAsync("observed");
        var submitted = await _platform.JobctlAsync(token, "submit", "--name", "hello", "--image", "exec", "-o", "json", "--", "echo", "hello");
        Assert.True(submitted.ExitCode == 0, submitted.Stderr);
        using var answer = System.Text.Json.JsonDocument.Parse(submitted.Stdout);
        var executionId = answer.RootElement.GetProperty("execution_id").GetString()!;
        var logs = await _platform.JobctlAsync(token, "logs", "-f", executionId);
        Assert.True(logs.ExitCode == 0, logs.Stderr);

        await _prometheus.StartAsync(new Dictionary<string, string>
        {
            ["jobplane-controller"] = $"127.0.0.1:{metricsPort}",
            ["jobplane-worker"] = $"127.0.0.1:{workerPort}",
        });

        // Both targets healthy, as Prometheus itself reports them.
        for (var i = 0; ; i++)
        {
            var targets = (await _prometheus.ApiAsync("/api/v1/targets")).GetProperty("activeTargets").EnumerateArray()
                .ToDictionary(t => t.GetProperty("labels").GetProperty("job").GetString()!, t => t.GetProperty("health").GetString());
            if (targets.GetValueOrDefault("jobplane-controller") == "up" && targets.GetValueOrDefault("jobplane-worker") == "up") break;
            if (i == 150)
                Assert.Fail($"targets not up: {string.Join(", ", targets)}\nprometheus:\n{_prometheus.Output}\nworker:\n{worker.Output}");
            await Task.Delay(200);
        }

        Assert.Equal(1, await EventuallyAsync("sum(jobplane_execution_duration_seconds_count{job=\"jobplane-controller\",outcome=\"succeeded\",runtime=\"exec\"})", v => v == 1));
        Assert.Equal(1, await EventuallyAsync("sum(jobplane_executions_submitted_total{job=\"jobplane-controller\"})", v => v == 1));
        Assert.NotNull(await EventuallyAsync("count(jobplane_queue_stats_duration_seconds_count{job=\"jobplane-controller\"})", v => v >= 1));
        Assert.Equal(4, await EventuallyAsync("sum(jobplane_worker_slots{job=\"jobplane-worker\"})", v => v == 4));
        Assert.Equal(1, await EventuallyAsync("sum(jobplane_worker_attempt_duration_seconds_count{job=\"jobplane-worker\",outcome=\"succeeded\"})", v => v == 1));
        Assert.Equal(1, await EventuallyAsync("up{job=\"jobplane-worker\"}", v => v == 1));

        // On the public API port the metrics (which name every tenant) need a credential, and the
        // metrics port serves nothing but metrics and health.
        using var http = new HttpClient();
        using (var open = await http.GetAsync($"http://127.0.0.1:{_platform.Port}/metrics"))
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, open.StatusCode);
        // Spelled as routing still matches it (case, a trailing slash): closed the same.
        using (var spelled = await http.GetAsync($"http://127.0.0.1:{_platform.Port}/METRICS/"))
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, spelled.StatusCode);
        using (var scrape = await http.GetAsync($"http://127.0.0.1:{metricsPort}/Metrics/"))
            Assert.Contains("jobplane_", await scrape.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using (var api = await http.GetAsync($"http://127.0.0.1:{metricsPort}/jobs"))
            Assert.Equal(System.Net.HttpStatusCode.NotFound, api.StatusCode);
        using (var health = await http.GetAsync($"http://127.0.0.1:{metricsPort}/healthz"))
            Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
    }

    private async Task<double?> EventuallyAsync(string promql, Func<double, bool> expected)
    {
        double? value = null;
        for (var i = 0; i < 100; i++)
        {
            value = await _prometheus.QueryAsync(promql);
            if (value is { } v && expected(v)) return v;
            await Task.Delay(200);
        }
        return value;
    }
}

/// <summary>The Prometheus configuration and alert rules shipped in deploy/ are valid for Prometheus itself.</summary>
public sealed class DeployConfigTests
{
    [Fact]
    public async Task Promtool_accepts_the_shipped_scrape_config_and_alert_rules()
    {
        PrometheusServer.EnsureInstalled();
        var config = Path.Combine(RepositoryRoot.Find(), "deploy", "prometheus", "prometheus.yml");
        await using var promtool = ChildProcess.Start(new ChildProcessStart("promtool", "promtool") { Arguments = ["check", "config", config] });
        var exit = await promtool.ExitCodeAsync(TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, promtool.Output);
        Assert.Contains("SUCCESS: 6 rules found", promtool.Output, StringComparison.Ordinal);
    }
}

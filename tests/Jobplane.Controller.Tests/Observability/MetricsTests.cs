using System.Diagnostics.Metrics;
using Jobplane.Api;
using Jobplane.Controller.Observability;
using Jobplane.Store;
using Jobplane.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Jobplane.Controller.Tests.Observability;

/// <summary>The controller's /metrics after a known sequence of executions, as Prometheus reads it.</summary>
public sealed class MetricsTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    [Fact]
    public async Task Pages_asking_at_once_for_stale_queue_figures_share_one_read()
    {
        // Its own gauges and meter, so the reads counted are this test's only.
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new ControllerMetrics(services.GetRequiredService<IMeterFactory>());
        using var gauges = new QueueGauges(new QueueStatsStore(_host.Database.DataSource), _host.Services.GetRequiredService<ControllerOptions>(),
            metrics, TimeProvider.System, NullLogger<QueueGauges>.Instance);
        var reads = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter == metrics.Meter && instrument.Name == "jobplane.queue.stats.duration") l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref reads));
        listener.Start();

        // Released together, as page loads arriving at once: each finds no figures yet.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var asking = Enumerable.Range(0, 32).Select(async _ =>
        {
            await gate.Task;
            return await gauges.LatestAsync(TimeSpan.FromMinutes(1), CancellationToken.None);
        }).ToList();
        gate.SetResult();
        var answers = await Task.WhenAll(asking);

        Assert.Equal(1, reads);
        Assert.All(answers, a => Assert.Same(answers[0].Snapshot, a.Snapshot));
        // Fresh enough figures are served as they are; stale ones are read again.
        await gauges.LatestAsync(TimeSpan.FromMinutes(1), CancellationToken.None);
        Assert.Equal(1, reads);
        await gauges.LatestAsync(TimeSpan.Zero, CancellationToken.None);
        Assert.Equal(2, reads);
    }

    [Fact]
    public async Task Metrics_report_queue_depth_dead_letters_and_execution_durations_after_known_work()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var tenantId = tenant.TenantId.ToString();
        var jobId = await Api.CreateJobAsync(client, maxAttempts: 1);
        for (var i = 0; i < 6; i++) await Api.RunAsync(client, jobId);

        // Four claimed: three succeed after 0.5 s each, one fails for good (one attempt: into the DLQ).
        var claimed = await Api.DequeueAsync(worker, tenant.TenantId, limit: 4);
        Assert.Equal(4, claimed.Count);
        for (var i = 0; i < 4; i++)
        {
            var exitCode = i < 3 ? 0 : 3;
            var status = await Api.ResultAsync(worker, claimed[i].ExecutionId, claimed[i].LeaseToken, exitCode,
                "\"runtime\": \"kubernetes\", \"duration_seconds\": 0.5");
            Assert.Equal(i < 3 ? ExecutionStatus.Succeeded : ExecutionStatus.Failed, status);
        }

        await _host.Services.GetRequiredService<QueueGauges>().RefreshAsync(CancellationToken.None);
        var text = await ScrapeAsync(t => PrometheusText.Value(t, "jobplane_queue_depth", ("tenant_id", tenantId)) is not null);

        // Queue: the two left over are ready; nothing of this tenant runs, waits for a time or retries.
        Assert.Equal(2, PrometheusText.Value(text, "jobplane_queue_depth", ("tenant_id", tenantId), ("state", "ready"), ("priority", "50")));
        Assert.Null(PrometheusText.Value(text, "jobplane_queue_depth", ("tenant_id", tenantId), ("state", "running")));
        Assert.True(PrometheusText.Value(text, "jobplane_queue_oldest_ready_age_seconds", ("tenant_id", tenantId)) >= 0);
        Assert.Equal(1, PrometheusText.Value(text, "jobplane_dlq_size", ("tenant_id", tenantId)));

        // Durations by runtime and outcome (only this test reports the kubernetes runtime here).
        Assert.Equal(3, PrometheusText.Value(text, "jobplane_execution_duration_seconds_count", ("runtime", "kubernetes"), ("outcome", "succeeded")));
        Assert.Equal(1.5, PrometheusText.Value(text, "jobplane_execution_duration_seconds_sum", ("runtime", "kubernetes"), ("outcome", "succeeded")));
        Assert.Equal(1, PrometheusText.Value(text, "jobplane_execution_duration_seconds_count", ("runtime", "kubernetes"), ("outcome", "failed")));
        Assert.Equal(3, PrometheusText.Value(text, "jobplane_execution_duration_seconds_bucket", ("runtime", "kubernetes"), ("outcome", "succeeded"), ("le", "0.5")));
        Assert.Equal(0, PrometheusText.Value(text, "jobplane_execution_duration_seconds_bucket", ("runtime", "kubernetes"), ("outcome", "succeeded"), ("le", "0.25")));

        // The other documented families are there (other tests share this process, so no exact counts).
        foreach (var family in new[]
        {
            "jobplane_executions_submitted_total", "jobplane_executions_claimed_total", "jobplane_executions_completed_total",
            "jobplane_queue_claim_duration_seconds", "jobplane_queue_pickup_duration_seconds", "jobplane_queue_stats_duration_seconds",
            "http_server_request_duration_seconds",
        })
        {
            Assert.True(PrometheusText.HasFamily(text, family), $"/metrics has no {family}:\n{text}");
        }
    }

    [Fact]
    public async Task Rate_limit_refusals_are_counted_per_tenant()
    {
        using var admin = _host.AdminClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var patch = await admin.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson("""{"rate_limit": 0.01, "rate_limit_burst": 1}"""));
        Assert.True(patch.IsSuccessStatusCode);
        var refused = 0;
        for (var i = 0; i < 3; i++)
        {
            using var r = await client.GetAsync("/jobs");
            if ((int)r.StatusCode == 429) refused++;
        }
        Assert.Equal(2, refused);
        var text = await ScrapeAsync(t => PrometheusText.Value(t, "jobplane_requests_rate_limited_total", ("tenant_id", tenant.TenantId.ToString())) == refused);
        Assert.Equal(refused, PrometheusText.Value(text, "jobplane_requests_rate_limited_total", ("tenant_id", tenant.TenantId.ToString())));
    }

    // The exporter caches a scrape briefly; read again until the expected sample is there (or give up).
    private async Task<string> ScrapeAsync(Func<string, bool> ready)
    {
        using var http = _host.AdminClient();
        var text = "";
        for (var i = 0; i < 100; i++)
        {
            text = await http.GetStringAsync("/metrics");
            if (ready(text)) return text;
            await Task.Delay(100);
        }
        return text;
    }
}

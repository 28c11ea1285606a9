using System.Net;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>Liveness, readiness, Prometheus metrics, and JSON errors for unknown routes.</summary>
public sealed class HealthTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    [Fact]
    public async Task Healthz_and_readyz_answer_without_credentials()
    {
        using var client = _host.Client();
        using var health = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);

        using var ready = await client.GetAsync("/readyz");
        var body = await Api.ReadAsync(ready, Api.Json.HealthResponse);
        Assert.Equal("ready", body.Status);
        using var doc = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
        Assert.Equal("ready", doc.RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Metrics_are_prometheus_text_and_count_submissions()
    {
        var (_, tenant) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(tenant);
        await Api.RunAsync(tenant, jobId);

        using var client = _host.AdminClient();
        using var response = await client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("# TYPE jobplane_executions_submitted", text, StringComparison.Ordinal);
        // The PENDING sample, wherever it is: other statuses may come first. This class's other
        // tests share the controller but submit nothing, so this test's submission is the count.
        Assert.Equal(1, SubmittedSample(text, "PENDING"));
    }

    [Fact]
    public async Task A_controller_counts_only_its_own_submissions_not_those_of_another_in_the_same_process()
    {
        // Tests host many controllers in one process; a production process hosts one. Both must
        // see only their own instruments, as separate controller processes would.
        // Two hosts of its own: this class's shared one counts only Metrics_are_prometheus_text_and_count_submissions's job.
        var first = new ControllerHost();
        var other = new ControllerHost();
        await first.InitializeAsync();
        await other.InitializeAsync();
        try
        {
            var (_, tenant) = await first.TenantClientAsync();
            await Api.RunAsync(tenant, await Api.CreateJobAsync(tenant));

            Assert.Null(SubmittedSample(await MetricsTextAsync(other), "PENDING"));

            var (_, otherTenant) = await other.TenantClientAsync();
            await Api.RunAsync(otherTenant, await Api.CreateJobAsync(otherTenant));
            // The exporter serves a cached scrape for a moment (300 ms by default): read until it is fresh.
            var deadline = DateTime.UtcNow.AddSeconds(30);
            double? count;
            while ((count = SubmittedSample(await MetricsTextAsync(other), "PENDING")) is null && DateTime.UtcNow < deadline)
                await Task.Delay(100);
            Assert.Equal(1, count);
        }
        finally
        {
            await other.DisposeAsync();
            await first.DisposeAsync();
        }
    }

    private static async Task<string> MetricsTextAsync(ControllerHost host)
    {
        using var client = host.AdminClient();
        using var response = await client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>The value of the jobplane_executions_submitted sample with this status, or null when there is none.</summary>
    private static double? SubmittedSample(string text, string status)
    {
        var sample = text.Split('\n').FirstOrDefault(l =>
            l.StartsWith("jobplane_executions_submitted", StringComparison.Ordinal) && l.Contains($"status=\"{status}\"", StringComparison.Ordinal));
        return sample is null ? null : double.Parse(sample[(sample.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Theory]
    [InlineData("GET", "/no/such/route")]
    [InlineData("POST", "/jobs/x/y/z")]
    [InlineData("GET", "/internal/nothing")]
    public async Task An_unknown_route_is_a_404_json_error(string method, string path)
    {
        using var client = _host.Client();
        using var response = await client.SendAsync(Api.Request(new HttpMethod(method), path));
        await Api.AssertErrorAsync(response, HttpStatusCode.NotFound, ErrorCodes.NotFound);
    }

    [Fact]
    public async Task A_wrong_method_on_a_known_route_is_a_json_error()
    {
        var (_, tenant) = await _host.TenantClientAsync();
        using var response = await tenant.DeleteAsync("/jobs");
        Assert.True((int)response.StatusCode is 404 or 405, $"{(int)response.StatusCode}");
        await Api.AssertErrorAsync(response, response.StatusCode);
    }
}

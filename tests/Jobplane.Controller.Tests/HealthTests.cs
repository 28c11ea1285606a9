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

        using var client = _host.Client();
        using var response = await client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("# TYPE jobplane_executions_submitted", text, StringComparison.Ordinal);
        var sample = text.Split('\n').FirstOrDefault(l => l.StartsWith("jobplane_executions_submitted", StringComparison.Ordinal));
        Assert.True(sample is not null, $"no jobplane_executions_submitted sample in:\n{text}");
        Assert.Contains("status=\"PENDING\"", sample, StringComparison.Ordinal);
        var value = double.Parse(sample[(sample.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(value >= 1, sample);
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

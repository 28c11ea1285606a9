using System.Net;
using System.Net.Http.Headers;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests.Observability;

/// <summary>
/// The metrics name every tenant (queue depth and dead letters per tenant id), so on the API port
/// nobody reads them without the scrape token or the administrator secret, tenants included.
/// </summary>
public sealed class MetricsAccessTests : IAsyncLifetime
{
    private const string ScrapeToken = "scrape-token-0123456789abcdef";
    private readonly ControllerHost _host = new(new Dictionary<string, string?> { ["METRICS_TOKEN"] = ScrapeToken, ["QUEUE_METRICS_INTERVAL"] = "100ms" });

    public Task InitializeAsync() => _host.InitializeAsync();

    public Task DisposeAsync() => _host.DisposeAsync();

    [Theory]
    [InlineData("/metrics")]
    [InlineData("/METRICS")]
    [InlineData("/metrics/")]
    public async Task Without_the_scrape_token_or_the_administrator_secret_metrics_are_refused(string path)
    {
        var (tenant, tenantClient) = await _host.TenantClientAsync();
        using var _ = tenantClient;
        await Api.RunAsync(tenantClient, await Api.CreateJobAsync(tenantClient));

        using var anonymous = _host.Client();
        using var worker = _host.WorkerClient();
        using var wrong = _host.Client(ScrapeToken + "x");
        foreach (var client in new[] { anonymous, tenantClient, worker, wrong })
        {
            using var response = await client.GetAsync(path);
            var body = await response.Content.ReadAsStringAsync();
            await Api.AssertErrorAsync(response, HttpStatusCode.Unauthorized, ErrorCodes.Unauthorized);
            Assert.DoesNotContain(tenant.TenantId.ToString(), body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_scrape_token_and_the_administrator_secret_read_them()
    {
        var (tenant, tenantClient) = await _host.TenantClientAsync();
        using var _ = tenantClient;
        await Api.RunAsync(tenantClient, await Api.CreateJobAsync(tenantClient));

        foreach (var token in new[] { ScrapeToken, ControllerHost.AdminSecret })
        {
            using var client = _host.Client();
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            // The per-tenant gauges are refreshed in the background: read until this tenant is in them.
            var text = "";
            for (var i = 0; i < 100 && !text.Contains(tenant.TenantId.ToString(), StringComparison.Ordinal); i++)
            {
                using var response = await client.GetAsync("/metrics");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                text = await response.Content.ReadAsStringAsync();
                await Task.Delay(50);
            }
            Assert.Contains("# TYPE jobplane_executions_submitted", text, StringComparison.Ordinal);
            Assert.Contains(tenant.TenantId.ToString(), text, StringComparison.Ordinal);
        }
    }
}

using System.Net.Http.Json;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>
/// A worker's id is usually its host name; a tenant sees a pseudonym instead: the same for the same
/// worker within one tenant, different across tenants, so it tells a tenant nothing about the
/// platform's machines and cannot be used to link tenants' work.
/// </summary>
public sealed class WorkerPseudonymTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private async Task<string> WorkerShownForAsync(HttpClient tenant, Guid tenantId, string workerId)
    {
        using var worker = _host.WorkerClient();
        var run = await Api.RunAsync(tenant, await Api.CreateJobAsync(tenant));
        ClaimedExecution? claim = null;
        for (var i = 0; i < 20 && claim is null; i++)
        {
            var response = await worker.PostAsJsonAsync("/internal/executions/dequeue",
                new DequeueRequest { Limit = 1, TenantIds = [tenantId], WorkerId = workerId, WaitSeconds = 5 }, Api.Json.DequeueRequest);
            claim = (await Api.ReadAsync(response, Api.Json.DequeueResponse)).Executions.SingleOrDefault();
        }
        Assert.NotNull(claim);
        Assert.Equal(run.ExecutionId, claim.ExecutionId);
        await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 0);
        var attempts = await Api.ReadAsync(await tenant.GetAsync($"/executions/{claim.ExecutionId}/attempts"), Api.Json.IReadOnlyListAttemptView);
        return Assert.Single(attempts).WorkerId;
    }

    [Fact]
    public async Task A_tenant_sees_a_stable_pseudonym_per_worker_that_differs_between_tenants()
    {
        var (a, clientA) = await _host.TenantClientAsync();
        var (b, clientB) = await _host.TenantClientAsync();
        using var _ = clientA;
        using var __ = clientB;
        var host = $"build-host-{Guid.NewGuid():N}.corp.internal";

        var first = await WorkerShownForAsync(clientA, a.TenantId, host);
        var again = await WorkerShownForAsync(clientA, a.TenantId, host);
        var otherWorker = await WorkerShownForAsync(clientA, a.TenantId, host + "-2");
        var otherTenant = await WorkerShownForAsync(clientB, b.TenantId, host);

        Assert.Matches("^worker-[0-9a-f]{16}$", first);
        Assert.DoesNotContain("build-host", first, StringComparison.Ordinal);
        Assert.Equal(first, again);
        Assert.NotEqual(first, otherWorker);
        Assert.NotEqual(first, otherTenant);
    }
}

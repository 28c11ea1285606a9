using System.Net;
using Jobplane.Controller.Dashboard.Pages;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests.Dashboard;

/// <summary>
/// The administrator's executions list merges one index range per tenant; past the number of tenants
/// it merges, it asks for a tenant instead of reading them all. A controller of its own: the tenants
/// it needs would change what the other dashboard tests' administrator sees.
/// </summary>
public sealed class ExecutionListTenantLimitTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    [Fact]
    public async Task With_more_tenants_than_it_merges_the_administrator_is_asked_to_choose_one()
    {
        var (tenant, api) = await _host.TenantClientAsync();
        var run = await Api.RunAsync(api, await Api.CreateJobAsync(api));
        await Api.ExecSqlAsync(_host, "insert into tenants (id, name) select gen_random_uuid(), 'filler-' || g from generate_series(1, $1) g",
            ExecutionsModel.MaxTenantsMerged);
        using var admin = new DashboardClient(_host);
        await admin.SignInAsync(ControllerHost.AdminSecret);

        var (status, all) = await admin.GetAsync("/ui/executions");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains($"There are more than {ExecutionsModel.MaxTenantsMerged} tenants: choose one to list its executions.", all,
            StringComparison.Ordinal);
        Assert.DoesNotContain(run.ExecutionId.ToString(), all, StringComparison.Ordinal);

        var (_, chosen) = await admin.GetAsync($"/ui/executions?tenant={tenant.TenantId}");
        Assert.Contains($"href=\"/ui/executions/{run.ExecutionId}\"", chosen, StringComparison.Ordinal);
    }
}

using Jobplane.Api;
using Jobplane.Client;
using Jobplane.Testing;

namespace Jobplane.Cli.Tests;

/// <summary>One real controller on one fresh database for a test class (ControllerHost has no parameterless constructor).</summary>
public sealed class LiveControllerFixture : IAsyncLifetime
{
    public ControllerHost Host { get; } = new();

    public Task InitializeAsync() => Host.InitializeAsync();

    public Task DisposeAsync() => Host.DisposeAsync();
}

/// <summary>Runs jobctl against the live controller, and plays a worker through the real worker API.</summary>
internal sealed class LiveJobctl(ControllerHost host)
{
    public ControllerHost Host { get; } = host;

    /// <summary>Runs jobctl with only the given token (as JOBPLANE_TOKEN) and the controller's URL in its environment.</summary>
    public Task<CliResult> RunAsync(string? token, params string[] args) =>
        RunWithEnvironmentAsync(new Dictionary<string, string?> { ["JOBPLANE_TOKEN"] = token }, args);

    public async Task<CliResult> RunWithEnvironmentAsync(Dictionary<string, string?> environment, params string[] args)
    {
        environment["JOBPLANE_URL"] = Host.BaseAddress.ToString();
        using var handler = Host.CreateHandler();
        return await CliRunner.RunWithAsync(environment, handler, args);
    }

    /// <summary>Creates a tenant through jobctl itself (as administrator) and returns its API key.</summary>
    public async Task<(Guid TenantId, string ApiKey)> NewTenantAsync()
    {
        var result = await RunWithEnvironmentAsync(
            new Dictionary<string, string?> { ["SYSTEM_SECRET"] = ControllerHost.AdminSecret },
            "tenant", "create", "--name", $"cli-{Guid.NewGuid():N}", "-o", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        var created = System.Text.Json.JsonSerializer.Deserialize(result.Stdout, JobplaneJsonContext.Default.CreateTenantResponse)!;
        return (created.TenantId, created.ApiKey);
    }

    /// <summary>Claims the tenant's next execution through the worker API, as a real worker would.</summary>
    public async Task<ClaimedExecution> ClaimAsync(Guid tenantId)
    {
        var claimed = await WorkerAsync(worker => worker.DequeueAsync(
            new DequeueRequest { Limit = 1, TenantIds = [tenantId], WorkerId = "cli-test-worker", WaitSeconds = 5 }, CancellationToken.None));
        return Assert.Single(claimed.Executions);
    }

    public Task AppendLogsAsync(ClaimedExecution claim, params string[] lines) =>
        WorkerAsync(worker => worker.AppendLogsAsync(claim.ExecutionId,
            new AppendLogsRequest { LeaseToken = claim.LeaseToken, Lines = [.. lines.Select(l => new LogLine(l, "stdout"))] }, CancellationToken.None));

    public Task CompleteAsync(ClaimedExecution claim, int exitCode, string? error = null, string? resultJson = null) =>
        WorkerAsync(worker => worker.ReportResultAsync(claim.ExecutionId,
            new ResultRequest
            {
                LeaseToken = claim.LeaseToken,
                ExitCode = exitCode,
                Error = error,
                Result = resultJson is null ? null : System.Text.Json.JsonDocument.Parse(resultJson).RootElement,
            }, CancellationToken.None));

    /// <summary>Hands the attempt back unfinished, as a draining worker does.</summary>
    public Task ReleaseAsync(ClaimedExecution claim, string reason = "worker draining") =>
        WorkerAsync(async worker =>
        {
            await worker.ReleaseAsync(claim.ExecutionId, new ReleaseRequest { LeaseToken = claim.LeaseToken, Reason = reason }, CancellationToken.None);
            return true;
        });

    /// <summary>One call through the worker client, on its own connection to the in-process controller.</summary>
    private async Task<T> WorkerAsync<T>(Func<WorkerClient, Task<T>> call)
    {
        using var http = new HttpClient(Host.CreateHandler());
        return await call(new WorkerClient(http, Host.BaseAddress, ControllerHost.WorkerToken));
    }
}

using System.Net.Http.Json;
using Jobplane.Api;
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
        using var worker = Host.WorkerClient();
        var response = await worker.PostAsJsonAsync("/internal/executions/dequeue",
            new DequeueRequest { Limit = 1, TenantIds = [tenantId], WorkerId = "cli-test-worker", WaitSeconds = 5 },
            JobplaneJsonContext.Default.DequeueRequest);
        response.EnsureSuccessStatusCode();
        var claimed = await response.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.DequeueResponse);
        return Assert.Single(claimed!.Executions);
    }

    public async Task AppendLogsAsync(ClaimedExecution claim, params string[] lines)
    {
        using var worker = Host.WorkerClient();
        var response = await worker.PostAsJsonAsync($"/internal/executions/{claim.ExecutionId}/logs",
            new AppendLogsRequest { LeaseToken = claim.LeaseToken, Lines = [.. lines.Select(l => new LogLine(l, "stdout"))] },
            JobplaneJsonContext.Default.AppendLogsRequest);
        response.EnsureSuccessStatusCode();
    }

    public async Task CompleteAsync(ClaimedExecution claim, int exitCode, string? error = null, string? resultJson = null)
    {
        using var worker = Host.WorkerClient();
        var response = await worker.PutAsJsonAsync($"/internal/executions/{claim.ExecutionId}/result",
            new ResultRequest
            {
                LeaseToken = claim.LeaseToken,
                ExitCode = exitCode,
                Error = error,
                Result = resultJson is null ? null : System.Text.Json.JsonDocument.Parse(resultJson).RootElement,
            },
            JobplaneJsonContext.Default.ResultRequest);
        response.EnsureSuccessStatusCode();
    }
}

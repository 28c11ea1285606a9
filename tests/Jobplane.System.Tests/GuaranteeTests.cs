using System.Diagnostics;

namespace Jobplane.SystemTests;

/// <summary>Cancel and idempotent submission, through the real binaries as a user drives them.</summary>
public sealed class GuaranteeTests : IAsyncLifetime
{
    private readonly Platform _platform = new();

    public async Task InitializeAsync()
    {
        await _platform.InitializeAsync();
        await _platform.StartControllerAsync();
        _platform.StartWorker("guarantees");
    }

    public Task DisposeAsync() => _platform.DisposeAsync();

    [Fact]
    public async Task Cancel_stops_a_running_sleep_600_within_seconds()
    {
        var token = await _platform.CreateTenantAsync("cancel");
        using var api = new Api(_platform.Url, token);
        var submit = await _platform.JobctlAsync(token, "submit", "--name", "sleeper", "--image", "exec", "-o", "json", "--", "sleep", "600");
        Assert.True(submit.ExitCode == 0, submit.Stderr);
        using var doc = System.Text.Json.JsonDocument.Parse(submit.Stdout);
        var id = doc.RootElement.GetProperty("execution_id").GetString()!;
        await api.WaitForStatusAsync(id, "RUNNING", TimeSpan.FromSeconds(30));

        var clock = Stopwatch.StartNew();
        var cancel = await _platform.JobctlAsync(token, "cancel", id);
        Assert.True(cancel.ExitCode == 0, cancel.Stderr);
        var done = await api.WaitForAsync(id, s => s is "CANCELLED" or "SUCCEEDED" or "FAILED", TimeSpan.FromSeconds(30));
        Console.WriteLine($"cancel of a running 'sleep 600': CANCELLED {clock.ElapsedMilliseconds} ms after jobctl cancel started");
        Assert.Equal("CANCELLED", done.GetProperty("status").GetString());

        var again = await _platform.JobctlAsync(token, "cancel", id);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("409", again.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_concurrent_submissions_with_one_idempotency_key_create_one_execution()
    {
        var token = await _platform.CreateTenantAsync("idem");
        var create = await _platform.JobctlAsync(token, "create", "--name", "once", "--image", "exec", "--", "true");
        Assert.True(create.ExitCode == 0, create.Stderr);
        var key = $"order-{Guid.NewGuid():N}";

        var runs = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ =>
            _platform.JobctlAsync(token, "run", create.Line, "--idempotency-key", key)));
        Assert.All(runs, r => Assert.True(r.ExitCode == 0, r.Stderr));
        Assert.Equal(runs[0].Line, runs[1].Line);

        var list = await _platform.JobctlAsync(token, "executions", "list", "--job-id", create.Line, "-o", "json");
        using var doc = System.Text.Json.JsonDocument.Parse(list.Stdout);
        Assert.Single(doc.RootElement.GetProperty("executions").EnumerateArray());
    }
}

using System.Diagnostics;
using System.Text.Json;

namespace Jobplane.SystemTests;

/// <summary>
/// Concurrency caps and fair scheduling between tenants, observed from outside through the API
/// while real workers run real processes.
/// </summary>
public sealed class TenancyTests : IAsyncLifetime
{
    private readonly Platform _platform = new();

    public async Task InitializeAsync()
    {
        await _platform.InitializeAsync();
        await _platform.StartControllerAsync();
        _platform.StartWorker("tenancy-1");
        _platform.StartWorker("tenancy-2");
    }

    public Task DisposeAsync() => _platform.DisposeAsync();

    private async Task<(string Id, string Key)> TenantAsync(string name, params string[] options)
    {
        var r = await _platform.JobctlAsync(Platform.AdminSecret, ["tenant", "create", "--name", name, "-o", "json", .. options]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        return (doc.RootElement.GetProperty("tenant_id").GetString()!, doc.RootElement.GetProperty("api_key").GetString()!);
    }

    private async Task<string> JobAsync(string key, string name, params string[] command)
    {
        var r = await _platform.JobctlAsync(key, ["create", "--name", name, "--image", "exec", "--", .. command]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return r.Line;
    }

    private static async Task<int> CountAsync(Api api, string query)
    {
        var page = await api.GetJsonAsync($"/executions?{query}&limit=1000");
        return page.GetProperty("executions").GetArrayLength();
    }

    [Fact]
    public async Task A_tenant_capped_at_two_never_has_more_than_two_running_across_workers()
    {
        // Two workers with four slots each: eight slots, but the tenant may use two.
        var (_, key) = await TenantAsync("capped", "--max-concurrent", "2");
        using var api = new Api(_platform.Url, key);
        var job = await JobAsync(key, "nap", "sleep", "0.3");
        await api.PostJsonAsync($"/jobs/{job}/runs", """{"count": 12}""");

        var peak = 0;
        var samples = 0;
        var clock = Stopwatch.StartNew();
        while (await CountAsync(api, $"job_id={job}&status=SUCCEEDED") < 12)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), "the capped tenant's executions did not finish");
            var running = await CountAsync(api, $"job_id={job}&status=RUNNING");
            peak = Math.Max(peak, running);
            samples++;
            Assert.True(running <= 2, $"{running} executions running at once with a cap of 2");
        }
        Console.WriteLine($"cap 2: {samples} samples of the running count, peak {peak}, 12 executions in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(2, peak);
    }

    [Fact]
    public async Task A_tenant_submitting_after_a_20000_execution_backlog_finishes_while_most_of_it_is_still_queued()
    {
        var (aId, aKey) = await TenantAsync("flood");
        var (_, bKey) = await TenantAsync("latecomer");
        using var a = new Api(_platform.Url, aKey);
        using var b = new Api(_platform.Url, bKey);
        using var admin = new Api(_platform.Url, Platform.AdminSecret);
        var aJob = await JobAsync(aKey, "flood", "sleep", "0.5");
        var bJob = await JobAsync(bKey, "late", "sleep", "0.5");

        for (var i = 0; i < 2; i++) await a.PostJsonAsync($"/jobs/{aJob}/runs", """{"count": 10000}""");
        var clock = Stopwatch.StartNew();
        var bRuns = await b.PostJsonAsync($"/jobs/{bJob}/runs", """{"count": 20}""");
        Assert.Equal(20, bRuns.GetProperty("execution_ids").GetArrayLength());

        while (await CountAsync(b, $"job_id={bJob}&status=SUCCEEDED") < 20)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(120), "the latecomer's executions did not finish");
            await Task.Delay(100);
        }
        var bDone = clock.Elapsed;
        var flood = await admin.GetJsonAsync($"/tenants/{aId}");
        var aQueued = flood.GetProperty("ready").GetInt32();
        Console.WriteLine($"fairness: B's 20 executions (0.5 s each, 8 slots) finished {bDone.TotalSeconds:F1} s after submission; " +
            $"A still had {aQueued} of its 20000 queued");
        Assert.True(aQueued > 19_000, $"A had only {aQueued} of 20000 left when B finished");

        // Stop the flood rather than wait for it.
        using var cancel = await a.Http.PostAsync($"/jobs/{aJob}/cancel", null);
        Assert.True(cancel.IsSuccessStatusCode);
    }
}

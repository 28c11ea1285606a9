namespace Jobplane.Worker.Tests.Agent;

/// <summary>A worker with bad settings refuses to start, naming every bad setting at once.</summary>
public sealed class WorkerOptionsTests
{
    [Fact]
    public void Defaults_need_only_a_worker_token()
    {
        var options = WorkerOptions.FromEnvironment(k => k == "WORKER_TOKEN" ? "a-worker-token-of-some-length" : null);
        Assert.Equal(new Uri("http://localhost:6161"), options.ControllerUrl);
        Assert.Equal(4, options.Concurrency);
        Assert.Equal(TimeSpan.FromSeconds(2), options.HeartbeatInterval);
        Assert.Equal("exec", options.Runtime);
    }

    [Fact]
    public void Every_bad_setting_is_named_in_one_error()
    {
        var env = new Dictionary<string, string>
        {
            ["CONTROLLER_URL"] = "ftp://nope",
            ["WORKER_CONCURRENCY"] = "0",
            ["WORKER_HEARTBEAT_INTERVAL"] = "soon",
            ["WORKER_TENANTS"] = "not-a-uuid",
            ["RUNTIME"] = "podman",
        };
        var e = Assert.Throws<InvalidOperationException>(() => WorkerOptions.FromEnvironment(k => env.GetValueOrDefault(k)));
        foreach (var name in new[] { "CONTROLLER_URL", "WORKER_TOKEN", "WORKER_CONCURRENCY", "WORKER_HEARTBEAT_INTERVAL", "WORKER_TENANTS", "RUNTIME" })
            Assert.Contains(name, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_noop_benchmarking_runtime_can_be_chosen()
    {
        var env = new Dictionary<string, string> { ["WORKER_TOKEN"] = "a-worker-token-of-some-length", ["RUNTIME"] = "noop" };
        Assert.Equal("noop", WorkerOptions.FromEnvironment(k => env.GetValueOrDefault(k)).Runtime);
    }
}

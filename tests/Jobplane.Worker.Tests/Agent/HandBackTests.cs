using Jobplane.Api;
using Jobplane.Testing;
using Jobplane.Worker.Runtimes;

namespace Jobplane.Worker.Tests.Agent;

/// <summary>
/// An attempt the platform ended under the job (its pod evicted, its node lost) is handed back by
/// the agent, not reported: the controller queues the execution again and charges no attempt. The
/// runtime here is a stand-in that says so on its first attempt; the kubernetes runtime's own
/// tests show it saying so for real evictions and lost nodes.
/// </summary>
public sealed class HandBackTests : IAsyncLifetime
{
    private readonly ControllerHost _host = new();
    private AgentHarness _agent = null!;

    public async Task InitializeAsync()
    {
        await _host.InitializeAsync();
        _agent = await AgentHarness.StartAsync(_host, runtime: _ => new EvictedOnce());
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _host.DisposeAsync();
    }

    [Fact]
    public async Task An_attempt_ended_by_the_platform_is_handed_back_and_not_charged()
    {
        var id = await _agent.SubmitAsync("evicted", ["true"], maxAttempts: 1);

        var done = await _agent.WaitForAsync(id, e => ExecutionStatus.IsTerminal(e.Status));

        // One attempt allowed, and it still succeeded: the evicted one was not counted.
        Assert.Equal(ExecutionStatus.Succeeded, done.Status);
        Assert.Equal(1, done.HandedBack);
        Assert.Equal(2, done.Attempt);
    }

    private sealed class EvictedOnce : IJobRuntime
    {
        private int _runs;

        public string Name => "exec";

        public Task<RunOutcome> RunAsync(RunSpec spec, ILogSink logs, CancellationToken stop, CancellationToken kill = default) =>
            Task.FromResult(Interlocked.Increment(ref _runs) == 1
                ? RunOutcomes.HandedBack("the pod was evicted by its node: The node was low on resource: memory.")
                : new RunOutcome { ExitCode = 0 });

        public Task CleanupOrphansAsync(CancellationToken ct) => Task.CompletedTask;
    }
}

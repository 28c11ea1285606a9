using System.Globalization;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Worker.Tests.Agent;

/// <summary>
/// A worker with many slots under a backlog: as jobs end one by one it gathers freed slots before
/// claiming. Every job still runs, and never more at once than the worker has slots.
/// </summary>
public sealed class BusyWorkerTests : IAsyncLifetime
{
    private readonly ControllerHost _host = new();
    private AgentHarness _agent = null!;

    public async Task InitializeAsync()
    {
        await _host.InitializeAsync();
        _agent = await AgentHarness.StartAsync(_host, concurrency: 8);
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _host.DisposeAsync();
    }

    [Fact]
    public async Task A_busy_worker_runs_the_whole_backlog_and_never_more_jobs_than_its_slots()
    {
        // Different lengths, so that slots come back one at a time while others are still running.
        var ids = new List<Guid>();
        for (var i = 0; i < 24; i++)
        {
            var seconds = (0.05 * (i % 6 + 1)).ToString("0.00", CultureInfo.InvariantCulture);
            ids.Add(await _agent.SubmitAsync($"busy-{i}", ["sleep", seconds]));
        }

        var views = new List<ExecutionView>();
        foreach (var id in ids) views.Add(await _agent.WaitForAsync(id, e => ExecutionStatus.IsTerminal(e.Status), seconds: 60));

        Assert.All(views, v => Assert.Equal(ExecutionStatus.Succeeded, v.Status));
        Assert.All(views, v => Assert.Equal(1, v.Attempt));
        // The most attempts running at one moment, from their recorded start and end times.
        var attempts = views.Select(v => Assert.Single(v.Attempts!)).ToList();
        var peak = attempts.Max(a => attempts.Count(b => b.StartedAt <= a.StartedAt && b.EndedAt > a.StartedAt));
        Assert.InRange(peak, 1, 8);
    }
}

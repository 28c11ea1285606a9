namespace Jobplane.Worker.Tests.Docker;

/// <summary>What docker orphan cleanup reports; what it removes is checked by the conformance suite.</summary>
public sealed class DockerOrphanCleanupTests : IAsyncLifetime
{
    private readonly DockerHarness _docker = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _docker.DisposeAsync().AsTask();

    [Fact]
    public async Task Cleanup_with_nothing_left_behind_does_nothing()
    {
        await _docker.Runtime.CleanupOrphansAsync(CancellationToken.None);

        Assert.Contains(_docker.Logger.Entries, e => e.Message.Contains("0 container(s) removed, 0 output folder(s) removed", StringComparison.Ordinal));
    }
}

using Docker.DotNet.Models;
using Jobplane.Testing;

namespace Jobplane.Worker.Tests.Docker;

/// <summary>A restarted worker removes the containers and folders its previous life left, and nobody else's.</summary>
public sealed class DockerOrphanCleanupTests : IAsyncLifetime
{
    private readonly DockerHarness _docker = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _docker.DisposeAsync().AsTask();

    /// <summary>A running container labelled the way the runtime labels its own, as a crashed worker would leave it.</summary>
    private static async Task<string> StartLeftoverAsync(string workerId)
    {
        using var client = TestDocker.Client();
        var created = await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = TestDocker.Image,
            Cmd = ["sleep", "600"],
            Labels = new Dictionary<string, string>
            {
                ["jobplane.managed"] = "true",
                ["jobplane.worker"] = workerId,
                ["jobplane.execution"] = Guid.NewGuid().ToString("D"),
                ["jobplane.attempt"] = "1",
            },
            HostConfig = new HostConfig { NetworkMode = "none" },
        });
        await client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters());
        return created.ID;
    }

    private static async Task<bool> ExistsAsync(string id)
    {
        using var client = TestDocker.Client();
        var all = await client.Containers.ListContainersAsync(new ContainersListParameters { All = true });
        return all.Any(c => c.ID == id);
    }

    [Fact]
    public async Task Containers_and_folders_of_this_worker_are_removed_and_nobody_elses()
    {
        // Another worker whose id starts with ours: matching must be exact.
        var otherId = _docker.WorkerId + "-other";
        var mine = await StartLeftoverAsync(_docker.WorkerId);
        var theirs = await StartLeftoverAsync(otherId);
        try
        {
            var myLeftover = Directory.CreateDirectory(Path.Combine(_docker.WorkRoot, _docker.WorkerId, $"{Guid.NewGuid()}-1")).FullName;
            File.WriteAllText(Path.Combine(myLeftover, "result.json"), "{}");

            await _docker.Runtime.CleanupOrphansAsync(CancellationToken.None);

            Assert.False(await ExistsAsync(mine), "this worker's leftover container is still there");
            Assert.True(await ExistsAsync(theirs), "another worker's container was removed");
            Assert.False(Directory.Exists(myLeftover));
            Assert.Contains(_docker.Logger.Entries, e => e.Message.Contains($"Removed orphan container {mine}", StringComparison.Ordinal));
            Assert.Contains(_docker.Logger.Entries, e => e.Message.Contains("1 container(s) removed, 1 output folder(s) removed", StringComparison.Ordinal));
        }
        finally
        {
            using var client = TestDocker.Client();
            foreach (var id in new[] { mine, theirs })
            {
                try
                {
                    await client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true });
                }
                catch (global::Docker.DotNet.DockerContainerNotFoundException)
                {
                    // Removed by the cleanup.
                }
            }
        }
    }

    [Fact]
    public async Task Cleanup_with_nothing_left_behind_does_nothing()
    {
        await _docker.Runtime.CleanupOrphansAsync(CancellationToken.None);

        Assert.Contains(_docker.Logger.Entries, e => e.Message.Contains("0 container(s) removed, 0 output folder(s) removed", StringComparison.Ordinal));
    }
}

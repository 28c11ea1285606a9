using Docker.DotNet.Models;
using Jobplane.Testing;
using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Tests.Docker;

namespace Jobplane.Worker.Tests.Conformance;

/// <summary>The docker runtime against the conformance suite: the test image on the real test engine.</summary>
public sealed class DockerConformance : RuntimeConformanceTests
{
    protected override IRuntimeUnderTest Create(TimeSpan killGrace) =>
        new DockerUnderTest(new DockerHarness(o => o with { KillGrace = killGrace }));

    private sealed class DockerUnderTest(DockerHarness docker) : IRuntimeUnderTest
    {
        public AttemptSupervisor Runtime => docker.Runtime;
        public string WorkRoot => docker.WorkRoot;
        public string WorkerId => docker.WorkerId;
        public IReadOnlyList<string> LogMessages => [.. docker.Logger.Entries.Select(e => e.Message)];

        public RunSpec Spec(IReadOnlyList<string> command, TimeSpan? timeout = null) => DockerHarness.Spec(command, timeout);

        public async Task<bool> UnitGoneAsync(RunSpec spec) => await DockerHarness.ContainersOfAsync(spec) == 0;

        /// <summary>A running container labelled the way the runtime labels its own, as a crashed worker would leave it.</summary>
        public async Task<ILeftoverUnit> LeaveUnitAsync(string workerId)
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
            return new LeftoverContainer(created.ID);
        }

        public ValueTask DisposeAsync() => docker.DisposeAsync();
    }

    private sealed class LeftoverContainer(string id) : ILeftoverUnit
    {
        public string LoggedAs => $"Removed orphan container {id}";

        public async Task<bool> IsGoneAsync()
        {
            using var client = TestDocker.Client();
            var all = await client.Containers.ListContainersAsync(new ContainersListParameters { All = true });
            return all.All(c => c.ID != id);
        }

        public async ValueTask DisposeAsync()
        {
            using var client = TestDocker.Client();
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

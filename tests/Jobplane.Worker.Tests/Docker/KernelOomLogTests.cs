using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using Jobplane.Testing;
using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Runtimes.Docker;

namespace Jobplane.Worker.Tests.Docker;

/// <summary>
/// The kernel's log as the OOM decider reads it: its records as this kernel writes them, and real
/// containers on the test engine, one OOM-killed and one that SIGKILLed itself.
/// </summary>
public sealed class KernelOomLogTests
{
    private const string Id = "ea0efff50c23bc9cd112a5d326d92aaba7a7e0e20fa420a33deb4d4a9fb9718a";

    // Records as /dev/kmsg gives them (priority,sequence,microseconds,flags;message), copied from this
    // kernel's log of a container killed at its 32 MiB limit.
    private const string Summary =
        "6,474,106688479,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=" + Id + ",mems_allowed=0,oom_memcg=/docker/" + Id
        + ",task_memcg=/docker/" + Id + ",task=tail,pid=2433,uid=0\n";
    private const string Kill =
        "3,475,106688510,-;Memory cgroup out of memory: Killed process 2433 (tail) total-vm:34280kB, anon-rss:32000kB, file-rss:1328kB, shmem-rss:0kB, UID:0 pgtables:104kB oom_score_adj:0\n";

    private static KernelOomLog.RecordKind Classify(string record, string id = Id) =>
        KernelOomLog.Classify(Encoding.ASCII.GetBytes(record), Encoding.ASCII.GetBytes(id));

    [Fact]
    public void The_summary_of_a_containers_own_OOM_kill_names_it()
    {
        Assert.Equal(KernelOomLog.RecordKind.SummaryOfThis, Classify(Summary));
        // Under the systemd cgroup driver the path is a scope named after the container.
        Assert.Equal(KernelOomLog.RecordKind.SummaryOfThis, Classify(Summary.Replace("oom_memcg=/docker/" + Id, "oom_memcg=/system.slice/docker-" + Id + ".scope", StringComparison.Ordinal)));
    }

    [Fact]
    public void Another_containers_OOM_kill_or_a_kill_it_only_caused_is_not_this_ones()
    {
        Assert.Equal(KernelOomLog.RecordKind.Summary, Classify(Summary, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
        // The killed task was in this container, but the cgroup at its limit was another (a parent's):
        // not this container's limit, so not its OOM kill.
        var parentLimit = Summary.Replace("oom_memcg=/docker/" + Id, "oom_memcg=/pods/p1", StringComparison.Ordinal);
        Assert.Equal(KernelOomLog.RecordKind.Summary, Classify(parentLimit));
    }

    [Fact]
    public void A_kill_line_is_told_apart_from_other_records()
    {
        Assert.Equal(KernelOomLog.RecordKind.KilledProcess, Classify(Kill));
        Assert.Equal(KernelOomLog.RecordKind.KilledProcess, Classify("3,9,100,-;Out of memory: Killed process 77 (java) total-vm:1kB\n"));
        Assert.Equal(KernelOomLog.RecordKind.Other, Classify("6,476,106688600,-;docker0: port 1(veth1) entered disabled state\n"));
        // The container id in an unrelated record is not an OOM kill.
        Assert.Equal(KernelOomLog.RecordKind.Other, Classify("6,477,106688700,-;cgroup: oom_memcg=/docker/" + Id + "\n"));
        Assert.Equal(KernelOomLog.RecordKind.Other, Classify("no separator at all"));
    }

    [Fact]
    public async Task A_container_killed_at_its_memory_limit_is_in_the_log_and_one_that_killed_itself_is_not()
    {
        using var client = TestDocker.Client();
        var oomKilled = await RunAsync(client, ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]);
        var selfKilled = await RunAsync(client, ["sh", "-c", "kill -9 $$"]);

        // The record is written before the kill, so it is there as soon as the engine reports the exit.
        Assert.Equal(KernelOomLog.Finding.Killed, KernelOomLog.Find(oomKilled));
        // NotKilled, or Unknown if this machine's log already holds a kill whose summary the kernel left out.
        Assert.NotEqual(KernelOomLog.Finding.Killed, KernelOomLog.Find(selfKilled));
        Assert.NotEqual(KernelOomLog.Finding.Unreadable, KernelOomLog.Find(selfKilled));
    }

    [Fact]
    public async Task When_the_engines_oom_event_never_comes_the_kernels_log_still_names_the_OOM_kill()
    {
        using var client = TestDocker.Client();
        var oomKilled = await RunAsync(client, ["sh", "-c", "head -c 200000000 /dev/zero | tail"]);
        var selfKilled = await RunAsync(client, ["sh", "-c", "kill -9 $$"]);
        // Watches whose event stream hears nothing, as when containerd drops the event: no engine there.
        using var deaf = new DockerClientBuilder().WithEndpoint(new Uri("unix:///nonexistent/docker.sock")).Build();
        var sameKernel = new Lazy<Task<bool>>(() => Task.FromResult(true));

        await using var oomWatch = OomWatch.Start(deaf, oomKilled, DateTimeOffset.UtcNow, sameKernel);
        await using var selfWatch = OomWatch.Start(deaf, selfKilled, DateTimeOffset.UtcNow, sameKernel);

        Assert.True(await oomWatch.DecideAsync(TimeSpan.FromSeconds(30), TimeProvider.System));
        Assert.False(await selfWatch.DecideAsync(TimeSpan.FromSeconds(30), TimeProvider.System));
    }

    private static async Task<string> RunAsync(DockerClient client, IList<string> command)
    {
        var created = await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = TestDocker.Image,
            Cmd = command,
            // As the runtime runs jobs: under an init, so that the job is not PID 1 (which ignores a SIGKILL of its own).
            HostConfig = new HostConfig { Memory = 32L << 20, MemorySwap = 32L << 20, NetworkMode = "none", Init = true },
        });
        try
        {
            await client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters());
            var exit = await client.Containers.WaitContainerAsync(created.ID);
            Assert.Equal(137, exit.StatusCode);
            return created.ID;
        }
        finally
        {
            await client.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true });
        }
    }
}

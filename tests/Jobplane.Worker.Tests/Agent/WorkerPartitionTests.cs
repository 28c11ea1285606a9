using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Worker.Tests.Agent;

/// <summary>
/// A worker cut off from the controller must stop its jobs before its leases can expire, so that
/// the attempt the controller starts elsewhere never runs alongside the old one.
/// </summary>
public sealed class WorkerPartitionTests : IAsyncLifetime
{
    // A short lease so the test is quick: the worker must kill within half of it.
    private readonly ControllerHost _host = new(new Dictionary<string, string?> { ["HEARTBEAT_VISIBILITY_EXTENSION"] = "6s" });
    private AgentHarness _agent = null!;

    public async Task InitializeAsync()
    {
        await _host.InitializeAsync();
        _agent = await AgentHarness.StartAsync(_host, heartbeat: TimeSpan.FromMilliseconds(500));
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _host.DisposeAsync();
    }

    [Fact]
    public async Task A_partitioned_worker_kills_its_job_before_the_lease_expires_and_the_retry_runs_alone()
    {
        // The attempts run as different users, and what a job user leaves at the top of /tmp goes
        // with its attempt: they share state through a folder the test opens to both.
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("the exec runtime runs on Linux only");
        var shared = Directory.CreateTempSubdirectory("jobplane-partition-").FullName;
        File.SetUnixFileMode(shared, (UnixFileMode)0b111_111_111);
        var marker = Path.Combine(shared, "marker");
        try
        {
            // Attempt 1 works "forever"; attempt 2 finds the marker and succeeds. Each start and end
            // is appended to a history file to prove the attempts never overlapped.
            var history = marker + ".history";
            File.WriteAllText(history, "");
            File.SetUnixFileMode(history, (UnixFileMode)0b110_110_110);
            var id = await _agent.SubmitAsync("partitioned", ["sh", "-c",
                $"echo \"start $JOBPLANE_ATTEMPT $(date +%s%N)\" >> {history}; echo pid $$; " +
                $"if [ -e {marker} ]; then echo \"end $JOBPLANE_ATTEMPT $(date +%s%N)\" >> {history}; exit 0; fi; " +
                $"touch {marker}; trap 'echo \"end $JOBPLANE_ATTEMPT $(date +%s%N)\" >> {history}; exit 1' TERM; sleep 600 & wait"],
                maxAttempts: 3);
            await _agent.WaitForAsync(id, e => e.Status == ExecutionStatus.Running);
            var pid = await _agent.JobPidAsync(id);

            _agent.Network.Cut();
            Assert.True(await AgentHarness.GoneWithinAsync(pid, TimeSpan.FromSeconds(15)),
                "a worker that cannot confirm its lease must not let its job run on");
            // By the database clock, which decides expiry, the lease was still valid when the job was
            // found dead: nobody else could have been running the execution yet.
            Assert.True(await _host.Database.ScalarAsync<bool>(
                "select coalesce(now() < lease_expires_at, false) from executions where id = $1", id),
                "the job must die before its lease expires");

            _agent.Network.Heal();
            var done = await _agent.WaitForAsync(id, e => e.Status == ExecutionStatus.Succeeded, seconds: 60);
            Assert.Equal("lease_expired", done.Attempts![0].Outcome);
            Assert.Equal("succeeded", done.Attempts[^1].Outcome);

            // The history shows attempt 1 ended (killed) before attempt 2 started.
            var lines = (await File.ReadAllLinesAsync(history)).Select(l => l.Split(' ')).ToList();
            var firstStart = lines.First(l => l[0] == "start" && l[1] == "1");
            var secondStart = lines.First(l => l[0] == "start" && l[1] != "1");
            Assert.True(long.Parse(secondStart[2], System.Globalization.CultureInfo.InvariantCulture) >
                        long.Parse(firstStart[2], System.Globalization.CultureInfo.InvariantCulture));
            Assert.False(Directory.Exists($"/proc/{pid}"));
        }
        finally
        {
            Directory.Delete(shared, recursive: true);
        }
    }
}

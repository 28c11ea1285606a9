using Jobplane.Worker.Runtimes.Kubernetes;

namespace Jobplane.Worker.Tests.Kubernetes;

/// <summary>
/// How the result container tells that the job has ended: no process left in the pod's shared
/// process namespace but its init (pid 1) and itself. Checked on a folder laid out as /proc is,
/// and on this machine's own /proc.
/// </summary>
public sealed class PodProcessesTests : IDisposable
{
    private readonly string _proc = Directory.CreateTempSubdirectory("proc-").FullName;

    public void Dispose() => Directory.Delete(_proc, recursive: true);

    private void Process(int pid, string comm, char state)
    {
        var folder = Directory.CreateDirectory(Path.Combine(_proc, pid.ToString(System.Globalization.CultureInfo.InvariantCulture))).FullName;
        File.WriteAllText(Path.Combine(folder, "stat"), $"{pid} ({comm}) {state} 1 {pid} {pid} 0 -1 4194560");
    }

    [Fact]
    public void Only_init_and_itself_means_the_job_has_ended()
    {
        Process(1, "pause", 'S');
        Process(42, "jobplane-worker", 'R');
        Directory.CreateDirectory(Path.Combine(_proc, "self"));
        Directory.CreateDirectory(Path.Combine(_proc, "sys"));

        Assert.False(PodProcesses.OthersRunning(_proc, self: 42));
    }

    [Fact]
    public void A_job_process_still_running_or_sleeping_keeps_it_waiting()
    {
        Process(1, "pause", 'S');
        Process(42, "jobplane-worker", 'R');
        // A command name with spaces and parentheses: the state follows the last ')'.
        Process(7, "evil) Z (name", 'S');

        Assert.True(PodProcesses.OthersRunning(_proc, self: 42));
    }

    [Fact]
    public void Zombies_and_dead_processes_are_not_running()
    {
        Process(1, "pause", 'S');
        Process(42, "jobplane-worker", 'R');
        Process(7, "sh", 'Z');
        Process(8, "sh", 'X');

        Assert.False(PodProcesses.OthersRunning(_proc, self: 42));
    }

    [Fact]
    public void On_this_machine_other_processes_are_seen() =>
        // The test host has more than pid 1 and this test process.
        Assert.True(PodProcesses.OthersRunning("/proc", Environment.ProcessId));
}

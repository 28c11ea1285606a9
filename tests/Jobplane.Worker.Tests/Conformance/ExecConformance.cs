using System.Diagnostics;
using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Tests.Exec;

namespace Jobplane.Worker.Tests.Conformance;

/// <summary>The exec runtime against the conformance suite: host programs, as root with a job user per attempt.</summary>
public sealed class ExecConformance : RuntimeConformanceTests
{
    protected override IRuntimeUnderTest Create(TimeSpan killGrace) => new ExecUnderTest(new ExecHarness(killGrace: killGrace));

    private sealed class ExecUnderTest(ExecHarness exec) : IRuntimeUnderTest
    {
        public AttemptSupervisor Runtime => exec.Runtime;
        public string WorkRoot => exec.WorkRoot;
        public string WorkerId => exec.WorkerId;
        public IReadOnlyList<string> LogMessages => [.. exec.Logger.Entries.Select(e => e.Message)];

        public RunSpec Spec(IReadOnlyList<string> command, TimeSpan? timeout = null) => ExecHarness.Spec(command, timeout);

        /// <summary>No process carries the attempt's execution id in its environment any more.</summary>
        public async Task<bool> UnitGoneAsync(RunSpec spec)
        {
            var marker = $"JOBPLANE_EXECUTION_ID={spec.ExecutionId:D}\0";
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
            while (true)
            {
                var alive = Directory.EnumerateDirectories("/proc")
                    .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
                    .Any(pid => pid > 0 && Processes.IsRunning(pid) && EnvironmentOf(pid).Contains(marker, StringComparison.Ordinal));
                if (!alive) return true;
                if (DateTime.UtcNow > deadline) return false;
                await Task.Delay(50);
            }
        }

        private static string EnvironmentOf(int pid)
        {
            try
            {
                return File.ReadAllText($"/proc/{pid}/environ");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return "";
            }
        }

        /// <summary>A process like one a previous life of a worker left behind: its own session, the worker id in its environment.</summary>
        public async Task<ILeftoverUnit> LeaveUnitAsync(string workerId)
        {
            var start = new ProcessStartInfo("/usr/bin/setsid") { UseShellExecute = false };
            start.ArgumentList.Add("sleep");
            start.ArgumentList.Add("600");
            start.Environment["JOBPLANE_WORKER_ID"] = workerId;
            var process = Process.Start(start)!;
            // What a crashed worker leaves has long settled: wait until setsid has made the session
            // and exec'd sleep. A process caught inside execve shows no environment for an instant,
            // which a busy machine can stretch into the moment the cleanup looks.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (!Settled(process.Id) && DateTime.UtcNow < deadline) await Task.Delay(20);
            Assert.True(Settled(process.Id), $"the leftover process {process.Id} did not become a sleeping session leader");
            return new LeftoverProcess(process);
        }

        /// <summary>The process runs sleep and leads its own session (/proc/PID/stat: comm, then the session id as field 6).</summary>
        private static bool Settled(int pid)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                return stat.Contains("(sleep)", StringComparison.Ordinal) && fields[3] == pid.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                return false;
            }
        }

        public ValueTask DisposeAsync()
        {
            exec.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private sealed class LeftoverProcess(Process process) : ILeftoverUnit
    {
        public string LoggedAs => $"orphan process {process.Id}";

        public async Task<bool> IsGoneAsync() => await Processes.WaitGoneAsync(process.Id, TimeSpan.FromSeconds(2));

        public ValueTask DisposeAsync()
        {
            if (!process.HasExited) process.Kill();
            process.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

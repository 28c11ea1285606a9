using System.Globalization;
using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Runtimes.Exec;

namespace Jobplane.Worker.Tests.Exec;

/// <summary>
/// One exec runtime on a private temporary WorkRoot with a unique worker id, so that tests can run
/// in parallel without seeing each other's directories or processes.
/// </summary>
internal sealed class ExecHarness : IDisposable
{
    public ExecHarness(TimeSpan? killGrace = null, int? maxLineChars = null, string? workerId = null, string? workRoot = null,
        JobUserRange? users = null, long? workDirectoryMaxBytes = null)
    {
        WorkRoot = workRoot ?? Directory.CreateTempSubdirectory("jobplane-exec-").FullName;
        WorkerId = workerId ?? "test-" + Guid.NewGuid().ToString("N")[..12];
        Options = new ExecRuntimeOptions
        {
            WorkRoot = WorkRoot,
            WorkerId = WorkerId,
            KillGrace = killGrace ?? TimeSpan.FromSeconds(1),
            MaxLineChars = maxLineChars ?? 64 * 1024,
            // As a root worker does in production: each attempt runs as a user of its own.
            JobUsers = Environment.IsPrivilegedProcess ? users ?? JobUserRange.Default : null,
            RunAsWorkerUser = !Environment.IsPrivilegedProcess,
            WorkDirectoryMaxBytes = workDirectoryMaxBytes ?? ExecRuntimeOptions.DefaultWorkDirectoryMaxBytes,
        };
        Runtime = new AttemptSupervisor(new ExecRuntime(Options, Logger, TimeProvider.System), Logger, TimeProvider.System);
    }

    /// <summary>
    /// Job user ids no other test process uses (the default range is shared by every worker and
    /// test on the host, which is fine for running jobs but not for planting a crashed worker's leftovers).
    /// </summary>
    public static JobUserRange PrivateUserRange() =>
        new(1_600_000u + (uint)(Environment.ProcessId % 100_000) * 4, 1_600_000u + (uint)(Environment.ProcessId % 100_000) * 4 + 3);

    public string WorkRoot { get; }
    public string WorkerId { get; }
    public ExecRuntimeOptions Options { get; }
    public ListLogger<ExecRuntime> Logger { get; } = new();
    public AttemptSupervisor Runtime { get; }

    public static RunSpec Spec(
        IReadOnlyList<string> command,
        TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? environment = null,
        int attempt = 1) =>
        new(Guid.NewGuid(), Guid.NewGuid(), attempt, ExecRuntime.ExecImage, command,
            timeout ?? TimeSpan.FromSeconds(30), environment ?? new Dictionary<string, string>());

    public static RunSpec Shell(string script, TimeSpan? timeout = null) => Spec(["sh", "-c", script], timeout);

    public string WorkDirectoryOf(RunSpec spec) =>
        Path.Combine(WorkRoot, WorkerId, string.Create(CultureInfo.InvariantCulture, $"{spec.ExecutionId:D}-{spec.Attempt}"));

    public async Task<(RunOutcome Outcome, CollectingLogSink Logs)> RunAsync(RunSpec spec, CancellationToken stop = default)
    {
        var logs = new CollectingLogSink();
        var outcome = await Runtime.RunAsync(spec, logs, stop);
        return (outcome, logs);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(WorkRoot, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Already gone.
        }
    }
}

/// <summary>Looking at processes from the outside, the way a user would check that nothing survived.</summary>
internal static class Processes
{
    /// <summary>True while the process exists and is not a zombie (a zombie runs nothing).</summary>
    public static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0];
            return state != "Z";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Polls for a few seconds until <paramref name="pid"/> is gone; true when it is.</summary>
    public static async Task<bool> WaitGoneAsync(int pid, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(5));
        while (DateTime.UtcNow < deadline)
        {
            if (!IsRunning(pid)) return true;
            await Task.Delay(50);
        }
        return !IsRunning(pid);
    }

    public static void Kill(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            process.Kill();
        }
        catch (ArgumentException)
        {
            // Not running.
        }
    }
}

using System.Globalization;

namespace Jobplane.Worker.Runtimes.Exec;

/// <summary>
/// The process group of one job. The job is started as <c>[env --default-signal] setsid -- argv...</c>:
/// the child .NET forks is never a group leader (it inherits the worker's group), so setsid calls
/// setsid(2) and execs in place without forking (env execs in place too). The job's main process therefore keeps the pid .NET reports,
/// and that pid is both its session id and its process group id. Everything the job forks stays
/// in that group unless it deliberately creates a new session of its own.
/// </summary>
internal sealed class ProcessGroup(int leaderPid)
{
    public int Id { get; } = leaderPid;

    /// <summary>Sends <paramref name="signal"/> to every process of the group.</summary>
    public void Signal(int signal) => LibC.Kill(-Id, signal);

    /// <summary>
    /// True while a process of the group is still running. Zombies do not count: they have
    /// finished, and a reaper that is slow to collect them (an init that reaps lazily, a worker
    /// running as PID 1) must not make every stop wait out the whole grace period.
    /// </summary>
    public bool IsAlive()
    {
        if (LibC.Kill(-Id, 0) == LibC.ESRCH) return false;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) &&
                ReadProcessGroupId(pid) == Id)
                return true;
        }
        return false;
    }

    /// <summary>
    /// Waits until the leader has called setsid(2), i.e. until the group exists and can be
    /// signalled as a whole. Until then a signal to the group would reach nobody (ESRCH) while
    /// the job is about to start. Returns early when the leader is already gone.
    /// This also checks the assumption above at run time: if setsid ever forked instead, the
    /// .NET-visible pid would never lead a group and the runtime must not pretend it controls the job.
    /// </summary>
    public async Task WaitUntilFormedAsync(TimeProvider time, TimeSpan limit)
    {
        var deadline = time.GetTimestamp();
        while (true)
        {
            var pgid = ReadProcessGroupId(Id);
            if (pgid is null || pgid == Id) return;
            if (time.GetElapsedTime(deadline) > limit)
                throw new InvalidOperationException(
                    $"process {Id} did not become a process group leader after setsid (it is in group {pgid}); refusing to run a job that cannot be stopped");
            await Task.Delay(TimeSpan.FromMilliseconds(1), time);
        }
    }

    /// <summary>The process group id from /proc/PID/stat, or null when the process is gone.</summary>
    public static int? ReadProcessGroupId(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        // "pid (comm) state ppid pgrp ...": comm may itself contain spaces and ')', so parse
        // from the last ')'.
        var close = stat.LastIndexOf(')');
        if (close < 0) return null;
        var fields = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 3) return null;
        // A zombie keeps its group but is no longer running anything.
        if (fields[0] == "Z") return null;
        return int.TryParse(fields[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var id) ? id : null;
    }
}

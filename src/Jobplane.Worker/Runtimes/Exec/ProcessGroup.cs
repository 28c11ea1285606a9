using System.Globalization;

namespace Jobplane.Worker.Runtimes.Exec;

/// <summary>
/// The process group of one job. The job is spawned in a session of its own (posix_spawn with
/// POSIX_SPAWN_SETSID), so its main process's pid is both its session id and its process group id
/// from its first instruction on, and setpriv execs in place without changing either. Everything
/// the job forks stays in that group unless it deliberately creates a new session of its own (what
/// the job user's kill is for).
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

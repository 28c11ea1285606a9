using System.Globalization;
using System.Text;

namespace Jobplane.Worker.Runtimes.Exec;

/// <summary>
/// Finds the processes a worker's jobs left running, by the JOBPLANE_WORKER_ID entry every job
/// is started with. /proc/PID/environ holds the environment a process was exec'd with and is
/// inherited by everything it forks, so it also finds children that escaped the job's process
/// group (setsid, daemonising) as long as they did not exec with a scrubbed environment.
/// </summary>
internal static class OrphanFinder
{
    public readonly record struct Orphan(int Pid, int ProcessGroup, string Command);

    public static List<Orphan> Find(string workerId)
    {
        var entry = Encoding.UTF8.GetBytes($"{ExecRuntime.WorkerIdVariable}={workerId}");
        var self = Environment.ProcessId;
        var found = new List<Orphan>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == self)
                continue;
            byte[] environ;
            try
            {
                environ = File.ReadAllBytes(Path.Combine(dir, "environ"));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile, a kernel thread, or another user's process we may not read.
                continue;
            }
            if (!HasEntry(environ, entry)) continue;
            var pgid = ProcessGroup.ReadProcessGroupId(pid);
            if (pgid is null) continue;
            found.Add(new Orphan(pid, pgid.Value, ReadCommand(dir)));
        }
        return found;
    }

    /// <summary>True when the NUL-separated environment block has exactly <paramref name="entry"/> as one of its entries.</summary>
    public static bool HasEntry(ReadOnlySpan<byte> environ, ReadOnlySpan<byte> entry)
    {
        while (!environ.IsEmpty)
        {
            var end = environ.IndexOf((byte)0);
            var current = end < 0 ? environ : environ[..end];
            if (current.SequenceEqual(entry)) return true;
            if (end < 0) break;
            environ = environ[(end + 1)..];
        }
        return false;
    }

    private static string ReadCommand(string procDir)
    {
        try
        {
            return File.ReadAllText(Path.Combine(procDir, "comm")).TrimEnd('\n');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "?";
        }
    }
}

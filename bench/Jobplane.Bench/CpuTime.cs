using System.Globalization;

namespace Jobplane.Bench;

/// <summary>
/// CPU time used by processes, from /proc: what a drain spent in the controller, the workers and
/// PostgreSQL, which says which of them limits it on a machine where all three share the cores.
/// </summary>
internal static class CpuTime
{
    // USER_HZ: the unit of utime/stime in /proc/PID/stat, 100 on every Linux this runs on.
    private const double TicksPerSecond = 100;

    /// <summary>User plus system CPU seconds of one process; 0 once it is gone.</summary>
    public static double Of(int pid) => Read(pid)?.Seconds ?? 0;

    /// <summary>
    /// CPU seconds of every PostgreSQL process on the machine (server, backends, background workers).
    /// A backend that exits meanwhile takes its time with it, so this can only under-count.
    /// </summary>
    public static double OfPostgres()
    {
        double total = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            if (Read(pid) is { Command: "postgres" } p) total += p.Seconds;
        }
        return total;
    }

    private static (string Command, double Seconds)? Read(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
            var open = stat.IndexOf('(', StringComparison.Ordinal);
            var close = stat.LastIndexOf(')');
            var fields = stat[(close + 2)..].Split(' ');
            // After comm: field 3 (state) is fields[0], so utime (14) and stime (15) are fields[11] and fields[12].
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return (stat[(open + 1)..close], ticks / TicksPerSecond);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}

using System.Globalization;
using Npgsql;

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

    /// <summary>User plus system CPU seconds of one process; null once it is gone.</summary>
    public static double? TryOf(int pid) => Read(pid)?.Seconds;

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

/// <summary>
/// CPU time of the PostgreSQL backends serving one database (client connections, and autovacuum
/// while it works there), sampled from pg_stat_activity and /proc while a measurement runs. Unlike
/// <see cref="CpuTime.OfPostgres"/> it leaves out other databases on the same server, which on a
/// shared machine may be busy with someone else's work, and the server's own background processes
/// (WAL writer, checkpointer), which serve every database at once. A backend that started during the
/// measurement counts from zero; one that ended counts up to its last sample.
/// </summary>
internal sealed class DatabaseCpu : IAsyncDisposable
{
    private readonly NpgsqlDataSource _server;
    private readonly string _database;
    private readonly IReadOnlySet<int> _excluded;
    private readonly Dictionary<int, (double First, double Last)> _backends = [];
    private readonly CancellationTokenSource _stop = new();
    private Task? _sampling;

    private DatabaseCpu(string serverConnectionString, string database, IReadOnlySet<int> excluded)
    {
        // Through the server's maintenance database, so that sampling is no backend of the one measured.
        _server = NpgsqlDataSource.Create(serverConnectionString);
        _database = database;
        _excluded = excluded;
    }

    /// <summary>Starts sampling every <paramref name="every"/>; the backends there now count from their CPU time now.</summary>
    /// <param name="excluded">Backends of the harness's own (a LISTEN connection, say) that are not the system's.</param>
    public static async Task<DatabaseCpu> StartAsync(string serverConnectionString, string database, IReadOnlySet<int> excluded, TimeSpan every)
    {
        var cpu = new DatabaseCpu(serverConnectionString, database, excluded);
        await cpu.SampleAsync(first: true);
        cpu._sampling = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(every);
            try
            {
                while (await timer.WaitForNextTickAsync(cpu._stop.Token)) await cpu.SampleAsync(first: false);
            }
            catch (OperationCanceledException)
            {
            }
        });
        return cpu;
    }

    /// <summary>Takes a last sample and returns the CPU seconds the database's backends used since the start.</summary>
    public async Task<double> StopAsync()
    {
        await _stop.CancelAsync();
        if (_sampling is not null) await _sampling;
        await SampleAsync(first: false);
        return _backends.Values.Sum(b => b.Last - b.First);
    }

    /// <summary>How many distinct backends were seen.</summary>
    public int Backends => _backends.Count;

    private async Task SampleAsync(bool first)
    {
        var pids = new List<int>();
        await using (var cmd = _server.CreateCommand("/* bench */ select pid from pg_stat_activity where datname = $1"))
        {
            cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _database });
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync()) pids.Add(reader.GetInt32(0));
        }
        foreach (var pid in pids)
        {
            if (_excluded.Contains(pid) || CpuTime.TryOf(pid) is not { } seconds) continue;
            _backends[pid] = _backends.TryGetValue(pid, out var known) ? (known.First, seconds) : (first ? seconds : 0, seconds);
        }
        // A backend no longer listed keeps its last sample (its pid may be reused by anything now).
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_sampling is not null) await _sampling;
        _stop.Dispose();
        await _server.DisposeAsync();
    }
}

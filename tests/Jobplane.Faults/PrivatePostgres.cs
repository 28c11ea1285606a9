using System.Globalization;

namespace Jobplane.Faults;

/// <summary>
/// A PostgreSQL server of our own: the suite crashes and restarts it, so it must never be the
/// machine's shared cluster that other tests use at the same time. It lives in a fresh directory,
/// listens on a unix socket in that directory only (no TCP), trusts local connections, and is
/// deleted with the directory at the end.
/// </summary>
public sealed class PrivatePostgres
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(120);

    private readonly string _binDir;
    private readonly bool _asServerUser;

    private PrivatePostgres(string binDir, string directory, int port, bool asServerUser)
    {
        _binDir = binDir;
        Directory = directory;
        Port = port;
        _asServerUser = asServerUser;
    }

    /// <summary>Holds the data directory, the socket and the server log.</summary>
    public string Directory { get; }
    public int Port { get; }
    public string DataDirectory => Path.Combine(Directory, "data");
    public string LogPath => Path.Combine(Directory, "postgres.log");
    public string ConnectionString => $"Host={Directory};Port={Port};Username=postgres;Database=postgres";

    /// <summary>Initialises a cluster in <paramref name="directory"/> (which must not exist) and starts it.</summary>
    public static async Task<PrivatePostgres> StartAsync(string directory, CancellationToken ct)
    {
        var binDir = await FindBinDirAsync(ct);
        // PostgreSQL refuses to run as root: as root, the server runs as the postgres user.
        var asServerUser = Environment.IsPrivilegedProcess;
        System.IO.Directory.CreateDirectory(directory);
        if (asServerUser)
        {
            if ((await ExternalCommand.RunAsync("id", ["-u", "postgres"], CommandTimeout, ct)).ExitCode != 0)
                throw new SetupException("running as root, but there is no 'postgres' user to run the private PostgreSQL server as");
            await ExternalCommand.RunCheckedAsync("chown", ["postgres:postgres", directory], CommandTimeout, ct);
        }
        // Only the socket file name carries the port (there is no TCP listener); a random one keeps
        // the System V shared memory keys of concurrent private servers apart.
        var port = Random.Shared.Next(20_000, 60_000);
        var pg = new PrivatePostgres(binDir, directory, port, asServerUser);
        await pg.RunAsync("initdb", ["-D", pg.DataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"], ct);
        await File.AppendAllTextAsync(Path.Combine(pg.DataDirectory, "postgresql.conf"), string.Create(CultureInfo.InvariantCulture, $"""

            # jobplane fault suite: a unix socket in our own directory only, never TCP.
            listen_addresses = ''
            unix_socket_directories = '{directory}'
            port = {port}
            # Two controllers' pools (40 each) and the suite's own reader, with room for reconnects.
            max_connections = 200
            """), ct);
        await pg.StartServerAsync(ct);
        return pg;
    }

    /// <summary>
    /// A crash, not a polite restart: `pg_ctl stop -m immediate` kills every backend at once without
    /// a checkpoint, so clients lose their connections mid-transaction and the server replays its
    /// WAL on start. What was acknowledged must survive exactly that.
    /// </summary>
    public async Task CrashAsync(CancellationToken ct) =>
        await RunAsync("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "stop"], ct);

    public async Task StartServerAsync(CancellationToken ct) =>
        await RunAsync("pg_ctl", ["-D", DataDirectory, "-l", LogPath, "-w", "-t", "120", "start"], ct);

    /// <summary>Stops the server if it runs; never throws (used on every way out).</summary>
    public async Task StopQuietlyAsync()
    {
        try
        {
            var command = ServerUserArgs("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "stop"]);
            await ExternalCommand.RunAsync(command[0], command[1..], CommandTimeout, CancellationToken.None);
        }
        catch (Exception)
        {
            // Nothing more we can do; the directory removal that follows reports what is left.
        }
    }

    public string Tail(int lines) => LogFileOutput.TailOf(LogPath, lines);

    private async Task RunAsync(string program, IReadOnlyList<string> args, CancellationToken ct)
    {
        var command = ServerUserArgs(program, args);
        await ExternalCommand.RunCheckedAsync(command[0], command[1..], CommandTimeout, ct);
    }

    /// <summary>The command line that runs <paramref name="program"/> as the server's owner.</summary>
    private string[] ServerUserArgs(string program, IReadOnlyList<string> args)
    {
        var path = Path.Combine(_binDir, program);
        return _asServerUser ? ["runuser", "-u", "postgres", "--", path, .. args] : [path, .. args];
    }

    /// <summary>$PG_BINDIR, then `pg_config --bindir`, then the newest /usr/lib/postgresql/*/bin.</summary>
    private static async Task<string> FindBinDirAsync(CancellationToken ct)
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("PG_BINDIR") is { Length: > 0 } fromEnv) candidates.Add(fromEnv);
        try
        {
            var r = await ExternalCommand.RunAsync("pg_config", ["--bindir"], CommandTimeout, ct);
            if (r.ExitCode == 0) candidates.Add(r.Output.Trim());
        }
        catch (SetupException)
        {
            // No pg_config on PATH: look in the Debian layout below.
        }
        if (System.IO.Directory.Exists("/usr/lib/postgresql"))
        {
            candidates.AddRange(System.IO.Directory.GetDirectories("/usr/lib/postgresql")
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var v) ? v : 0)
                .Select(d => Path.Combine(d, "bin")));
        }
        return candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")))
            ?? throw new SetupException(
                "PostgreSQL server binaries (initdb, pg_ctl) not found: install postgresql (scripts/ensure-postgres.sh does) or set PG_BINDIR");
    }
}

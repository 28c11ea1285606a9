using Jobplane.Testing;

namespace Jobplane.SystemTests;

/// <summary>
/// A whole platform made of real processes: controller(s) and workers started from the built
/// binaries on a fresh real PostgreSQL database, on a free loopback port.
/// </summary>
public sealed class Platform : IAsyncLifetime
{
    public const string AdminSecret = "system-admin-secret-0123456789";
    public const string WorkerToken = "system-worker-token-0123456789";

    private readonly List<ChildProcess> _processes = [];
    private readonly ExecWorkRoot _workRoot = new("jobplane-system");
    private readonly string _sharedRoot = Path.Combine(Path.GetTempPath(), $"jobplane-shared-{Guid.NewGuid():N}");

    public TestDatabase Database { get; } = new();
    public int Port { get; } = FreePort.Next();
    public string Url => $"http://127.0.0.1:{Port}";
    public ChildProcess? Controller { get; private set; }
    public string WorkRoot => _workRoot.Path;

    /// <summary>Controller settings; tests may change them before StartControllerAsync.</summary>
    public Dictionary<string, string?> ControllerEnv { get; } = new()
    {
        ["SYSTEM_SECRET"] = AdminSecret,
        ["WORKER_TOKEN"] = WorkerToken,
        ["MAINTENANCE_INTERVAL"] = "200ms",
        ["RETRY_BACKOFF_BASE"] = "200ms",
        ["RETRY_BACKOFF_MAX"] = "1s",
        // Tests run image exec jobs of the tenants they create (the default allows container runtimes only); any: unrestricted, so workers naming no runtime (noop) claim too.
        ["TENANT_DEFAULT_RUNTIMES"] = "any",
    };

    public async Task InitializeAsync() => await Database.InitializeAsync();

    public async Task DisposeAsync()
    {
        foreach (var p in _processes) await p.DisposeAsync();
        await Database.DisposeAsync();
        await _workRoot.DisposeAsync();
        try { Directory.Delete(_sharedRoot, recursive: true); }
        catch (DirectoryNotFoundException) { }
    }

    public async Task<ChildProcess> StartControllerAsync()
    {
        var env = new Dictionary<string, string?>(ControllerEnv)
        {
            ["DATABASE_URL"] = Database.ConnectionString,
            ["PORT"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        var p = Start("controller", "jobplane-controller", env, "--migrate");
        Controller = p;
        await p.WaitForHttpAsync(new Uri($"{Url}/readyz"), TimeSpan.FromSeconds(30));
        return p;
    }

    /// <summary>
    /// Another controller replica on the same database, on a port of its own (its URL is returned):
    /// what a second instance behind a load balancer is. It does not migrate; start it after the first.
    /// </summary>
    public async Task<(ChildProcess Process, string Url)> StartReplicaAsync(string name, int port)
    {
        var env = new Dictionary<string, string?>(ControllerEnv)
        {
            ["DATABASE_URL"] = Database.ConnectionString,
            ["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        var p = Start(name, "jobplane-controller", env);
        var url = $"http://127.0.0.1:{port}";
        await p.WaitForHttpAsync(new Uri($"{url}/readyz"), TimeSpan.FromSeconds(30));
        return (p, url);
    }

    public ChildProcess StartWorker(string workerId, IDictionary<string, string?>? extra = null)
    {
        var env = ExecWorkerSettings.For(Url, WorkerToken, workerId, _workRoot.Path);
        if (extra is not null)
        {
            foreach (var (k, v) in extra) env[k] = v;
        }
        return Start(workerId, "jobplane-worker", env);
    }

    /// <summary>
    /// A folder every job user may write, for jobs whose attempts must leave each other a marker:
    /// each attempt runs as a user of its own, and the work root is the worker's alone.
    /// </summary>
    public string SharedFolder()
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("the platform runs on Linux only");
        var path = Path.Combine(_sharedRoot, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(_sharedRoot, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(path, (UnixFileMode)0b111_111_111);
        return path;
    }

    public Task<Jobctl.Result> JobctlAsync(string? token, params string[] args) => Jobctl.RunAsync(Url, token, args);

    /// <summary>Creates a tenant through jobctl as the administrator and returns its API key.</summary>
    public async Task<string> CreateTenantAsync(string name)
    {
        var r = await JobctlAsync(AdminSecret, "tenant", "create", "--name", name, "-o", "json");
        Assert.True(r.ExitCode == 0, $"tenant create failed: {r.Stderr}");
        using var doc = System.Text.Json.JsonDocument.Parse(r.Stdout);
        return doc.RootElement.GetProperty("api_key").GetString()!;
    }

    private ChildProcess Start(string name, string binary, Dictionary<string, string?> env, params string[] args)
    {
        var p = ChildProcess.Start(new ChildProcessStart(name, PlatformBinaries.Locate(binary)) { Arguments = args, Environment = env });
        _processes.Add(p);
        return p;
    }
}

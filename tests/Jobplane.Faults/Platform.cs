using System.Globalization;

namespace Jobplane.Faults;

/// <summary>A process that ended without being told to, seen by the supervisor.</summary>
public sealed record UnexpectedExit(DateTimeOffset At, string Process, int ExitCode);

/// <summary>
/// The platform under test, made of the real binaries: two controllers on their own loopback ports
/// over the private PostgreSQL, and workers split between them. It also supervises: a process that
/// dies without being told to is reported (with the tail of its log) and started again.
/// </summary>
public sealed class Platform : IAsyncDisposable
{
    public const string AdminSecret = "faults-admin-secret-0123456789";
    public const string WorkerToken = "faults-worker-token-0123456789";
    public const int ControllerCount = 2;
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    private readonly Timeline _timeline;
    private readonly List<UnexpectedExit> _unexpected = [];
    private readonly List<PlatformProcess> _controllers = [];
    private readonly List<PlatformProcess> _workers = [];
    private volatile bool _stopping;
    private CancellationTokenRegistration _cancelled;

    public Platform(string binDir, string databaseUrl, string root, int workers, string runId, Timeline timeline)
    {
        _timeline = timeline;
        var logs = Directory.CreateDirectory(Path.Combine(root, "logs")).FullName;
        var work = Directory.CreateDirectory(Path.Combine(root, "work")).FullName;
        var urls = new List<string>();
        for (var i = 0; i < ControllerCount; i++)
        {
            var port = FreePort.Next();
            urls.Add($"http://127.0.0.1:{port}");
            var env = new Dictionary<string, string?>
            {
                ["DATABASE_URL"] = databaseUrl,
                ["PORT"] = port.ToString(CultureInfo.InvariantCulture),
                ["SYSTEM_SECRET"] = AdminSecret,
                ["WORKER_TOKEN"] = WorkerToken,
                // A 3 s lease rescued within 200 ms keeps recovery inside the run's time budget.
                ["HEARTBEAT_VISIBILITY_EXTENSION"] = "3s",
                ["MAINTENANCE_INTERVAL"] = "200ms",
                ["RETRY_BACKOFF_BASE"] = "200ms",
                ["RETRY_BACKOFF_MAX"] = "1s",
                // The run submits image exec jobs (the default allows container runtimes only); any: unrestricted, so workers naming no runtime (noop) claim too.
                ["TENANT_DEFAULT_RUNTIMES"] = "any",
            };
            var name = $"controller{i + 1}";
            // --migrate on every start: the first start of both at once is the concurrent-migration test,
            // and a restart must not depend on anyone else having migrated.
            _controllers.Add(new PlatformProcess(name, Binary(binDir, "jobplane-controller"), env, ["--migrate"],
                Path.Combine(logs, $"{name}.log"), OnUnexpectedExit));
        }
        ControllerUrls = urls;

        for (var i = 0; i < workers; i++)
        {
            // The run id keeps our worker ids (and so the orphan cleanup keyed on them) apart from any
            // other test's workers on this machine.
            var workerId = $"faults-{runId}-w{i + 1}";
            var env = new Dictionary<string, string?>
            {
                ["CONTROLLER_URL"] = urls[i % ControllerCount],
                ["WORKER_TOKEN"] = WorkerToken,
                ["WORKER_ID"] = workerId,
                ["RUNTIME"] = "exec",
                ["RUNTIME_WORKDIR"] = work,
                ["WORKER_CONCURRENCY"] = "8",
                ["WORKER_HEARTBEAT_INTERVAL"] = "1s",
                ["WORKER_LEASE_TIMEOUT"] = "3s",
                ["WORKER_KILL_GRACE"] = "1s",
                ["WORKER_METRICS_PORT"] = "0",
                // Shorter than a job (0.1 s), so that a SIGTERM lands on running jobs and exercises the
                // hand-back path (outcome 'released') instead of just waiting for them.
                ["WORKER_DRAIN_TIMEOUT"] = "50ms",
            };
            _workers.Add(new PlatformProcess(workerId, Binary(binDir, "jobplane-worker"), env, [],
                Path.Combine(logs, $"worker{i + 1}.log"), OnUnexpectedExit));
        }
    }

    public IReadOnlyList<PlatformProcess> Controllers => _controllers;
    public IReadOnlyList<string> ControllerUrls { get; }
    public IReadOnlyList<PlatformProcess> Workers => _workers;

    /// <summary>
    /// Held while the control plane's footing is taken away (a controller restart, the PostgreSQL
    /// crash), so that those never overlap: the run tests recovery, not total outage.
    /// </summary>
    public SemaphoreSlim Infrastructure { get; } = new(1, 1);

    public IReadOnlyList<UnexpectedExit> UnexpectedExits
    {
        get { lock (_unexpected) return [.. _unexpected]; }
    }

    /// <summary>The directory of the built binaries: $JOBPLANE_BIN, or bin/ at the repository root.</summary>
    public static string FindBinaries()
    {
        var dir = Environment.GetEnvironmentVariable("JOBPLANE_BIN");
        if (string.IsNullOrEmpty(dir))
        {
            var root = RepositoryRoot.TryFind();
            dir = root is null ? null : Path.Combine(root, "bin");
        }
        var missing = new[] { "jobplane-controller", "jobplane-worker" }
            .Where(b => dir is null || !File.Exists(Path.Combine(dir, b))).ToList();
        return missing.Count == 0
            ? Path.GetFullPath(dir!)
            : throw new SetupException($"{string.Join(" and ", missing)} not found in {dir ?? "<repository>/bin"}: run `make build-all` or set JOBPLANE_BIN");
    }

    /// <summary>
    /// Copies the binaries into <paramref name="dir"/> and returns it. Every life of every process
    /// then runs the same build, even if `make build-all` replaces ./bin while the run goes on
    /// (restarts would otherwise mix versions).
    /// </summary>
    public static string SnapshotBinaries(string from, string dir)
    {
        Directory.CreateDirectory(dir);
        foreach (var name in new[] { "jobplane-controller", "jobplane-worker" })
        {
            var target = Path.Combine(dir, name);
            File.Copy(Path.Combine(from, name), target);
            File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        return dir;
    }

    /// <summary>Starts both controllers at the same moment (both migrate: concurrent migration), then the workers.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        // An interrupted run is being torn down: processes ending then (Ctrl+C reaches them too) are expected.
        _cancelled = ct.Register(() => _stopping = true);
        foreach (var c in _controllers) c.Start();
        await Task.WhenAll(_controllers.Select((_, i) => WaitReadyAsync(i, ct)));
        _timeline.Say("platform", $"{ControllerCount} controllers ready ({string.Join(", ", ControllerUrls)}), both started with --migrate at once");
        foreach (var w in _workers) w.Start();
        await Task.WhenAll(_workers.Select(w => WaitWorkerUpAsync(w, ct)));
        _timeline.Say("platform", $"{_workers.Count} workers up, {_workers.Count / ControllerCount} on each controller");
    }

    /// <summary>The index of the controller a worker talks to.</summary>
    public static int ControllerOf(int worker) => worker % ControllerCount;

    /// <summary>
    /// Starts a worker (again) and waits until it is up: on a loaded machine a .NET process takes
    /// seconds to start, and a fault on a worker that never got going tests nothing. A worker that
    /// does not say so within the limit is let be (the run goes on; its log will tell).
    /// </summary>
    public async Task StartWorkerAsync(PlatformProcess worker, CancellationToken ct)
    {
        worker.Start();
        await WaitWorkerUpAsync(worker, ct);
    }

    private async Task WaitWorkerUpAsync(PlatformProcess worker, CancellationToken ct)
    {
        // The agent's first line ("Worker <id> starting: runtime exec, ..."), written once its host runs.
        if (!await worker.WaitForLogAsync($"Worker {worker.Name} starting", ReadyTimeout, ct) && worker.IsRunning)
            _timeline.Say("platform", $"!! {worker.Name} has not said it started after {ReadyTimeout.TotalSeconds:0}s; going on");
    }

    /// <summary>Waits until the controller answers /readyz (its database answers); fails if it exits meanwhile.</summary>
    public async Task WaitReadyAsync(int index, CancellationToken ct) =>
        await _controllers[index].WaitForHttpAsync(new Uri($"{ControllerUrls[index]}/readyz"), ReadyTimeout, ct);

    /// <summary>Starts a stopped controller on its old port and waits until it is ready.</summary>
    public async Task RestartControllerAsync(int index, CancellationToken ct)
    {
        _controllers[index].Start();
        await WaitReadyAsync(index, ct);
    }

    /// <summary>Stops everything in order: workers first (nothing more runs), then the controllers.</summary>
    public async Task StopAllAsync()
    {
        _stopping = true;
        await Task.WhenAll(_workers.Select(w => w.StopAsync(TimeSpan.FromSeconds(20))));
        await Task.WhenAll(_controllers.Select(c => c.StopAsync(TimeSpan.FromSeconds(35))));
    }

    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        await _cancelled.DisposeAsync();
        foreach (var p in _workers.Concat(_controllers)) await p.DisposeAsync();
        Infrastructure.Dispose();
    }

    private void OnUnexpectedExit(PlatformProcess process, int exitCode)
    {
        if (_stopping) return;
        lock (_unexpected) _unexpected.Add(new UnexpectedExit(Timeline.Now, process.Name, exitCode));
        _timeline.Say("platform", $"!! {process.Name} exited unexpectedly with code {exitCode}; the end of its log:");
        _timeline.Print(process.Tail(25));
        _ = Task.Run(() => RecoverAsync(process));
    }

    /// <summary>Starts a process that died on its own again, so that the run can still finish (the death is already counted).</summary>
    private async Task RecoverAsync(PlatformProcess process)
    {
        var controller = _controllers.IndexOf(process);
        await process.Gate.WaitAsync();
        try
        {
            if (_stopping || process.IsRunning) return;
            await Task.Delay(500);
            if (controller < 0)
            {
                await StartWorkerAsync(process, CancellationToken.None);
                return;
            }
            await Infrastructure.WaitAsync();
            try
            {
                await RestartControllerAsync(controller, CancellationToken.None);
            }
            finally
            {
                Infrastructure.Release();
            }
        }
        catch (Exception e)
        {
            _timeline.Say("platform", $"!! could not restart {process.Name}: {e.Message}");
        }
        finally
        {
            process.Gate.Release();
        }
    }

    private static string Binary(string dir, string name) => Path.Combine(dir, name);
}

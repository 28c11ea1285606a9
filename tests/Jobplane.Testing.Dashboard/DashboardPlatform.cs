using System.Globalization;
using Jobplane.Api;
using Jobplane.Client;
using Jobplane.Testing.Processes;
using Xunit;

namespace Jobplane.Testing.Dashboard;

/// <summary>A tenant made through the administration API: its API key and a client that uses it.</summary>
public sealed record PlatformTenant(Guid Id, string Name, string ApiKey, JobplaneClient Client);

/// <summary>
/// The platform the dashboard is served by, of real processes: the built controller
/// ($JOBPLANE_BIN/jobplane-controller --migrate) on a fresh real PostgreSQL database and a free
/// loopback port, and exec workers on demand. An xunit class fixture; the screenshot program drives
/// it by hand.
/// </summary>
public sealed class DashboardPlatform : IAsyncLifetime
{
    /// <summary>The administrator secret (SYSTEM_SECRET): it signs in to the dashboard as administrator.</summary>
    public const string AdminSecret = "dashboard-admin-secret-0123456789";
    public const string WorkerToken = "dashboard-worker-token-0123456789";

    private readonly List<ChildProcess> _processes = [];
    private readonly ExecWorkRoot _workRoot = new("jobplane-dashboard");
    private readonly HttpClient _http = new();
    private Task<ChildProcess>? _worker;

    public TestDatabase Database { get; } = new();
    public int Port { get; } = FreePort.Next();
    public Uri Url => new($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}");
    public ChildProcess Controller { get; private set; } = null!;

    /// <summary>The controller's settings; a caller may change them before <see cref="InitializeAsync"/>.</summary>
    public Dictionary<string, string?> ControllerSettings { get; } = new()
    {
        ["SYSTEM_SECRET"] = AdminSecret,
        ["WORKER_TOKEN"] = WorkerToken,
        ["MAINTENANCE_INTERVAL"] = "200ms",
        ["RETRY_BACKOFF_BASE"] = "200ms",
        ["RETRY_BACKOFF_MAX"] = "1s",
        // The tenants made here run exec jobs (by default tenants may use container runtimes only).
        ["TENANT_DEFAULT_RUNTIMES"] = "any",
    };

    /// <summary>The administration API, with <see cref="AdminSecret"/>.</summary>
    public JobplaneClient Admin { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        var env = new Dictionary<string, string?>(ControllerSettings)
        {
            ["DATABASE_URL"] = Database.ConnectionString,
            ["PORT"] = Port.ToString(CultureInfo.InvariantCulture),
        };
        Controller = Start("controller", "jobplane-controller", env, "--migrate");
        await Controller.WaitForHttpAsync(new Uri(Url, Routes.Readyz), TimeSpan.FromSeconds(30));
        Admin = new JobplaneClient(_http, Url, AdminSecret);
    }

    public async Task DisposeAsync()
    {
        foreach (var p in _processes) await p.DisposeAsync();
        _http.Dispose();
        await Database.DisposeAsync();
        await _workRoot.DisposeAsync();
    }

    /// <summary>
    /// Starts an exec worker (4 slots, heartbeats every second) and waits until it has said it is
    /// running; it shows on the workers page from its first heartbeat on.
    /// </summary>
    public async Task<ChildProcess> StartWorkerAsync(string workerId)
    {
        var worker = Start(workerId, "jobplane-worker", ExecWorkerSettings.For(Url.AbsoluteUri.TrimEnd('/'), WorkerToken, workerId, _workRoot.Path));
        // The agent's first line ("Worker <id> starting: runtime exec, ..."), written once its host runs.
        if (!await worker.WaitForOutputAsync($"Worker {workerId} starting", TimeSpan.FromSeconds(30)))
            throw new InvalidOperationException($"worker {workerId} did not start:\n{worker.Tail(30)}");
        return worker;
    }

    /// <summary>
    /// The platform's one exec worker, started by the first caller; later callers get the same one.
    /// Its id is unique on the host: an exec worker starting up ends the processes left by an earlier
    /// worker of its id, which would be another test class's running jobs.
    /// </summary>
    public Task<ChildProcess> WorkerAsync() => _worker ??= StartWorkerAsync($"worker-{Guid.NewGuid():N}"[..15]);

    /// <summary>Creates a tenant as the administrator; its API key signs in to the dashboard.</summary>
    public async Task<PlatformTenant> CreateTenantAsync(string name)
    {
        var created = (await Admin.CreateTenantAsync(new TenantRequest { Name = name }, CancellationToken.None)).Value;
        return new PlatformTenant(created.TenantId, created.Name, created.ApiKey, new JobplaneClient(_http, Url, created.ApiKey));
    }

    /// <summary>Creates an exec job of the tenant running <paramref name="command"/>.</summary>
    public static async Task<Guid> CreateJobAsync(PlatformTenant tenant, string name, IReadOnlyList<string> command, int maxAttempts = 1)
    {
        var request = new CreateJobRequest { Name = name, Image = "exec", Command = command, MaxAttempts = maxAttempts };
        return (await tenant.Client.CreateJobAsync(request, CancellationToken.None)).Value.JobId;
    }

    /// <summary>Creates a recurring schedule of the job, every <paramref name="intervalSeconds"/> (the first fire one interval from now).</summary>
    public static async Task<ScheduleView> CreateScheduleAsync(PlatformTenant tenant, string name, Guid jobId, int intervalSeconds = 3600) =>
        (await tenant.Client.CreateScheduleAsync(new ScheduleRequest { Name = name, JobId = jobId, IntervalSeconds = intervalSeconds }, CancellationToken.None)).Value;

    /// <summary>Creates a read-only API key of the tenant, as the administrator; it signs in to a dashboard that shows no action.</summary>
    public async Task<string> CreateReadOnlyKeyAsync(PlatformTenant tenant, string name = "viewer") =>
        (await Admin.CreateApiKeyAsync(tenant.Id, name, CancellationToken.None, readOnly: true)).Value.ApiKey;

    /// <summary>Submits a run of the job now and returns the new execution's id.</summary>
    public static async Task<Guid> RunAsync(PlatformTenant tenant, Guid jobId, RunJobRequest? request = null) =>
        (await tenant.Client.RunJobAsync(jobId, request ?? new RunJobRequest(), idempotencyKey: null, CancellationToken.None)).Value.ExecutionId;

    /// <summary>Reads the execution until its status is <paramref name="status"/>; fails after <paramref name="timeout"/>.</summary>
    public static async Task<ExecutionView> WaitForStatusAsync(PlatformTenant tenant, Guid executionId, string status, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        ExecutionView execution;
        do
        {
            execution = (await tenant.Client.GetExecutionAsync(executionId, CancellationToken.None)).Value;
            if (execution.Status == status) return execution;
            if (ExecutionStatus.IsTerminal(execution.Status))
                throw new InvalidOperationException($"execution {executionId} ended {execution.Status} (exit {execution.ExitCode}, {execution.Error}), not {status}");
            try { await Task.Delay(100, deadline.Token); }
            catch (OperationCanceledException) { break; }
        } while (true);
        throw new TimeoutException($"execution {executionId} still {execution.Status} after {timeout.TotalSeconds:0}s, not {status}");
    }

    private ChildProcess Start(string name, string binary, Dictionary<string, string?> env, params string[] args)
    {
        var p = ChildProcess.Start(new ChildProcessStart(name, PlatformBinaries.Locate(binary)) { Arguments = args, Environment = env });
        _processes.Add(p);
        return p;
    }
}

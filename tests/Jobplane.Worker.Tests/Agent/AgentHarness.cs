using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Jobplane.Api;
using Jobplane.Client;
using Jobplane.Testing;
using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Runtimes.Exec;
using Microsoft.Extensions.Logging.Abstractions;

namespace Jobplane.Worker.Tests.Agent;

/// <summary>
/// A worker agent with the real exec runtime, talking to the real controller hosted in-process on a
/// real PostgreSQL database, plus a tenant to submit work as. The worker's HTTP traffic passes
/// through a <see cref="NetworkSwitch"/> so that tests can cut the worker off from the controller.
/// </summary>
internal sealed class AgentHarness : IAsyncDisposable
{
    private readonly ControllerHost _host;
    private readonly string _workRoot = Directory.CreateTempSubdirectory("jobplane-agent-").FullName;
    private WorkerAgent? _agent;

    private AgentHarness(ControllerHost host, Guid tenantId, HttpClient tenant)
    {
        _host = host;
        TenantId = tenantId;
        Tenant = tenant;
    }

    public Guid TenantId { get; }
    public HttpClient Tenant { get; }
    public NetworkSwitch Network { get; private set; } = null!;

    /// <summary>Attempts the agent still holds (running or still reporting).</summary>
    public int RunningCount => _agent?.RunningCount ?? 0;

    /// <summary>
    /// Starts an agent with the exec runtime, or with <paramref name="runtime"/> made from its options;
    /// with <paramref name="onlyItsTenant"/>, it serves only its own tenant (as with WORKER_TENANTS), so
    /// that several agents on one controller each run only their own work.
    /// </summary>
    public static async Task<AgentHarness> StartAsync(ControllerHost host, TimeSpan? heartbeat = null,
        Func<WorkerOptions, IJobRuntime>? runtime = null, bool onlyItsTenant = false, int concurrency = 4)
    {
        var (created, tenant) = await host.TenantClientAsync();
        var harness = new AgentHarness(host, created.TenantId, tenant);
        harness.Start(heartbeat ?? TimeSpan.FromSeconds(1), runtime, onlyItsTenant ? [created.TenantId] : null, concurrency);
        return harness;
    }

    private void Start(TimeSpan heartbeat, Func<WorkerOptions, IJobRuntime>? makeRuntime, IReadOnlyList<Guid>? tenantIds, int concurrency)
    {
        var options = new WorkerOptions
        {
            ControllerUrl = _host.BaseAddress,
            WorkerToken = ControllerHost.WorkerToken,
            WorkerId = "agent-" + Guid.NewGuid().ToString("N")[..8],
            Concurrency = concurrency,
            PollWait = TimeSpan.FromSeconds(5),
            HeartbeatInterval = heartbeat,
            KillGrace = TimeSpan.FromSeconds(1),
            LogFlushInterval = TimeSpan.FromMilliseconds(50),
            WorkRoot = _workRoot,
            TenantIds = tenantIds,
        };
        var runtime = makeRuntime?.Invoke(options) ?? new AttemptSupervisor(new ExecRuntime(
            new ExecRuntimeOptions
            {
                WorkRoot = _workRoot,
                WorkerId = options.WorkerId,
                KillGrace = options.KillGrace,
                JobUsers = Environment.IsPrivilegedProcess ? JobUserRange.Default : null,
                RunAsWorkerUser = !Environment.IsPrivilegedProcess,
            },
            NullLogger.Instance, TimeProvider.System), NullLogger.Instance, TimeProvider.System);
        Network = new NetworkSwitch(_host.CreateHandler());
        var client = new WorkerClient(new HttpClient(Network), options.ControllerUrl, options.WorkerToken);
        _agent = new WorkerAgent(client, runtime, options, TimeProvider.System, NullLogger<WorkerAgent>.Instance);
        _ = _agent.StartAsync(CancellationToken.None);
    }

    public async Task<Guid> SubmitAsync(string name, IReadOnlyList<string> command, int? maxAttempts = null, int? timeout = null,
        string image = "exec", JobResources? resources = null, bool? network = null, bool? runAsRoot = null)
    {
        var created = await Tenant.PostAsJsonAsync(Routes.Jobs,
            new CreateJobRequest
            {
                Name = name,
                Image = image,
                Command = command,
                MaxAttempts = maxAttempts,
                Resources = resources,
                Network = network,
                RunAsRoot = runAsRoot
            },
            JobplaneJsonContext.Default.CreateJobRequest);
        created.EnsureSuccessStatusCode();
        var job = (await created.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.CreateJobResponse))!;
        var run = await Tenant.PostAsJsonAsync(Routes.Of(Routes.JobRun, job.JobId), new RunJobRequest { Timeout = timeout },
            JobplaneJsonContext.Default.RunJobRequest);
        run.EnsureSuccessStatusCode();
        return (await run.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.RunJobResponse))!.ExecutionId;
    }

    /// <summary>The administrator allows the harness's tenant network (its jobs may then ask for it).</summary>
    public async Task AllowNetworkAsync()
    {
        using var admin = _host.AdminClient();
        (await admin.PatchAsJsonAsync(Routes.Of(Routes.Tenant, TenantId), new TenantRequest { AllowNetwork = true },
            JobplaneJsonContext.Default.TenantRequest)).EnsureSuccessStatusCode();
    }

    public async Task<ExecutionView> WaitForAsync(Guid id, Func<ExecutionView, bool> done, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        ExecutionView view;
        do
        {
            view = (await Tenant.GetFromJsonAsync(Routes.Of(Routes.Execution, id), JobplaneJsonContext.Default.ExecutionView))!;
            if (done(view)) return view;
            await Task.Delay(50);
        } while (DateTime.UtcNow < deadline);
        throw new TimeoutException($"execution {id} is {view.Status} (attempt {view.Attempt}, error {view.Error})");
    }

    public async Task<List<LogEntry>> AllLogsAsync(Guid id)
    {
        var all = new List<LogEntry>();
        while (true)
        {
            var page = (await Tenant.GetFromJsonAsync(Routes.Of(Routes.ExecutionLogs, id) + $"?after_id={(all.Count == 0 ? 0 : all[^1].Id)}&limit=5000",
                JobplaneJsonContext.Default.LogPage))!;
            if (page.Logs.Count == 0) return all;
            all.AddRange(page.Logs);
        }
    }

    /// <summary>Waits for the job to print "pid N" (its shell's pid) and returns N.</summary>
    public async Task<int> JobPidAsync(Guid id, int attempt = 1)
    {
        for (var i = 0; i < 200; i++)
        {
            var lines = await AllLogsAsync(id);
            var line = lines.Where(l => l.Content.StartsWith("pid ", StringComparison.Ordinal)).Skip(attempt - 1).FirstOrDefault();
            if (line is not null) return int.Parse(line.Content[4..], CultureInfo.InvariantCulture);
            await Task.Delay(50);
        }
        throw new TimeoutException("the job never printed its pid");
    }

    /// <summary>True when the process is gone within the time given.</summary>
    public static async Task<bool> GoneWithinAsync(int pid, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (Directory.Exists($"/proc/{pid}"))
        {
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(50);
        }
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        if (_agent is not null)
        {
            await _agent.StopAsync(CancellationToken.None);
            _agent.Dispose();
        }
        Tenant.Dispose();
        Directory.Delete(_workRoot, recursive: true);
    }
}

/// <summary>
/// The worker's network link to the controller: real requests pass through until the test cuts the
/// link, then every call fails as a partition would make it fail.
/// </summary>
internal sealed class NetworkSwitch(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private volatile bool _cut;

    public void Cut() => _cut = true;

    public void Heal() => _cut = false;

    /// <summary>
    /// Answers a request in the controller's place when it returns a response (given the request
    /// and its body); null lets the request through.
    /// </summary>
    public Func<HttpRequestMessage, string, HttpResponseMessage?>? Answer { get; set; }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (_cut) throw new HttpRequestException("network partition (test)");
        if (Answer is { } answer)
        {
            var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
            if (answer(request, body) is { } response) return response;
        }
        return await base.SendAsync(request, cancellationToken);
    }

    /// <summary>An error answer as the controller writes them.</summary>
    public static HttpResponseMessage Error(HttpStatusCode status, string code, string message) =>
        new(status) { Content = JsonContent.Create(new ApiError(message, code), JobplaneJsonContext.Default.ApiError) };

    public static bool IsReport(HttpRequestMessage request) =>
        request.RequestUri?.AbsolutePath is { } path && (path.EndsWith("/result", StringComparison.Ordinal) || path.EndsWith(Routes.WorkerResults, StringComparison.Ordinal));
}

using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Jobplane.Api;
using Jobplane.Testing.Processes;

namespace Jobplane.Bench;

/// <summary>
/// The platform under measurement, made of the built binaries: a controller on a free loopback port
/// over the benchmark database (and, for scenarios that need them, further controller replicas on the
/// same database), and workers started and stopped per scenario. Also the tenant the benchmark
/// submits as, through the public API like any client.
/// </summary>
public sealed class BenchPlatform : IAsyncDisposable
{
    public const string AdminSecret = "bench-admin-secret-0123456789";
    public const string WorkerToken = "bench-worker-token-0123456789";

    private readonly BenchOptions _options;
    private readonly string _root;
    private readonly List<ChildProcess> _workers = [];
    private readonly List<ChildProcess> _replicas = [];
    private readonly IReadOnlyDictionary<string, string?> _controllerSettings;
    private int _workerCount;

    /// <param name="controllerSettings">Settings every controller of this platform gets on top of the harness's own (MAX_SCHEDULES_PER_TENANT, say).</param>
    public BenchPlatform(BenchOptions options, BenchDatabase database, string root, IReadOnlyDictionary<string, string?>? controllerSettings = null)
    {
        _options = options;
        _root = root;
        _controllerSettings = controllerSettings ?? new Dictionary<string, string?>();
        Database = database;
        Port = FreePort.Next();
        Http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{Port}"),
            Timeout = TimeSpan.FromSeconds(60),
        };
    }

    public BenchDatabase Database { get; }
    public int Port { get; }
    /// <summary>Authenticated as the benchmark tenant once <see cref="StartAsync"/> has run.</summary>
    public HttpClient Http { get; }
    public ChildProcess? Controller { get; private set; }
    /// <summary>Controllers started by <see cref="StartReplicaAsync"/>, besides <see cref="Controller"/>.</summary>
    public IReadOnlyList<ChildProcess> Replicas => _replicas;
    public Guid TenantId { get; private set; }
    public IReadOnlyList<ChildProcess> Workers => _workers;
    /// <summary>Peak resident memory of every worker stopped so far, in MiB.</summary>
    public List<double> WorkerPeaks { get; } = [];

    public async Task StartAsync()
    {
        Controller = Start("controller", "jobplane-controller", ControllerEnvironment(Port));
        await Controller.WaitForHttpAsync(new Uri(Http.BaseAddress!, "/readyz"), TimeSpan.FromSeconds(60));

        using var admin = new HttpRequestMessage(HttpMethod.Post, "/tenants")
        {
            Content = JsonContent.Create(new TenantRequest { Name = "bench" }, JobplaneJsonContext.Default.TenantRequest),
        };
        admin.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminSecret);
        using var created = await Http.SendAsync(admin);
        created.EnsureSuccessStatusCode();
        var tenant = (await created.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.CreateTenantResponse))!;
        TenantId = tenant.TenantId;
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tenant.ApiKey);
    }

    /// <summary>
    /// Starts one more controller on the same database, with the same settings, on a port of its own;
    /// the harness keeps talking to the first. Returns once it answers /readyz.
    /// </summary>
    public async Task<ChildProcess> StartReplicaAsync()
    {
        var port = FreePort.Next();
        var replica = Start($"controller{_replicas.Count + 2}", "jobplane-controller", ControllerEnvironment(port));
        _replicas.Add(replica);
        await replica.WaitForHttpAsync(new Uri($"http://127.0.0.1:{port}/readyz"), TimeSpan.FromSeconds(60));
        return replica;
    }

    private Dictionary<string, string?> ControllerEnvironment(int port)
    {
        var env = new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = Database.ConnectionString,
            ["PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["SYSTEM_SECRET"] = AdminSecret,
            ["WORKER_TOKEN"] = WorkerToken,
            // Peers are measured on image exec jobs (the default allows container runtimes only); any: unrestricted, so workers naming no runtime (noop) claim too.
            ["TENANT_DEFAULT_RUNTIMES"] = "any",
        };
        foreach (var (key, value) in _controllerSettings) env[key] = value;
        return env;
    }

    /// <summary>Creates (or finds) a job of the benchmark tenant.</summary>
    public async Task<Guid> CreateJobAsync(string name, params string[] command)
    {
        using var response = await Http.PostAsJsonAsync("/jobs",
            new CreateJobRequest { Name = name, Image = "exec", Command = command, MaxAttempts = 3 },
            JobplaneJsonContext.Default.CreateJobRequest);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.CreateJobResponse))!.JobId;
    }

    /// <summary>Submits <paramref name="count"/> executions through the batch route, 10,000 per request.</summary>
    public async Task SubmitManyAsync(Guid jobId, int count)
    {
        for (var done = 0; done < count;)
        {
            var n = Math.Min(_options.BatchSize, count - done);
            using var response = await Http.PostAsJsonAsync($"/jobs/{jobId}/runs", new BatchRunRequest { Count = n },
                JobplaneJsonContext.Default.BatchRunRequest);
            response.EnsureSuccessStatusCode();
            done += n;
        }
    }

    /// <summary>Cancels every unfinished execution of a job (what a scenario left queued).</summary>
    public async Task CancelJobAsync(Guid jobId)
    {
        using var response = await Http.PostAsync(new Uri($"/jobs/{jobId}/cancel", UriKind.Relative), null);
        response.EnsureSuccessStatusCode();
    }

    public IReadOnlyList<ChildProcess> StartWorkers(string runtime, int count, int concurrency)
    {
        var started = new List<ChildProcess>();
        for (var i = 0; i < count; i++)
        {
            var id = $"bench-{runtime}-{++_workerCount}";
            var metricsPort = FreePort.Next();
            var env = new Dictionary<string, string?>
            {
                ["CONTROLLER_URL"] = $"http://127.0.0.1:{Port}",
                ["WORKER_TOKEN"] = WorkerToken,
                ["WORKER_ID"] = id,
                ["RUNTIME"] = runtime,
                ["RUNTIME_WORKDIR"] = Path.Combine(_root, "work"),
                ["WORKER_CONCURRENCY"] = concurrency.ToString(CultureInfo.InvariantCulture),
                // A port of its own for each worker's /metrics: the harness reads their allocations there.
                ["WORKER_METRICS_PORT"] = metricsPort.ToString(CultureInfo.InvariantCulture),
            };
            var worker = Start(id, "jobplane-worker", env);
            _workerMetrics[worker.Pid] = new Uri($"http://127.0.0.1:{metricsPort}/metrics");
            _workers.Add(worker);
            started.Add(worker);
        }
        return started;
    }

    private readonly Dictionary<int, Uri> _workerMetrics = [];

    /// <summary>Managed bytes allocated so far by a worker this platform started; null when its /metrics does not say.</summary>
    public Task<double?> WorkerAllocatedBytesAsync(ChildProcess worker) =>
        _workerMetrics.TryGetValue(worker.Pid, out var uri) ? RuntimeAllocations.ReadAsync(uri) : Task.FromResult<double?>(null);

    /// <summary>Managed bytes allocated so far by the first controller; null when its /metrics does not say.</summary>
    public Task<double?> ControllerAllocatedBytesAsync() => RuntimeAllocations.ReadAsync(new Uri(Http.BaseAddress!, "/metrics"), AdminSecret);

    public async Task StopWorkersAsync()
    {
        foreach (var w in _workers)
        {
            // Read before it stops: /proc forgets a process once it has ended.
            if (ProcessMemory.Read(w.Pid) is { Peak: > 0 } memory) WorkerPeaks.Add(memory.Peak);
            await w.StopAsync(TimeSpan.FromSeconds(20));
            await w.DisposeAsync();
        }
        _workers.Clear();
    }

    public void ThrowIfDied()
    {
        if (Controller is { HasExited: true }) throw new InvalidOperationException($"the controller exited:\n{Controller.Tail(30)}");
        foreach (var r in _replicas)
        {
            if (r.HasExited) throw new InvalidOperationException($"controller {r.Name} exited:\n{r.Tail(30)}");
        }
        foreach (var w in _workers)
        {
            if (w.HasExited) throw new InvalidOperationException($"worker {w.Name} exited:\n{w.Tail(30)}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopWorkersAsync();
        foreach (var r in _replicas)
        {
            await r.StopAsync(TimeSpan.FromSeconds(35));
            await r.DisposeAsync();
        }
        _replicas.Clear();
        if (Controller is not null)
        {
            await Controller.StopAsync(TimeSpan.FromSeconds(35));
            await Controller.DisposeAsync();
        }
        Http.Dispose();
    }

    /// <summary>
    /// Starts a binary with its output appended to a log file (no pipe for us to drain while we
    /// measure) and a clean environment, plus any BENCH_PLATFORM_DOTNET_X given to the harness as
    /// DOTNET_X: a .NET runtime setting tried on the platform's processes only, not on the harness's.
    /// </summary>
    private ChildProcess Start(string name, string binary, Dictionary<string, string?> env)
    {
        var path = Path.Combine(_options.BinDirectory, binary);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} not found: run `make build-all` (make bench does) or set JOBPLANE_BIN");
        foreach (var (key, value) in RuntimeSettings()) env.TryAdd(key, value);
        return ChildProcess.Start(new ChildProcessStart(name, path) { Environment = env, LogPath = Path.Combine(_root, $"{name}.log") });
    }

    private static IEnumerable<KeyValuePair<string, string?>> RuntimeSettings()
    {
        const string prefix = "BENCH_PLATFORM_";
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            if (e.Key is string key && key.StartsWith(prefix + "DOTNET_", StringComparison.Ordinal))
                yield return KeyValuePair.Create(key[prefix.Length..], e.Value as string);
        }
    }
}

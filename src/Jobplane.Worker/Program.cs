using Jobplane.Client;
using Jobplane.Worker;
using Jobplane.Worker.Observability;
using Jobplane.Worker.Runtimes;

// jobplane-worker: the data plane. Speaks only the worker API of the controller; needs no database.

// The result container of a kubernetes attempt: judges one result.json and prints it as one line.
// Before anything else, because it runs in the job's pod, with no worker settings and no credential.
if (args is [Jobplane.Worker.Runtimes.Kubernetes.ResultReader.Mode, ..])
    return Jobplane.Worker.Runtimes.Kubernetes.ResultReader.Run(args, Console.Out, Console.Error);

WorkerOptions options;
try
{
    options = WorkerOptions.FromEnvironment(Environment.GetEnvironmentVariable);
}
catch (InvalidOperationException e)
{
    await Console.Error.WriteLineAsync($"jobplane-worker: {e.Message}");
    return 2;
}

// Nothing running as this user (a job, where the operator let jobs run as the worker's own user)
// may read this process's memory or environment (the worker credential) through ptrace or /proc.
var dumpable = LibC.MakeNonDumpable();
if (dumpable != 0)
{
    await Console.Error.WriteLineAsync($"jobplane-worker: cannot make the worker non-dumpable: {LibC.Describe(dumpable)}");
    return 2;
}
// Files the worker and its jobs create are private unless made otherwise on purpose: a job's file
// in /tmp is not readable by another attempt's user.
LibC.Umask(0b000_111_111);

if (options.ExecJobUsers is not null)
{
    var limited = LibC.LimitProcessesPerUser((ulong)options.ExecMaxProcesses);
    if (limited != 0)
    {
        await Console.Error.WriteLineAsync($"jobplane-worker: cannot limit the processes of job users: {LibC.Describe(limited)}");
        return 2;
    }
}

// The work root is the worker's private folder, created here; one it cannot trust (a link on the
// way, another user's, writable by others) stops the start rather than any delete going astray.
// Job users pass through it to their folders (0711); nobody else enters (0700).
if (WorkRoot.Prepare(options.WorkRoot, traversable: options.ExecJobUsers is not null && options.Docker is null) is { } workRootProblem)
{
    await Console.Error.WriteLineAsync($"jobplane-worker: {workRootProblem}");
    return 2;
}

WorkerIdentityLock identity;
try
{
    identity = WorkerIdentityLock.Acquire(options.WorkRoot, options.WorkerId);
}
catch (InvalidOperationException e)
{
    await Console.Error.WriteLineAsync($"jobplane-worker: {e.Message}");
    return 2;
}

using (identity)
{
    var builder = Host.CreateApplicationBuilder(args);
    // Logs (LOG_FORMAT), traces (OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set), metrics (WORKER_METRICS_PORT).
    builder.AddWorkerObservability(options);
    // Per-request HttpClient chatter would drown the lines about jobs.
    builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);
    builder.Services.AddSingleton(options);
    builder.Services.AddSingleton(TimeProvider.System);
    // WorkerOptions accepts only registered names.
    RuntimeRegistry.Find(options.Runtime)!.AddServices(builder.Services, options);
    // Every request names this worker's version (User-Agent jobplane-worker/<version>) for the controller's registry.
    // Without the client factory's request loggers: their lines are all below the Warning filter
    // above, but each request still paid for their scope.
    builder.Services.AddHttpClient(nameof(WorkerClient)).RemoveAllLoggers().AddTypedClient(http =>
        new WorkerClient(http, options.ControllerUrl, options.WorkerToken, WorkerVersion.UserAgent));
    builder.Services.AddHostedService<WorkerAgent>();
    // Long enough to drain running jobs, stop the rest and hand their leases back.
    builder.Services.Configure<HostOptions>(o =>
        o.ShutdownTimeout = options.DrainTimeout + options.KillGrace + TimeSpan.FromSeconds(15));

    await builder.Build().RunAsync();
}
return 0;

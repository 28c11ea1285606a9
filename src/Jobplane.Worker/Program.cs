using Jobplane.Worker;
using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Runtimes.Exec;
using Jobplane.Worker.Runtimes.Noop;

// jobplane-worker: the data plane. Speaks only the worker API of the controller; needs no database.
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
    builder.Logging.AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.IncludeScopes = true;
        o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
        o.UseUtcTimestamp = true;
    });
    // Per-request HttpClient chatter would drown the lines about jobs.
    builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);
    builder.Services.AddSingleton(options);
    builder.Services.AddSingleton(TimeProvider.System);
    builder.Services.AddSingleton(new ExecRuntimeOptions
    {
        WorkRoot = options.WorkRoot,
        WorkerId = options.WorkerId,
        KillGrace = options.KillGrace,
    });
    if (options.Runtime == NoopRuntime.RuntimeName) builder.Services.AddSingleton<IJobRuntime, NoopRuntime>();
    else builder.Services.AddSingleton<IJobRuntime, ExecRuntime>();
    builder.Services.AddHttpClient<ControllerClient>();
    builder.Services.AddHostedService<WorkerAgent>();
    // Long enough to drain running jobs, stop the rest and hand their leases back.
    builder.Services.Configure<HostOptions>(o =>
        o.ShutdownTimeout = options.DrainTimeout + options.KillGrace + TimeSpan.FromSeconds(15));

    await builder.Build().RunAsync();
}
return 0;

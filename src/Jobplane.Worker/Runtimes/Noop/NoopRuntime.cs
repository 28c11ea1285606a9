namespace Jobplane.Worker.Runtimes.Noop;

/// <summary>
/// A benchmarking tool, not a way to run jobs: every attempt succeeds at once (exit code 0) without
/// starting anything, so that a benchmark measures the platform (claim, heartbeat, report) rather
/// than process or container start-up. Selected with RUNTIME=noop.
/// <para>It is not a runtime tenants can be restricted to: a worker with this runtime claims only
/// work of tenants without an allowed_runtimes restriction.</para>
/// </summary>
public sealed class NoopRuntime : IJobRuntime
{
    public const string RuntimeName = "noop";

    public static RuntimeRegistration Registration { get; } =
        new(RuntimeName, (services, _) => services.AddSingleton<IJobRuntime, NoopRuntime>(), ForBenchmarks: true);

    private static readonly Task<RunOutcome> Done = Task.FromResult(new RunOutcome { ExitCode = 0 });
    private static readonly Task<RunOutcome> Stopped = Task.FromResult(new RunOutcome { Stopped = true, Error = "stopped by the worker" });

    public string Name => RuntimeName;

    public Task<RunOutcome> RunAsync(RunSpec spec, ILogSink logs, CancellationToken stop, CancellationToken kill = default) =>
        stop.IsCancellationRequested ? Stopped : Done;

    public Task CleanupOrphansAsync(CancellationToken ct) => Task.CompletedTask;
}

namespace Jobplane.Worker.Runtimes.Exec;

/// <summary>
/// One exec attempt: the job's process, which leads its own session and process group from its
/// first instruction on, so that a signal to the group reaches everything the job started.
/// </summary>
internal sealed class ExecUnit : IRuntimeUnit
{
    /// <summary>
    /// How long the output pipes may stay open once the job's group is dead. Only a process that
    /// left the group (its own session) can still hold them; what remains in the pipes themselves
    /// is at most a pipe buffer and reads in microseconds.
    /// </summary>
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan GroupPollInterval = TimeSpan.FromMilliseconds(50);

    private readonly JobProcess _process;
    private readonly ProcessGroup _group;
    private readonly OutputPumps _pumps;
    private readonly RunSpec _spec;
    private readonly Microsoft.Extensions.Logging.ILogger _logger;
    private readonly TimeProvider _time;

    public ExecUnit(JobProcess process, OutputPumps pumps, RunSpec spec, Microsoft.Extensions.Logging.ILogger logger, TimeProvider time)
    {
        _process = process;
        _group = new ProcessGroup(process.Pid);
        _pumps = pumps;
        _spec = spec;
        _logger = logger;
        _time = time;
        Exited = process.WaitForExitAsync(CancellationToken.None);
    }

    public int GroupId => _group.Id;

    public string Description => $"process group {_group.Id}";

    public Task Exited { get; }

    public CancellationToken OutputFaulted => _pumps.Faulted;

    public Task SignalAsync(UnitSignal signal)
    {
        _group.Signal(signal == UnitSignal.Kill ? LibC.SIGKILL : LibC.SIGTERM);
        return Task.CompletedTask;
    }

    public async Task WaitGoneAsync(CancellationToken ct)
    {
        while (_group.IsAlive()) await Task.Delay(GroupPollInterval, _time, ct);
    }

    public async Task FinishOutputAsync()
    {
        // Background children of a job that exited by itself die with the attempt, and once the
        // group is gone nothing but an escaped process can keep the output pipes open.
        _group.Signal(LibC.SIGKILL);
        if (!await _pumps.DrainAsync(DrainLimit, _time))
            ExecRuntimeLog.OutputHeldOpen(_logger, _spec.ExecutionId, _spec.Attempt);
        _pumps.ThrowIfFaulted();
    }

    public Task<UnitExit> CollectAsync(bool endedByItself) => Task.FromResult(UnitExit.Of(_process.ExitCode));

    public async ValueTask DisposeAsync()
    {
        // Also on a worker-side exception: nothing of the job may outlive the attempt.
        _group.Signal(LibC.SIGKILL);
        _process.Kill();
        await _process.WaitForExitAsync(CancellationToken.None);
        _process.Dispose();
    }
}

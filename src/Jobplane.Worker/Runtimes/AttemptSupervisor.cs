using Microsoft.Extensions.Logging;

namespace Jobplane.Worker.Runtimes;

/// <summary>
/// Owns the lifetime of every attempt, whatever runs it: checks the spec, has the runtime start a
/// unit in a fresh attempt folder, ends it on timeout, stop or lost lease (SIGTERM, then SIGKILL
/// after the grace period; SIGKILL at once when the lease is lost), reads its output to the end,
/// judges its exit code and result.json, and removes the unit and the folder whatever happened.
/// A runtime (<see cref="IRuntimeDriver"/>) supplies only what differs.
/// </summary>
public sealed class AttemptSupervisor : IJobRuntime, IDisposable
{
    private readonly IRuntimeDriver _driver;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    public AttemptSupervisor(IRuntimeDriver driver, ILogger logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(driver);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(time);
        _driver = driver;
        _logger = logger;
        _time = time;
    }

    public string Name => _driver.Name;

    public Api.WorkerCapabilities? Capabilities => _driver.Capabilities;

    public void Dispose() => (_driver as IDisposable)?.Dispose();

    public async Task<RunOutcome> RunAsync(RunSpec spec, ILogSink logs, CancellationToken stop, CancellationToken kill = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(logs);
        var invalid = _driver.Validate(spec) ?? ValidateShared(spec);
        if (invalid is not null) return RunOutcomes.Refused(invalid);
        if (stop.IsCancellationRequested) return RunOutcomes.Stopped(exitCode: null);

        using var folder = new AttemptFolder(_driver.WorkerRoot, spec, _logger);
        UnitStart start;
        try
        {
            using (RuntimeTracing.Start(Name, "start"))
                start = await _driver.StartAsync(spec, folder, logs, stop);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return RunOutcomes.Stopped(exitCode: null);
        }
        if (start.Unit is null) return start.Outcome!;

        // Disposed before the folder: nothing of the attempt may be alive while its files are removed.
        await using var unit = start.Unit;
        Ending ending;
        using (RuntimeTracing.Start(Name, "wait"))
            ending = await WaitForEndAsync(spec, unit, stop, kill);
        await unit.FinishOutputAsync();
        var exit = await unit.CollectAsync(endedByItself: ending == Ending.Exited);
        return ending switch
        {
            Ending.TimedOut => RunOutcomes.TimedOut(exit.ExitCode, spec.Timeout),
            Ending.Stopped => RunOutcomes.Stopped(exit.ExitCode),
            _ => Judge(exit, folder.Path),
        };
    }

    public Task CleanupOrphansAsync(CancellationToken ct) => _driver.CleanupOrphansAsync(ct);

    public Task CleanupOrphansAsync(IReadOnlySet<Guid> keep, CancellationToken ct) => _driver.CleanupOrphansAsync(keep, ct);

    public Task<IReadOnlyList<ResumableAttempt>> FindResumableAsync(CancellationToken ct) => _driver.FindResumableAsync(ct);

    private enum Ending
    {
        Exited,
        TimedOut,
        Stopped,
    }

    private async Task<Ending> WaitForEndAsync(RunSpec spec, IRuntimeUnit unit, CancellationToken stop, CancellationToken kill)
    {
        using var timeout = RuntimeGuards.TimeoutSource(spec.Timeout, _time);
        using var end = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token, unit.OutputFaulted);
        try
        {
            await unit.Exited.WaitAsync(end.Token);
            return Ending.Exited;
        }
        catch (OperationCanceledException) when (end.IsCancellationRequested)
        {
            // Timeout, stop or a broken log sink: handled below.
        }

        // The unit finished by itself at the same moment: it was neither timed out nor stopped.
        if (unit.Exited.IsCompletedSuccessfully) return Ending.Exited;
        if (unit.OutputFaulted.IsCancellationRequested)
        {
            // The worker itself is failing; the caller gets the exception, the job no grace.
            await unit.SignalAsync(UnitSignal.Kill);
            await unit.Exited;
            return Ending.Exited;
        }

        Ending ending;
        if (stop.IsCancellationRequested)
        {
            ending = Ending.Stopped;
            RuntimeLog.Stopping(_logger, spec.ExecutionId, spec.Attempt, unit.Description);
        }
        else
        {
            ending = Ending.TimedOut;
            RuntimeLog.TimingOut(_logger, spec.ExecutionId, spec.Attempt, OutcomeText.FormatDuration(spec.Timeout), unit.Description);
        }
        await TerminateAsync(unit, kill);
        return ending;
    }

    /// <summary>
    /// SIGTERM to the whole unit, then SIGKILL once the grace period is over if anything is left;
    /// SIGKILL at once (or as soon as it is asked for during the grace period) when <paramref name="kill"/>
    /// is cancelled: the lease is lost and another attempt may already be running.
    /// </summary>
    private async Task TerminateAsync(IRuntimeUnit unit, CancellationToken kill)
    {
        if (!kill.IsCancellationRequested)
        {
            await unit.SignalAsync(UnitSignal.Terminate);
            using var graceTimer = new CancellationTokenSource(_driver.KillGrace, _time);
            using var grace = CancellationTokenSource.CreateLinkedTokenSource(graceTimer.Token, kill);
            try
            {
                await unit.Exited.WaitAsync(grace.Token);
                await unit.WaitGoneAsync(grace.Token);
                return;
            }
            catch (OperationCanceledException) when (grace.IsCancellationRequested)
            {
                // Grace period over, or a kill was asked for.
            }
        }
        RuntimeLog.Killing(_logger, unit.Description, OutcomeText.FormatDuration(kill.IsCancellationRequested ? TimeSpan.Zero : _driver.KillGrace));
        await unit.SignalAsync(UnitSignal.Kill);
        await unit.Exited;
    }

    /// <summary>
    /// A unit that ended by itself is judged on both its exit and its result.json; one cut short
    /// by a timeout or a stop has no trustworthy result and is never read.
    /// </summary>
    private static RunOutcome Judge(UnitExit exit, string folder)
    {
        if (exit.HandBack) return RunOutcomes.HandedBack(exit.Error ?? "the attempt was ended by its platform");
        var result = exit.Result ?? ResultFile.Read(folder);
        if (result.Error is not null)
        {
            return new RunOutcome
            {
                ExitCode = exit.ExitCode,
                Error = exit.Error is null ? result.Error : $"{exit.Error}; {result.Error}",
                // The same job would write the same refused file again.
                Retryable = false,
            };
        }
        return new RunOutcome { ExitCode = exit.ExitCode, Error = exit.Error, Result = result.Result, Retryable = !exit.Final };
    }

    /// <summary>Problems with the spec itself that every runtime refuses; no retry can fix them.</summary>
    private static string? ValidateShared(RunSpec spec)
    {
        var command = spec.Command ?? [];
        for (var i = 0; i < command.Count; i++)
        {
            if (command[i] is null) return $"command element {i} is null";
            if (command[i].Contains('\0')) return $"command element {i} contains a NUL character";
        }
        if (spec.Timeout <= TimeSpan.Zero && spec.Timeout != Timeout.InfiniteTimeSpan)
            return $"timeout must be positive (got {OutcomeText.FormatDuration(spec.Timeout)})";
        foreach (var (name, value) in spec.ExtraEnvironment ?? new Dictionary<string, string>())
        {
            if (name.Length == 0 || name.AsSpan().IndexOfAny('=', '\0') >= 0)
                return $"environment variable name '{name}' is invalid";
            if (value is null || value.Contains('\0'))
                return $"environment variable '{name}' has an invalid value";
        }
        return null;
    }
}

using System.Globalization;

namespace Jobplane.Faults;

public enum FaultKind
{
    /// <summary>SIGKILL a worker, start it again (same WORKER_ID) after a short pause.</summary>
    WorkerKill,
    /// <summary>SIGSTOP a worker for longer than its lease, then SIGCONT: a partition as the controller sees it.</summary>
    WorkerPause,
    /// <summary>SIGTERM a worker (it drains for 50 ms, then hands its leases back), start it again.</summary>
    WorkerTerm,
    /// <summary>SIGKILL a controller, start it again on the same port.</summary>
    ControllerKill,
    /// <summary>SIGTERM a controller (graceful shutdown), start it again on the same port.</summary>
    ControllerTerm,
    /// <summary>Crash PostgreSQL (stop -m immediate) and start it again: exactly once per run.</summary>
    PostgresCrash,
}

/// <summary>One injected fault: what, to whom, when it hit (wall clock, right after the signal) and when it was undone.</summary>
public sealed class Fault
{
    public required FaultKind Kind { get; init; }
    public required string Target { get; init; }
    public int? Pid { get; init; }
    public required DateTimeOffset InjectedAt { get; init; }
    public DateTimeOffset? RestoredAt { get; set; }
}

/// <summary>
/// The nemesis: a seeded random schedule of faults while the work runs. It is bounded three ways:
/// by count (4 + N/8 faults), by time (the submission phase plus 30 s), and by the work (it stops
/// once every submission is acknowledged and terminal). It never takes away more than half of the
/// workers at once nor more than one of controller and PostgreSQL at once (see
/// <see cref="Platform.Infrastructure"/>): the run tests recovery, and must end. The first faults go
/// through every kind once, so each run covers them all; the PostgreSQL crash happens exactly once,
/// at a seeded moment between a quarter and 60% of the submission phase, and controller restarts
/// only after it. Every fault is undone before <see cref="RunAsync"/> returns.
/// </summary>
public sealed class Nemesis(Platform platform, PrivatePostgres postgres, Timeline timeline, int seed, TimeSpan submitPhase, int executions)
{
    private static readonly TimeSpan ExtraTime = TimeSpan.FromSeconds(30);
    private readonly List<Fault> _faults = [];
    private readonly List<string> _restoreFailures = [];

    public IReadOnlyList<Fault> Faults
    {
        get { lock (_faults) return [.. _faults]; }
    }

    /// <summary>Faults that could not be undone (a process that would not come back): the run cannot be trusted then.</summary>
    public IReadOnlyList<string> RestoreFailures
    {
        get { lock (_restoreFailures) return [.. _restoreFailures]; }
    }

    public int MaxFaults => 4 + executions / 8;

    public async Task RunAsync(Func<bool> workDone, CancellationToken ct)
    {
        var rng = new Random(seed);
        var deadline = timeline.Elapsed + submitPhase + ExtraTime;
        var crashAt = timeline.Elapsed + submitPhase * (0.25 + 0.35 * rng.NextDouble());
        // Every kind once first (the controller last: it may only come after the crash), so that each
        // run covers them all whatever the seed.
        var firstRound = new Queue<FaultKind>(
            new[] { FaultKind.WorkerKill, FaultKind.WorkerPause, FaultKind.WorkerTerm }.OrderBy(_ => rng.Next())
                .Append(rng.Next(2) == 0 ? FaultKind.ControllerKill : FaultKind.ControllerTerm));
        var active = new List<Task>();
        var injected = 0;
        var crashed = false;
        Task? crash = null;
        timeline.Say("nemesis", string.Create(CultureInfo.InvariantCulture,
            $"seed {seed}: at most {MaxFaults} faults until {timeline.Offset(timeline.StartedAt + deadline)}; PostgreSQL crash planned at {timeline.Offset(timeline.StartedAt + crashAt)}"));
        try
        {
            // Let work start flowing before the first fault.
            await Task.Delay(TimeSpan.FromMilliseconds(rng.Next(1000, 2000)), ct);
            while (true)
            {
                if (!crashed && timeline.Elapsed >= crashAt)
                {
                    crash = PostgresCrashAsync(TimeSpan.FromMilliseconds(rng.Next(500, 2000)), ct);
                    active.Add(crash);
                    crashed = true;
                    injected++;
                }
                else if (timeline.Elapsed >= deadline || injected >= MaxFaults || workDone())
                {
                    break;
                }
                else
                {
                    // Controller restarts only once the crash is over: a restart can take tens of seconds
                    // on a loaded machine, and the crash must land on the whole control plane mid-work.
                    var controllersAllowed = crash is { IsCompleted: true };
                    Task? fault;
                    if (firstRound.Count == 0)
                    {
                        fault = TryInject(Pick(rng), controllersAllowed, rng, ct);
                    }
                    else
                    {
                        var first = firstRound.Peek();
                        fault = TryInject(first, controllersAllowed, rng, ct);
                        if (fault is not null) firstRound.Dequeue();
                        // A controller fault waiting for the crash lets worker faults go on meanwhile; one
                        // waiting for its targets does not: fresh faults would keep them busy for ever.
                        else if (IsController(first) && !controllersAllowed) fault = TryInject(Pick(rng), false, rng, ct);
                    }
                    if (fault is not null)
                    {
                        active.Add(fault);
                        injected++;
                    }
                }
                active.RemoveAll(t => t.IsCompleted);
                await Task.Delay(TimeSpan.FromMilliseconds(rng.Next(1000, 2500)), ct);
            }
            // Exactly once, whatever ended the loop.
            if (!crashed) active.Add(PostgresCrashAsync(TimeSpan.FromMilliseconds(rng.Next(500, 2000)), ct));
        }
        finally
        {
            // Undo what is in progress even when the run is being cancelled.
            await Task.WhenAll(active);
        }
        var notUndone = RestoreFailures.Count;
        timeline.Say("nemesis", notUndone == 0
            ? $"done: {Faults.Count} faults injected, all undone"
            : $"done: {Faults.Count} faults injected, !! {notUndone} could not be undone");
    }

    private static bool IsController(FaultKind kind) => kind is FaultKind.ControllerKill or FaultKind.ControllerTerm;

    private static FaultKind Pick(Random rng) => rng.Next(100) switch
    {
        < 35 => FaultKind.WorkerKill,
        < 65 => FaultKind.WorkerPause,
        < 80 => FaultKind.WorkerTerm,
        < 90 => FaultKind.ControllerKill,
        _ => FaultKind.ControllerTerm,
    };

    /// <summary>Starts the fault on a free target, or returns null when none is free. Parameters are drawn here, from the seeded generator.</summary>
    private Task? TryInject(FaultKind kind, bool controllersAllowed, Random rng, CancellationToken ct)
    {
        if (IsController(kind))
        {
            var index = rng.Next(platform.Controllers.Count);
            var pause = TimeSpan.FromMilliseconds(rng.Next(200, 1500));
            // A controller down idles its workers: they count against the bound like faulted ones.
            var idled = Enumerable.Range(0, platform.Workers.Count).Where(w => Platform.ControllerOf(w) == index);
            if (!controllersAllowed || !WithinBound(idled)) return null;
            if (!platform.Infrastructure.Wait(0, CancellationToken.None)) return null;
            if (!platform.Controllers[index].Gate.Wait(0, CancellationToken.None))
            {
                platform.Infrastructure.Release();
                return null;
            }
            return ControllerFaultAsync(index, kind, pause, ct);
        }

        var free = Enumerable.Range(0, platform.Workers.Count).Where(w => platform.Workers[w].Gate.CurrentCount > 0).ToList();
        int? pick = free.Count == 0 ? null : free[rng.Next(free.Count)];
        var duration = kind == FaultKind.WorkerPause
            ? TimeSpan.FromMilliseconds(rng.Next(4500, 6000)) // longer than the 3 s lease
            : TimeSpan.FromMilliseconds(rng.Next(200, 2000));
        if (pick is not { } chosen || !WithinBound([chosen])) return null;
        var target = platform.Workers[chosen];
        if (!target.Gate.Wait(0, CancellationToken.None)) return null;
        return kind switch
        {
            FaultKind.WorkerKill => WorkerKillAsync(target, duration, Signals.SIGKILL, kind, ct),
            FaultKind.WorkerTerm => WorkerKillAsync(target, duration, Signals.SIGTERM, kind, ct),
            _ => WorkerPauseAsync(target, duration, ct),
        };
    }

    /// <summary>
    /// True when, with <paramref name="more"/> workers taken out too, at most half of the workers are
    /// out of action: faulted (a fault holds them, which includes booting after a restart) or idled
    /// by their controller being down. The other half always has a working path to the queue.
    /// </summary>
    private bool WithinBound(IEnumerable<int> more)
    {
        var down = Enumerable.Range(0, platform.Controllers.Count).Where(c => platform.Controllers[c].Gate.CurrentCount == 0).ToHashSet();
        var impaired = Enumerable.Range(0, platform.Workers.Count)
            .Where(w => platform.Workers[w].Gate.CurrentCount == 0 || down.Contains(Platform.ControllerOf(w)))
            .Concat(more)
            .ToHashSet();
        return impaired.Count <= Math.Max(1, platform.Workers.Count / 2);
    }

    private async Task WorkerKillAsync(PlatformProcess worker, TimeSpan pause, int signal, FaultKind kind, CancellationToken ct)
    {
        try
        {
            var pid = worker.Pid;
            if (!worker.Signal(signal)) return;
            var fault = Record(kind, worker.Name, pid);
            timeline.Say("nemesis", $"{Signals.Name(signal)} {worker.Name} (pid {pid}); restart in {Seconds(pause)}");
            // A draining worker hands its leases back and exits within about a second; give it far more.
            if (!await worker.WaitForExitAsync(TimeSpan.FromSeconds(30), CancellationToken.None))
            {
                timeline.Say("nemesis", $"!! {worker.Name} still running 30s after {Signals.Name(signal)}; killing it");
                worker.Signal(Signals.SIGKILL);
                await worker.WaitForExitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
            }
            await Delay(pause, ct);
            await platform.StartWorkerAsync(worker, ct);
            fault.RestoredAt = Timeline.Now;
            timeline.Say("nemesis", $"restarted {worker.Name} (pid {worker.Pid}, same WORKER_ID), up after {Seconds(fault.RestoredAt.Value - fault.InjectedAt)}");
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            RestoreFailed(worker.Name, e);
        }
        finally
        {
            worker.Gate.Release();
        }
    }

    private async Task WorkerPauseAsync(PlatformProcess worker, TimeSpan hold, CancellationToken ct)
    {
        try
        {
            var pid = worker.Pid;
            if (!worker.Signal(Signals.SIGSTOP)) return;
            var fault = Record(FaultKind.WorkerPause, worker.Name, pid);
            timeline.Say("nemesis", $"SIGSTOP {worker.Name} (pid {pid}) for {Seconds(hold)}");
            await Delay(hold, ct);
            worker.Signal(Signals.SIGCONT);
            fault.RestoredAt = Timeline.Now;
            timeline.Say("nemesis", $"SIGCONT {worker.Name}");
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            RestoreFailed(worker.Name, e);
        }
        finally
        {
            // Resumed on every way out: a worker left stopped would hold the run hostage.
            worker.Signal(Signals.SIGCONT);
            worker.Gate.Release();
        }
    }

    private async Task ControllerFaultAsync(int index, FaultKind kind, TimeSpan pause, CancellationToken ct)
    {
        var controller = platform.Controllers[index];
        try
        {
            var signal = kind == FaultKind.ControllerKill ? Signals.SIGKILL : Signals.SIGTERM;
            var pid = controller.Pid;
            if (!controller.Signal(signal)) return;
            var fault = Record(kind, controller.Name, pid);
            timeline.Say("nemesis", $"{Signals.Name(signal)} {controller.Name} (pid {pid}); restart in {Seconds(pause)}");
            if (!await controller.WaitForExitAsync(TimeSpan.FromSeconds(40), CancellationToken.None))
            {
                timeline.Say("nemesis", $"!! {controller.Name} still running 40s after {Signals.Name(signal)}; killing it");
                controller.Signal(Signals.SIGKILL);
                await controller.WaitForExitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
            }
            await Delay(pause, ct);
            await platform.RestartControllerAsync(index, ct);
            fault.RestoredAt = Timeline.Now;
            timeline.Say("nemesis", $"restarted {controller.Name} (pid {controller.Pid}, same port), ready after {Seconds(fault.RestoredAt.Value - fault.InjectedAt)}");
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            RestoreFailed(controller.Name, e);
        }
        finally
        {
            controller.Gate.Release();
            platform.Infrastructure.Release();
        }
    }

    private async Task PostgresCrashAsync(TimeSpan downtime, CancellationToken ct)
    {
        // Waits for a controller restart in progress: the crash must happen, but not on top of that.
        await platform.Infrastructure.WaitAsync(CancellationToken.None);
        try
        {
            await postgres.CrashAsync(CancellationToken.None);
            var fault = Record(FaultKind.PostgresCrash, "postgres", null);
            timeline.Say("nemesis", $"PostgreSQL crashed (pg_ctl stop -m immediate); start in {Seconds(downtime)}");
            await Delay(downtime, ct);
            await postgres.StartServerAsync(CancellationToken.None);
            fault.RestoredAt = Timeline.Now;
            timeline.Say("nemesis", $"PostgreSQL up again (crash recovery done) after {Seconds(fault.RestoredAt.Value - fault.InjectedAt)}");
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            RestoreFailed("postgres", e);
        }
        finally
        {
            platform.Infrastructure.Release();
        }
    }

    private Fault Record(FaultKind kind, string target, int? pid)
    {
        var fault = new Fault { Kind = kind, Target = target, Pid = pid, InjectedAt = Timeline.Now };
        lock (_faults) _faults.Add(fault);
        return fault;
    }

    private void RestoreFailed(string target, Exception e)
    {
        lock (_restoreFailures) _restoreFailures.Add($"{target}: {e.Message}");
        timeline.Say("nemesis", $"!! could not undo the fault on {target}: {e.Message}");
    }

    /// <summary>A pause that is cut short (not abandoned) on cancellation: the fault is still undone.</summary>
    private static async Task Delay(TimeSpan pause, CancellationToken ct)
    {
        try { await Task.Delay(pause, ct); }
        catch (OperationCanceledException) { }
    }

    private static string Seconds(TimeSpan t) => string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.0}s");
}

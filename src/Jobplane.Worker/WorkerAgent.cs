using System.Collections.Concurrent;
using System.Net;
using Jobplane.Api;
using Jobplane.Client;
using Jobplane.Observability;
using Jobplane.Worker.Observability;
using Jobplane.Worker.Runtimes;

namespace Jobplane.Worker;

/// <summary>
/// The worker agent: claims as many executions as it has free slots (one long-poll at a time),
/// runs each through the runtime, heartbeats all its leases in one call, ships logs, reports
/// results. On SIGTERM it stops claiming, lets running jobs finish within the drain timeout while
/// heartbeats continue, then stops the rest and hands their leases back for another worker.
/// </summary>
public sealed partial class WorkerAgent(
    WorkerClient client,
    IJobRuntime runtime,
    WorkerOptions options,
    TimeProvider time,
    ILogger<WorkerAgent> logger,
    WorkerMetrics? metrics = null) : BackgroundService
{
    private readonly ConcurrentDictionary<Guid, RunningAttempt> _running = new();
    // Attempt tasks not yet ended, plus one held by the claim loop until the drain begins: whoever
    // takes it to zero completes _allEnded. (A set of tasks, each removed by a continuation, cost
    // three allocations per job.)
    private int _inFlight = 1;
    private readonly TaskCompletionSource _allEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly AttemptSummary _summary = new(logger, time);
    private readonly SemaphoreSlim _slots = new(options.Concurrency, options.Concurrency);
    // Results of attempts that end close together go to the controller in one call.
    private readonly ResultBatcher _results = new(client, logger);
    // Cancelled when the drain deadline passes: reports still retrying then give up.
    private readonly CancellationTokenSource _drainOver = new();
    // The lease length the controller grants, learned from its answers; until then, a cautious guess.
    private double _leaseSeconds = 30;
    // What each dequeue announces: the runtime's grants, and the slots this worker adds to the
    // fleet, which size every tenant's fair share of it.
    private readonly WorkerCapabilities _capabilities = (runtime.Capabilities ?? new WorkerCapabilities()) with { Slots = options.Concurrency };

    // How long a busy worker waits for more free slots before it claims (see GatherSlotsAsync).
    private static readonly TimeSpan ClaimGather = TimeSpan.FromMilliseconds(20);

    // How often the lease watchdog looks at every running attempt's deadline.
    private static readonly TimeSpan WatchdogPeriod = TimeSpan.FromMilliseconds(100);

    /// <summary>Executions running right now (for tests and metrics).</summary>
    public int RunningCount => _running.Count;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogStarting(options.WorkerId, runtime.Name, options.Concurrency, options.ControllerUrl);
        metrics?.ObserveSlotsUsed(() => _running.Count);
        try
        {
            // Attempts a previous life left running (a Kubernetes Job outlives this process) are
            // taken over while their leases hold; whatever else it left is cleaned up.
            var resumed = await ResumeLeftAttemptsAsync(stoppingToken);
            await runtime.CleanupOrphansAsync(resumed, stoppingToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogCleanupFailed(e);
        }

        using var heartbeatStop = new CancellationTokenSource();
        var heartbeats = HeartbeatLoopAsync(heartbeatStop.Token);
        var watchdog = WatchdogLoopAsync(heartbeatStop.Token);
        var summary = _summary.RunAsync(() => _running.Count, heartbeatStop.Token);

        await ClaimLoopAsync(stoppingToken);
        await DrainAsync();

        await heartbeatStop.CancelAsync();
        await heartbeats;
        await watchdog;
        await summary;
        await _results.DisposeAsync();
        LogStopped(options.WorkerId);
    }

    private async Task ClaimLoopAsync(CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.FromMilliseconds(200);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _slots.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var free = 1;
            while (free < options.Concurrency && _slots.Wait(0, CancellationToken.None)) free++;
            free = await GatherSlotsAsync(free, stoppingToken);
            if (free == 0) return;

            DequeueResponse answer;
            var asked = time.GetTimestamp();
            try
            {
                answer = await client.DequeueAsync(new DequeueRequest
                {
                    Limit = free,
                    WorkerId = options.WorkerId,
                    TenantIds = options.TenantIds,
                    WaitSeconds = options.PollWait.TotalSeconds,
                    // A runtime the platform does not know (noop, a benchmarking tool) names none: it is
                    // then given only work of tenants that are not restricted to some runtimes.
                    Runtime = Jobplane.Api.Runtimes.IsKnown(runtime.Name) ? runtime.Name : null,
                    Capabilities = _capabilities,
                }, stoppingToken);
                backoff = TimeSpan.FromMilliseconds(200);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                _slots.Release(free);
                return;
            }
            catch (Exception e)
            {
                LogDequeueFailed(e.Message, backoff);
                _slots.Release(free);
                await DelayQuietly(backoff + TimeSpan.FromMilliseconds(Random.Shared.Next(0, (int)(backoff.TotalMilliseconds / 2) + 1)), stoppingToken);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
                continue;
            }

            var received = time.GetTimestamp();
            metrics?.Dequeued(time.GetElapsedTime(asked, received), answer.Executions.Count);
            LearnLease(answer.LeaseSeconds);
            var claimed = answer.Executions;
            if (stoppingToken.IsCancellationRequested && claimed.Count > 0)
            {
                // Claimed for us while we began to shut down: hand them straight back, unstarted.
                foreach (var c in claimed) await ReleaseAsync(c);
                _slots.Release(free);
                return;
            }
            if (claimed.Count < free) _slots.Release(free - claimed.Count);
            foreach (var c in claimed)
            {
                // The lease runs from the claim, a moment before this answer arrived: half of it is a safe bound.
                var attempt = new RunningAttempt(c.ExecutionId, c.LeaseToken, c.Attempt, LeaseDeadlineFrom(received));
                _running[c.ExecutionId] = attempt;
                StartAttempt(c, attempt);
            }
        }
    }

    /// <summary>
    /// Takes over the attempts the runtime found left by this worker's previous life, each while the
    /// controller says its lease is still this worker's (up to the free slots); returns their
    /// executions, which orphan cleanup must spare. A lease that is gone leaves its unit to the cleanup.
    /// </summary>
    private async Task<IReadOnlySet<Guid>> ResumeLeftAttemptsAsync(CancellationToken ct)
    {
        var resumed = new HashSet<Guid>();
        foreach (var left in await runtime.FindResumableAsync(ct))
        {
            if (!_slots.Wait(0, CancellationToken.None)) break;
            ResumeResponse answer;
            var asked = time.GetTimestamp();
            try
            {
                answer = await client.ResumeAsync(left.ExecutionId, new ResumeRequest { LeaseToken = left.LeaseToken, WorkerId = options.WorkerId }, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // The lease is gone (404, 409), or the controller cannot say now: the unit is left to
                // the cleanup, and the execution to the lease's expiry, as for any other runtime.
                _slots.Release();
                LogNotResumed(left.ExecutionId, e.Message);
                continue;
            }
            var claim = answer.Execution;
            var attempt = new RunningAttempt(claim.ExecutionId, claim.LeaseToken, claim.Attempt, LeaseDeadlineFrom(asked));
            _running[claim.ExecutionId] = attempt;
            resumed.Add(claim.ExecutionId);
            LogResumed(claim.ExecutionId, claim.Attempt, answer.LoggedStdout + answer.LoggedStderr, answer.RunningSeconds);
            StartAttempt(claim, attempt, new Resumption(answer.LoggedStdout, answer.LoggedStderr, TimeSpan.FromSeconds(answer.RunningSeconds)));
        }
        return resumed;
    }

    /// <summary>Where a taken-over attempt stands: the output the controller already has, and how long it has run.</summary>
    private sealed record Resumption(long LoggedStdout, long LoggedStderr, TimeSpan Running);

    /// <summary>Runs the attempt on the thread pool; the drain waits for it (see <see cref="_inFlight"/>).</summary>
    private void StartAttempt(ClaimedExecution claim, RunningAttempt attempt, Resumption? resumption = null)
    {
        Interlocked.Increment(ref _inFlight);
        // One work item holding its state, where Task.Run made a closure, a delegate and two tasks.
        ThreadPool.QueueUserWorkItem(static s => _ = s.Agent.RunAttemptAsync(s.Claim, s.Attempt, s.Resumption),
            (Agent: this, Claim: claim, Attempt: attempt, Resumption: resumption), preferLocal: false);
    }

    private void AttemptTaskEnded()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0) _allEnded.TrySetResult();
    }

    /// <summary>Runs one attempt and reports it. Never throws: a worker-side fault fails the attempt.</summary>
    private async Task RunAttemptAsync(ClaimedExecution claim, RunningAttempt attempt, Resumption? resumption)
    {
        // Whatever happens below, the drain must not wait for this attempt forever.
        try
        {
            var p = claim.Payload;
            // No span unless a tracer listens; then the execution's own trace context (as the claim
            // handed it over) stands in for it in the log scope and the job's TRACEPARENT.
            using var span = WorkerTracing.StartAttempt(claim, options.WorkerId, runtime.Name);
            using var scope = logger.IsEnabled(LogLevel.Critical)
                ? logger.BeginScope(new ExecutionLogScope(claim.ExecutionId, p.JobId, p.TenantId, claim.Attempt, TraceParent.Of(span) ?? p.TraceParent))
                : null;
            LogAttemptStarting(claim.ExecutionId, claim.Attempt, claim.MaxAttempts, p.JobName);
            RunOutcome outcome;
            var shipper = new LogShipper(client, claim.ExecutionId, claim.LeaseToken, options.LogFlushInterval, time, logger, attempt.KillToken);
            var started = time.GetTimestamp();
            try
            {
                // A taken-over attempt has run for a while already: its timeout counts from its start.
                var timeout = TimeSpan.FromSeconds(p.TimeoutSeconds);
                if (resumption is not null) timeout = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, (timeout - resumption.Running).Ticks));
                var spec = new RunSpec(claim.ExecutionId, p.JobId, claim.Attempt, p.Image, p.Command,
                    timeout, WorkerTracing.JobEnvironment(span, p.TraceParent))
                {
                    LeaseToken = claim.LeaseToken,
                    Resources = p.Resources is { } r ? new ResourceRequest(r.MemoryMib * (1L << 20), r.Cpus, r.Pids) : null,
                    Network = p.Network,
                    RunAsRoot = p.RunAsRoot,
                    TenantId = p.TenantId,
                };
                ILogSink sink = metrics is null ? shipper : new CountingLogSink(shipper, metrics);
                // The lines the controller already has are read again from the unit and skipped.
                if (resumption is not null) sink = new SkippingLogSink(sink, resumption.LoggedStdout, resumption.LoggedStderr);
                outcome = await runtime.RunAsync(spec, sink, attempt.StopToken, attempt.KillToken);
            }
            catch (Exception e)
            {
                LogRuntimeFault(claim.ExecutionId, e);
                outcome = new RunOutcome { Error = $"worker fault while running the job: {e.Message}" };
            }
            finally
            {
                await shipper.DisposeAsync();
            }
            var ran = time.GetElapsedTime(started);
            WorkerTracing.Ended(span, outcome);
            metrics?.AttemptEnded(runtime.Name, WorkerTracing.Outcome(outcome), ran);
            _summary.Ended(outcome);

            try
            {
                switch (attempt.Reason)
                {
                    case StopReason.Shutdown:
                        await ReleaseAsync(claim);
                        break;
                    case StopReason.LeaseLost:
                        LogLeaseLostStopped(claim.ExecutionId, claim.Attempt);
                        break;
                    case StopReason.Cancelled:
                        // The controller ends it CANCELLED (or SUCCEEDED, if the job finished first).
                        await ReportAsync(claim, attempt, outcome.Succeeded ? outcome : outcome with
                        {
                            Error = outcome.Stopped ? "stopped at the user's request" : outcome.Error,
                            Retryable = false,
                        }, ran);
                        break;
                    default:
                        // Ended by the platform under the job (an evicted pod, a lost node): another
                        // attempt gets it, and this one is not charged to the job.
                        if (outcome.HandBack) await ReleaseAsync(claim, outcome.Error);
                        else await ReportAsync(claim, attempt, outcome, ran);
                        break;
                }
            }
            finally
            {
                _running.TryRemove(claim.ExecutionId, out _);
                attempt.Dispose();
                _slots.Release();
            }
        }
        finally
        {
            AttemptTaskEnded();
        }
    }

    /// <summary>
    /// Reports the outcome. The lease stays registered (and heartbeated) until the report is
    /// answered, so a slow report never looks like a dead worker; and because heartbeats keep the
    /// lease, a report that can never succeed must not be retried forever, or the execution would
    /// stay RUNNING for good (cancel and SIGTERM could not end it either).
    /// <list type="bullet">
    /// <item>A transient failure (network, 5xx, 429) is retried with capped, jittered backoff, at
    /// most <see cref="MaxReportTries"/> times, and no longer once the lease is lost, a user
    /// cancels (unless this report is the cancel's own), or the worker's drain deadline passes.</item>
    /// <item>A refusal (4xx): the report is sent again as a plain failure saying why, so the
    /// execution ends FAILED rather than RUNNING; a refused plain failure is sent once more
    /// without the job's text; then the worker gives up and lets the lease expire.</item>
    /// <item>Tries used up on server errors (an older controller answers an unstorable report with
    /// 500): one plain failure is tried, for the same reason.</item>
    /// </list>
    /// </summary>
    private async Task ReportAsync(ClaimedExecution claim, RunningAttempt attempt, RunOutcome outcome, TimeSpan ran)
    {
        using var span = WorkerTracing.StartReport();
        var request = new ResultRequest
        {
            ExitCode = outcome.ExitCode,
            // Made storable here too: JSON cannot carry a lone surrogate (the serializer refuses to
            // write one), and the controller keeps no more than this anyway.
            Error = StorableText.CleanOrNull(outcome.Error, MaxErrorChars),
            Result = outcome.Result,
            LeaseToken = claim.LeaseToken,
            Retryable = outcome.Retryable,
            Runtime = runtime.Name,
            DurationSeconds = ran.TotalSeconds,
        };
        // What ends the retrying: a report made after a cancel is the cancel's own, so then only a
        // lost lease (or the drain deadline) ends it. The backoff and the linked token for its waits
        // are made at the first retry: most reports need none.
        var endsRetrying = attempt.Reason == StopReason.None ? attempt.StopToken : attempt.KillToken;
        CallBackoff? backoff = null;
        var tries = 0;
        var fallbacks = 0;
        while (true)
        {
            tries++;
            try
            {
                // The report span when traced; otherwise the claim's, so the controller still logs the completion in the execution's trace.
                var accepted = await _results.ReportAsync(claim.ExecutionId, request, TraceParent.Of(span) ?? claim.Payload.TraceParent);
                LogAttemptReported(claim.ExecutionId, claim.Attempt, accepted.Status, request.ExitCode, request.Error);
                return;
            }
            catch (ApiException e) when (e.LeaseGone)
            {
                LogResultRefused(claim.ExecutionId, claim.Attempt, e.Message);
                return;
            }
            catch (ApiException e) when (request.Result is not null && (int)e.Status is 400 or 413)
            {
                // The controller cannot store this result.json (too large, or JSON that PostgreSQL
                // refuses). Running again would write the same file: fail the attempt for good,
                // saying why, and keep the job's own error.
                LogResultRefused(claim.ExecutionId, claim.Attempt, e.Message);
                var why = $"result.json refused by the controller: {e.Message}";
                request = request with
                {
                    Result = null,
                    Error = outcome.Error is null ? why : $"{StorableText.Clean(outcome.Error, 4096)}; {why}",
                    Retryable = false,
                };
            }
            catch (ApiException e) when ((int)e.Status is >= 400 and < 500 && !e.Transient)
            {
                // The controller cannot take this report as it is, and never will.
                LogResultRefused(claim.ExecutionId, claim.Attempt, e.Message);
                if (!TryPlainFailure(ref request, ref fallbacks, outcome, $"the controller refused the report: {e.Message}"))
                {
                    LogReportAbandoned(claim.ExecutionId, claim.Attempt, tries, e.Message);
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or ApiException { Transient: true })
            {
                var giveUp = endsRetrying.IsCancellationRequested || _drainOver.IsCancellationRequested;
                if (tries >= MaxReportTries || giveUp)
                {
                    // A controller that answers but keeps failing this report (rather than being
                    // unreachable) may be choking on its content: one plain failure is worth a try.
                    if (e is ApiException { Status: >= HttpStatusCode.InternalServerError } && !giveUp
                        && TryPlainFailure(ref request, ref fallbacks, outcome, $"the controller could not store the report ({tries} tries): {e.Message}"))
                    {
                        tries = 0;
                        continue;
                    }
                    LogReportAbandoned(claim.ExecutionId, claim.Attempt, tries, e.Message);
                    return;
                }
                var delay = (backoff ??= new CallBackoff(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10))).Next();
                LogReportRetry(claim.ExecutionId, tries, e.Message, delay);
                try
                {
                    using var either = CancellationTokenSource.CreateLinkedTokenSource(endsRetrying, _drainOver.Token);
                    await Task.Delay(delay, time, either.Token);
                }
                catch (OperationCanceledException)
                {
                    LogReportAbandoned(claim.ExecutionId, claim.Attempt, tries, attempt.Reason switch
                    {
                        StopReason.LeaseLost => "the lease was lost",
                        StopReason.Cancelled => "the execution was cancelled",
                        _ => "the worker is stopping",
                    });
                    return;
                }
            }
        }
    }

    /// <summary>The longest error text the controller stores (Reports.MaxErrorChars).</summary>
    private const int MaxErrorChars = 8192;

    /// <summary>Tries of one report on transient failures before the worker gives up on it.</summary>
    private const int MaxReportTries = 8;

    /// <summary>
    /// Turns the report into a plain, non-retryable failure saying why: first keeping the start of
    /// the job's own error (made storable), then, if that was refused too, in the worker's words
    /// alone. False when both were tried.
    /// </summary>
    private static bool TryPlainFailure(ref ResultRequest request, ref int fallbacks, RunOutcome outcome, string why)
    {
        fallbacks++;
        if (fallbacks > 2) return false;
        why = StorableText.Clean(why, 2048);
        request = request with
        {
            Result = null,
            Error = fallbacks == 1 && outcome.Error is { Length: > 0 } own ? $"{why}; the job's error began: {StorableText.Clean(own, 1024)}" : why,
            ExitCode = fallbacks == 1 ? request.ExitCode : null,
            Retryable = false,
        };
        return true;
    }

    private async Task ReleaseAsync(ClaimedExecution claim, string? why = null)
    {
        try
        {
            await client.ReleaseAsync(claim.ExecutionId, new ReleaseRequest
            {
                LeaseToken = claim.LeaseToken,
                Reason = why is null
                    ? $"worker {options.WorkerId} shut down before the job finished; handed back for another worker"
                    : $"{StorableText.CleanOrNull(why, MaxErrorChars)}; handed back for another worker",
            }, CancellationToken.None);
            LogReleased(claim.ExecutionId, claim.Attempt);
        }
        catch (Exception e)
        {
            // The lease will expire and the execution will be rescued: slower, but nothing is lost.
            LogReleaseFailed(claim.ExecutionId, e.Message);
        }
    }

    /// <summary>
    /// On a busy worker slots come back one at a time, as jobs end, and a claim for each would cost a
    /// transaction and a round trip per job. So while jobs are running and fewer than a quarter of
    /// the slots are free, wait up to <see cref="ClaimGather"/> for more, then claim them together.
    /// An idle or mostly idle worker never waits. Returns the slots held, or 0 (all released) when
    /// the worker is stopping.
    /// </summary>
    private async Task<int> GatherSlotsAsync(int free, CancellationToken stoppingToken)
    {
        var wanted = Math.Max(1, options.Concurrency / 4);
        if (free >= wanted || _running.IsEmpty) return free;
        using var window = new CancellationTokenSource(ClaimGather, time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(window.Token, stoppingToken);
        try
        {
            while (free < wanted)
            {
                await _slots.WaitAsync(either.Token);
                free++;
                while (free < options.Concurrency && _slots.Wait(0, CancellationToken.None)) free++;
            }
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            // The window closed: claim what we have.
        }
        catch (OperationCanceledException)
        {
            _slots.Release(free);
            return 0;
        }
        return free;
    }

    private async Task DrainAsync()
    {
        // The claim loop has ended: no attempt starts any more, so its hold is let go.
        AttemptTaskEnded();
        var all = _allEnded.Task;
        if (all.IsCompleted) return;
        LogDraining(_running.Count, options.DrainTimeout);
        var finished = await Task.WhenAny(all, Task.Delay(options.DrainTimeout, time)) == all;
        if (!finished)
        {
            await _drainOver.CancelAsync();
            foreach (var a in _running.Values) a.Stop(StopReason.Shutdown);
            await all;
        }
    }

    /// <summary>
    /// Confirms every lease this worker holds in one call. Leases the controller no longer
    /// recognises are killed at once; cancelled executions are stopped. Each confirmation moves the
    /// attempt's local lease deadline forward (see <see cref="WatchdogLoopAsync"/>).
    /// </summary>
    private async Task HeartbeatLoopAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(options.HeartbeatInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                var snapshot = _running.Values.ToList();
                if (snapshot.Count == 0) continue;
                var sent = time.GetTimestamp();
                try
                {
                    var answer = await client.HeartbeatAsync(new WorkerHeartbeatRequest
                    {
                        WorkerId = options.WorkerId,
                        Leases = [.. snapshot.Select(a => new LeaseRef(a.ExecutionId, a.LeaseToken))],
                    }, ct);
                    LearnLease(answer.LeaseSeconds);
                    // The controller leaves every held lease with at least half its length: counted from
                    // when this request was sent, that bound is safe whatever the network did.
                    var deadline = LeaseDeadlineFrom(sent);
                    foreach (var id in answer.Extended)
                    {
                        if (_running.TryGetValue(id, out var a)) a.ExtendLease(deadline);
                    }
                    foreach (var lost in answer.Lost)
                    {
                        if (_running.TryGetValue(lost, out var a))
                        {
                            LogLeaseLost(lost, a.Attempt);
                            metrics?.LeaseLost();
                            a.Stop(StopReason.LeaseLost);
                        }
                    }
                    foreach (var cancelled in answer.Cancelled)
                    {
                        if (_running.TryGetValue(cancelled, out var a) && a.Reason == StopReason.None)
                        {
                            LogCancelled(cancelled, a.Attempt);
                            a.Stop(StopReason.Cancelled);
                        }
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    LogHeartbeatFailed(e.Message);
                    metrics?.HeartbeatFailed();
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Kills any attempt whose lease this worker can no longer vouch for: when heartbeats have not
    /// been confirmed for half a lease (the controller unreachable, or this process paused), the
    /// lease may expire and another worker may take the execution. Killing first means the old and
    /// the new attempt never run at once, as long as the controller's clock and ours agree on how
    /// long a second is.
    /// </summary>
    private async Task WatchdogLoopAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(WatchdogPeriod, time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                var now = time.GetTimestamp();
                foreach (var a in _running.Values)
                {
                    if (a.Reason != StopReason.LeaseLost && now > a.LeaseDeadline)
                    {
                        LogLeaseUnconfirmed(a.ExecutionId, a.Attempt);
                        metrics?.LeaseLost();
                        a.Stop(StopReason.LeaseLost);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private void LearnLease(double? seconds)
    {
        if (seconds is > 0) Volatile.Write(ref _leaseSeconds, seconds.Value);
    }

    private long LeaseDeadlineFrom(long timestamp) =>
        timestamp + (long)(Volatile.Read(ref _leaseSeconds) / 2 * time.TimestampFrequency);

    private async Task DelayQuietly(TimeSpan delay, CancellationToken ct)
    {
        try { await Task.Delay(delay, time, ct); }
        catch (OperationCanceledException) { }
    }

    public override void Dispose()
    {
        _slots.Dispose();
        _drainOver.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} starting: runtime {Runtime}, {Concurrency} slots, controller {Controller}")]
    private partial void LogStarting(string workerId, string runtime, int concurrency, Uri controller);

    [LoggerMessage(Level = LogLevel.Information, Message = "Execution {ExecutionId} attempt {Attempt} taken over from this worker's previous run ({Lines} log lines already stored, running for {Seconds}s)")]
    private partial void LogResumed(Guid executionId, int attempt, long lines, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Execution {ExecutionId} left by this worker's previous run is not taken over: {Reason}")]
    private partial void LogNotResumed(Guid executionId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} stopped")]
    private partial void LogStopped(string workerId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Cleaning up after a previous run failed; continuing")]
    private partial void LogCleanupFailed(Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dequeue failed: {Reason}; retrying in {Delay}")]
    private partial void LogDequeueFailed(string reason, TimeSpan delay);

    // Per attempt: Debug, like its report below; the attempt summary says at Information how many ended.
    [LoggerMessage(Level = LogLevel.Debug, Message = "Execution {ExecutionId} attempt {Attempt}/{MaxAttempts} of job {JobName} starting")]
    private partial void LogAttemptStarting(Guid executionId, int attempt, int maxAttempts, string jobName);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Execution {ExecutionId} attempt {Attempt} reported: now {Status} (exit code {ExitCode}, error {Error})")]
    private partial void LogAttemptReported(Guid executionId, int attempt, string status, int? exitCode, string? error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Runtime fault on execution {ExecutionId}")]
    private partial void LogRuntimeFault(Guid executionId, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution {ExecutionId} attempt {Attempt} stopped: its lease was lost; nothing reported")]
    private partial void LogLeaseLostStopped(Guid executionId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution {ExecutionId} attempt {Attempt}: the controller refused the result: {Reason}")]
    private partial void LogResultRefused(Guid executionId, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reporting execution {ExecutionId} failed (try {Try}): {Reason}; retrying in {Delay}")]
    private partial void LogReportRetry(Guid executionId, int @try, string reason, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Error, Message = "Execution {ExecutionId} attempt {Attempt}: gave up reporting after {Tries} tries ({Reason}); its lease will expire and the controller will rescue it")]
    private partial void LogReportAbandoned(Guid executionId, int attempt, int tries, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Execution {ExecutionId} attempt {Attempt} handed back to the queue")]
    private partial void LogReleased(Guid executionId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Handing back execution {ExecutionId} failed: {Reason}; its lease will expire instead")]
    private partial void LogReleaseFailed(Guid executionId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Draining: waiting up to {Timeout} for {Count} running jobs")]
    private partial void LogDraining(int count, TimeSpan timeout);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution {ExecutionId} attempt {Attempt}: lease lost; stopping the job")]
    private partial void LogLeaseLost(Guid executionId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Heartbeat failed: {Reason}; retrying at the next beat")]
    private partial void LogHeartbeatFailed(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Execution {ExecutionId} attempt {Attempt} was cancelled; stopping the job")]
    private partial void LogCancelled(Guid executionId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution {ExecutionId} attempt {Attempt}: the lease was not confirmed in time (controller unreachable or this worker paused); killing the job")]
    private partial void LogLeaseUnconfirmed(Guid executionId, int attempt);
}

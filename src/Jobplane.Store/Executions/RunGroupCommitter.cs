namespace Jobplane.Store;

/// <summary>
/// Group commit for single runs (POST /jobs/{id}/run): concurrent runs share one transaction and one
/// WAL flush (<see cref="ExecutionStore.RunGroupAsync"/>), each still answered on its own and only
/// after that commit. There is no timer: a run arriving while no group is being written starts one at
/// once (alone, it is the same single statement as before, so latency at low load does not grow); runs
/// arriving while a group is being written wait for the next one, so under load the groups grow by
/// themselves to what arrives during one group's write, up to <see cref="MaxGroup"/>.
/// <para>One group is written at a time, unless a run arrives when the one being written has been at
/// it for <see cref="StallAfter"/> (waiting for a lock, say) or a full group is already waiting: then a
/// second writer takes every waiting run beside it, and stops again once that is no longer so. (Runs
/// that arrived before that mark and nothing after it wait for the stuck group: at most its statement
/// timeout.) With the controller and
/// PostgreSQL sharing two cores, one writer (larger groups, half the commits) took a third less of
/// PostgreSQL's CPU per run than two writers always (0.15 against 0.22 ms) and submitted as many runs
/// per second on a quiet machine, a fifth more on a loaded one; the second is for a group that is stuck.</para>
/// <para>It holds runs only until their group commits: a replica that dies loses only unanswered
/// requests, whose runs were either committed or not written at all.</para>
/// </summary>
public sealed class RunGroupCommitter(ExecutionStore store, int maxGroup = RunGroupCommitter.MaxGroup,
    int maxWriting = RunGroupCommitter.MaxWriting, TimeProvider? time = null)
{
    /// <summary>
    /// Most runs in one transaction: more than the concurrent clients of a busy replica usually have in
    /// flight, few enough that one group's statement stays a few milliseconds (its runs wait for all of it).
    /// </summary>
    public const int MaxGroup = 64;

    /// <summary>Most groups written at once: one, and a second beside a stuck or saturated one.</summary>
    public const int MaxWriting = 2;

    /// <summary>
    /// How long a group may be written before the runs arriving meanwhile get a writer of their own:
    /// far longer than a group takes (a round trip, a few milliseconds of statements, a WAL flush), so
    /// it means the group is waiting for something (another transaction's idempotency key, a slow disk).
    /// </summary>
    public static readonly TimeSpan StallAfter = TimeSpan.FromMilliseconds(50);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Lock _lock = new();
    private readonly Queue<Waiting> _waiting = new();
    private int _writing;
    // When each group being written now was taken (one entry per busy writer).
    private readonly List<long> _groupsSince = new(2);

    /// <summary>
    /// <see cref="ExecutionStore.RunAsync"/>, written with whatever other runs are waiting: the same
    /// answers (null when nothing was created, <see cref="StoreConflictException"/> for a key used for
    /// another job), given once the run's group has committed. <paramref name="ct"/> cancels the wait,
    /// and the run itself only while its group has not started: once it is being written, the group is
    /// finished for the others' sake, and the run may then exist, as a single statement cancelled late may.
    /// </summary>
    public Task<SubmittedRun?> RunAsync(RunRequest run, CancellationToken ct)
    {
        if (ct.IsCancellationRequested) return Task.FromCanceled<SubmittedRun?>(ct);
        var waiting = new Waiting(run, ct);
        bool startWriter;
        lock (_lock)
        {
            _waiting.Enqueue(waiting);
            startWriter = _writing == 0 || (_writing < maxWriting && (_waiting.Count >= maxGroup || Stalled()));
            if (startWriter) _writing++;
        }
        if (startWriter)
        {
            // The writer serves many requests: it must not carry this one's ambient state (its trace
            // above all, which would make one request's span the parent of every run's statement).
            using (ExecutionContext.SuppressFlow()) _ = Task.Run(WriteAsync, CancellationToken.None);
        }
        return waiting.Answer.Task.WaitAsync(ct);
    }

    /// <summary>
    /// Writes groups while runs are waiting; ends (and frees its place) when none are, or when another
    /// writer is at work and less than a full group waits.
    /// </summary>
    private async Task WriteAsync()
    {
        var group = new List<Waiting>(maxGroup);
        var runs = new List<RunRequest>(maxGroup);
        while (true)
        {
            group.Clear();
            runs.Clear();
            long since;
            lock (_lock)
            {
                // Beside another writer, this one goes on only while that one is stuck or a full group waits.
                if (_waiting.Count == 0 || (_writing > 1 && _waiting.Count < maxGroup && !Stalled()))
                {
                    _writing--;
                    return;
                }
                while (group.Count < maxGroup && _waiting.TryDequeue(out var next))
                {
                    // Its caller gave up before anything was written: nothing to write, nothing to answer.
                    if (next.Cancellation.IsCancellationRequested) next.Answer.TrySetCanceled(next.Cancellation);
                    else group.Add(next);
                }
                if (group.Count == 0)
                {
                    _writing--;
                    return;
                }
                since = _time.GetTimestamp();
                _groupsSince.Add(since);
            }
            foreach (var w in group) runs.Add(w.Run);
            try
            {
                var answers = await store.RunGroupAsync(runs);
                for (var i = 0; i < group.Count; i++)
                {
                    if (answers[i].Error is { } error) group[i].Answer.TrySetException(error);
                    else group[i].Answer.TrySetResult(answers[i].Run);
                }
            }
            catch (Exception e)
            {
                // RunGroupAsync answers failures as values; this is the net that keeps a defect from
                // leaving callers waiting forever and this writer's place taken.
                foreach (var w in group) w.Answer.TrySetException(e);
            }
            lock (_lock) _groupsSince.Remove(since);
        }
    }

    /// <summary>True when a group being written has been at it for <see cref="StallAfter"/> or more (call under the lock).</summary>
    private bool Stalled()
    {
        foreach (var since in _groupsSince)
        {
            if (_time.GetElapsedTime(since) >= StallAfter) return true;
        }
        return false;
    }

    private sealed class Waiting(RunRequest run, CancellationToken cancellation)
    {
        public RunRequest Run { get; } = run;
        public CancellationToken Cancellation { get; } = cancellation;
        // Answers continue on the pool, not inline in the writer, which goes on to the next group.
        public TaskCompletionSource<SubmittedRun?> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

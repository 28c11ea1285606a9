namespace Jobplane.Store;

/// <summary>
/// Group commit for single runs (POST /jobs/{id}/run): concurrent runs share one transaction and one
/// WAL flush (<see cref="ExecutionStore.RunGroupAsync"/>), each still answered on its own and only
/// after that commit. There is no timer: a run arriving while fewer than <see cref="MaxWriting"/>
/// groups are being written starts one at once (alone, it is the same single statement as before, so
/// latency at low load does not grow); runs arriving while that many are being written wait for the
/// next group. Under load the groups grow by themselves to what arrives during one group's write, up
/// to <see cref="MaxGroup"/>.
/// <para>It holds runs only until their group commits: a replica that dies loses only unanswered
/// requests, whose runs were either committed or not written at all.</para>
/// </summary>
public sealed class RunGroupCommitter(ExecutionStore store, int maxGroup = RunGroupCommitter.MaxGroup, int maxWriting = RunGroupCommitter.MaxWriting)
{
    /// <summary>
    /// Most runs in one transaction: enough that 16-32 concurrent clients share a commit several ways,
    /// few enough that one group's statements stay a few milliseconds (its runs wait for all of them).
    /// </summary>
    public const int MaxGroup = 64;

    /// <summary>
    /// Groups written at once. Two let one group's statements run while the other's commit waits for
    /// its WAL flush; more would only split the waiting runs into smaller groups (more commits).
    /// </summary>
    public const int MaxWriting = 2;

    private readonly Lock _lock = new();
    private readonly Queue<Waiting> _waiting = new();
    private int _writing;

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
            startWriter = _writing < maxWriting;
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

    /// <summary>Writes groups while runs are waiting; ends (and frees its place) when none are.</summary>
    private async Task WriteAsync()
    {
        var group = new List<Waiting>(maxGroup);
        var runs = new List<RunRequest>(maxGroup);
        while (true)
        {
            group.Clear();
            runs.Clear();
            lock (_lock)
            {
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
        }
    }

    private sealed class Waiting(RunRequest run, CancellationToken cancellation)
    {
        public RunRequest Run { get; } = run;
        public CancellationToken Cancellation { get; } = cancellation;
        // Answers continue on the pool, not inline in the writer, which goes on to the next group.
        public TaskCompletionSource<SubmittedRun?> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

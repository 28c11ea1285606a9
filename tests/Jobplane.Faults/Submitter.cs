using System.Collections.Concurrent;

namespace Jobplane.Faults;

/// <summary>A run request that got no definite answer: it may have created an execution we never heard of.</summary>
public sealed record InDoubtRequest(int Submission, DateTimeOffset SentAt, DateTimeOffset EndedAt, string Controller, string Detail);

public sealed record SubmissionResult(
    IReadOnlyList<Guid> Acknowledged,
    IReadOnlyList<InDoubtRequest> InDoubt,
    IReadOnlyList<string> Refusals,
    int Requests,
    int Retries,
    int Replayed,
    int GaveUp);

/// <summary>
/// Submits the executions through POST /jobs/{id}/run, paced evenly over the submission phase (so
/// that faults land while work is arriving and running, not after it is all done), at most
/// <c>concurrency</c> requests at a time, alternating between the controllers. A submission
/// without a definite answer is retried (on the other controller first, with the same
/// Idempotency-Key) until acknowledged; only acknowledged ids are promised, and every request in
/// doubt is kept with its time window so the checks can tell an execution it created apart from
/// one that appeared from nowhere.
/// </summary>
public sealed class Submitter(PublicApi api, IReadOnlyList<string> urls, string apiKey, Guid jobId, string runId, Timeline timeline)
{
    private static readonly TimeSpan GiveUpAfter = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(1);
    private const int InDoubtLinesShown = 20;

    private readonly ConcurrentDictionary<Guid, byte> _acknowledged = new();
    private readonly ConcurrentQueue<Guid> _order = new();
    private readonly ConcurrentQueue<InDoubtRequest> _inDoubt = new();
    private readonly ConcurrentQueue<string> _refusals = new();
    private int _requests, _retries, _replayed, _gaveUp;

    public int AcknowledgedCount => _acknowledged.Count;

    /// <summary>The ids acknowledged so far (a snapshot).</summary>
    public Guid[] AcknowledgedSoFar() => [.. _acknowledged.Keys];

    public async Task<SubmissionResult> RunAsync(int count, TimeSpan phase, int concurrency, CancellationToken ct)
    {
        var start = timeline.Elapsed;
        using var slots = new SemaphoreSlim(concurrency);
        var running = new List<Task>(count);
        for (var i = 0; i < count; i++)
        {
            var due = start + phase * i / count;
            var wait = due - timeline.Elapsed;
            if (wait > TimeSpan.Zero) await Task.Delay(wait, ct);
            await slots.WaitAsync(ct);
            var index = i;
            running.Add(Task.Run(async () =>
            {
                try { await SubmitOneAsync(index, ct); }
                finally { slots.Release(); }
            }, ct));
        }
        await Task.WhenAll(running);
        return new SubmissionResult([.. _order], [.. _inDoubt], [.. _refusals], _requests, _retries, _replayed, _gaveUp);
    }

    private async Task SubmitOneAsync(int index, CancellationToken ct)
    {
        var key = $"faults-{runId}-{index}";
        var giveUpAt = timeline.Elapsed + GiveUpAfter;
        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 0; ; attempt++)
        {
            var url = urls[(index + attempt) % urls.Count];
            var sentAt = Timeline.Now;
            var result = await api.RunAsync(url, apiKey, jobId, key, ct);
            Interlocked.Increment(ref _requests);
            switch (result.Answer)
            {
                case RunAnswer.Acknowledged:
                    if (_acknowledged.TryAdd(result.ExecutionId!.Value, 0)) _order.Enqueue(result.ExecutionId.Value);
                    if (result.Replayed) Interlocked.Increment(ref _replayed);
                    return;
                case RunAnswer.Refused:
                    _refusals.Enqueue($"submission {index}: {result.Detail}");
                    timeline.Say("submit", $"!! submission {index} refused: {result.Detail}");
                    return;
                case RunAnswer.InDoubt:
                    var doubt = new InDoubtRequest(index, sentAt, Timeline.Now, url, result.Detail);
                    _inDoubt.Enqueue(doubt);
                    if (_inDoubt.Count <= InDoubtLinesShown)
                        timeline.Say("submit", $"submission {index} in doubt on {url} ({result.Detail}); retrying");
                    break;
                case RunAnswer.NotNow:
                    break;
            }
            if (timeline.Elapsed > giveUpAt)
            {
                Interlocked.Increment(ref _gaveUp);
                timeline.Say("submit", $"!! submission {index} not acknowledged after {GiveUpAfter.TotalSeconds:0}s; giving up");
                return;
            }
            Interlocked.Increment(ref _retries);
            await Task.Delay(delay + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 50)), ct);
            delay = delay * 2 > MaxRetryDelay ? MaxRetryDelay : delay * 2;
        }
    }
}

using System.Net;
using System.Threading.Channels;
using Jobplane.Api;
using Jobplane.Client;

namespace Jobplane.Worker;

/// <summary>
/// Gathers the results of attempts that end close together into one call (and one transaction on the
/// controller). It adds no delay of its own: a report goes out at once when no call is in flight, and
/// reports that arrive while one is in flight go together in the next. So an idle worker reports as
/// fast as before, and a busy one sends hundreds of results per call instead of one each.
/// <para>Each report is answered as if it had been sent alone (<see cref="WorkerClient.ReportResultAsync"/>):
/// the status on success, a <see cref="ApiException"/> for a lost lease, a missing execution or
/// a refused result, and the call's own failure (to be retried) when the batch did not get through.</para>
/// <para>A result too large to share a call (over <see cref="SoloResultBytes"/>) goes on its own through
/// the single-result route; so does everything once the controller turns out not to have the batch
/// route (an older version during a rolling upgrade).</para>
/// </summary>
public sealed partial class ResultBatcher : IAsyncDisposable
{
    /// <summary>Results larger than this are sent on their own.</summary>
    public const int SoloResultBytes = 64 * 1024;
    // Keeps a batch's body near 1 MiB and well inside the controller's limits (8 MiB, 1000 reports).
    private const int MaxBatchBytes = 1024 * 1024;
    private const int MaxBatchReports = 500;

    private readonly WorkerClient _client;
    private readonly ILogger _logger;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _sender;
    private volatile bool _batchRouteMissing;

    public ResultBatcher(WorkerClient client, ILogger logger)
    {
        _client = client;
        _logger = logger;
        _sender = Task.Run(SendLoopAsync);
    }

    /// <summary>
    /// Reports one attempt's outcome; completes when the controller has answered for it.
    /// <paramref name="traceParent"/> is the report's span, which the controller's completion span continues.
    /// </summary>
    public Task<ResultResponse> ReportAsync(Guid executionId, ResultRequest request, string? traceParent = null)
    {
        // Measured once: the estimate serialises the result, which may be tens of kilobytes.
        var bytes = EstimatedBytes(request);
        if (_batchRouteMissing || bytes > SoloResultBytes)
            return _client.ReportResultAsync(executionId, request, CancellationToken.None);
        var pending = new Pending(executionId, request, traceParent, bytes);
        return _queue.Writer.TryWrite(pending)
            ? pending.Answer.Task
            : _client.ReportResultAsync(executionId, request, CancellationToken.None); // disposed: send directly
    }

    private async Task SendLoopAsync()
    {
        var batch = new List<Pending>(MaxBatchReports);
        Pending? carried = null;
        while (carried is not null || await _queue.Reader.WaitToReadAsync())
        {
            var bytes = 0;
            if (carried is not null)
            {
                batch.Add(carried);
                bytes = carried.Bytes;
                carried = null;
            }
            while (batch.Count < MaxBatchReports && _queue.Reader.TryRead(out var next))
            {
                var size = next.Bytes;
                if (batch.Count > 0 && bytes + size > MaxBatchBytes)
                {
                    carried = next;
                    break;
                }
                batch.Add(next);
                bytes += size;
            }
            await SendAsync(batch);
            batch.Clear();
        }
    }

    private async Task SendAsync(List<Pending> batch)
    {
        if (_batchRouteMissing)
        {
            foreach (var p in batch) _ = SendAloneAsync(p);
            return;
        }
        ResultBatchResponse answer;
        try
        {
            answer = await _client.ReportResultsAsync(new ResultBatchRequest
            {
                Results = [.. batch.Select(p => p.Report)],
            }, CancellationToken.None);
        }
        catch (ApiException e) when (e.Status is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed)
        {
            // The controller has no batch route: report one by one from now on.
            LogBatchRouteMissing(e.Message);
            _batchRouteMissing = true;
            foreach (var p in batch) _ = SendAloneAsync(p);
            return;
        }
        catch (Exception e)
        {
            // The call failed as a whole: every report in it failed the same way, and is retried by its sender.
            foreach (var p in batch) p.Answer.TrySetException(e);
            return;
        }

        var byId = new Dictionary<Guid, ResultAnswer>(answer.Results.Count);
        foreach (var a in answer.Results) byId[a.ExecutionId] = a;
        foreach (var p in batch)
        {
            if (!byId.TryGetValue(p.ExecutionId, out var a))
            {
                p.Answer.TrySetException(new ApiException(HttpStatusCode.BadGateway, "missing_answer",
                    "the controller's answer did not mention this execution"));
                continue;
            }
            switch (a.Outcome)
            {
                case ResultAnswers.Accepted:
                    p.Answer.TrySetResult(new ResultResponse(a.Status ?? "unknown"));
                    break;
                case ResultAnswers.NotFound:
                    p.Answer.TrySetException(new ApiException(HttpStatusCode.NotFound, ErrorCodes.NotFound, "execution not found"));
                    break;
                case ResultAnswers.Refused:
                    p.Answer.TrySetException(new ApiException(
                        a.Code == ErrorCodes.PayloadTooLarge ? HttpStatusCode.RequestEntityTooLarge : HttpStatusCode.BadRequest,
                        a.Code ?? ErrorCodes.InvalidArgument, a.Error ?? "the controller refused this report"));
                    break;
                default:
                    p.Answer.TrySetException(new ApiException(HttpStatusCode.Conflict, ErrorCodes.LeaseLost,
                        $"execution {p.ExecutionId}: this worker no longer holds its lease"));
                    break;
            }
        }
    }

    private async Task SendAloneAsync(Pending p)
    {
        try
        {
            p.Answer.TrySetResult(await _client.ReportResultAsync(p.ExecutionId, p.Request, CancellationToken.None));
        }
        catch (Exception e)
        {
            p.Answer.TrySetException(e);
        }
    }

    /// <summary>About what the report adds to a request body; only used to keep batches near their size.</summary>
    private static int EstimatedBytes(ResultRequest r) =>
        256 + (r.Error?.Length ?? 0) * 2 + (r.Result is { } result ? result.GetRawText().Length : 0);

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _sender;
    }

    private sealed class Pending(Guid executionId, ResultRequest request, string? traceParent, int bytes)
    {
        /// <summary>About what this report adds to a batch's body (see <see cref="EstimatedBytes"/>).</summary>
        public int Bytes { get; } = bytes;
        public Guid ExecutionId { get; } = executionId;
        public ResultRequest Request { get; } = request;
        public TaskCompletionSource<ResultResponse> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ResultReport Report => new()
        {
            ExecutionId = ExecutionId,
            LeaseToken = Request.LeaseToken,
            ExitCode = Request.ExitCode,
            Error = Request.Error,
            Result = Request.Result,
            Retryable = Request.Retryable,
            Runtime = Request.Runtime,
            DurationSeconds = Request.DurationSeconds,
            TraceParent = traceParent,
        };
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The controller has no batch result route ({Reason}); reporting results one by one")]
    private partial void LogBatchRouteMissing(string reason);
}

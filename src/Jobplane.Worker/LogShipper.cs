using Jobplane.Api;
using Jobplane.Client;
using Jobplane.Worker.Runtimes;

namespace Jobplane.Worker;

/// <summary>
/// Collects one attempt's output and ships it to the controller in batches: every flush interval,
/// or sooner when a batch is full. Writing never blocks the job's output readers; a job that
/// out-writes the controller for long has its excess dropped (and counted in a marker line)
/// instead of growing the worker's memory without bound. Once the controller answers that the
/// execution's log is full (the operator's cap), nothing more is buffered or sent for it: the
/// controller would drop it anyway.
/// <para>The flush loop (a task, its timer and its signal) starts with the first line: most
/// attempts of short jobs write none, and paid for it all the same.</para>
/// </summary>
public sealed partial class LogShipper : ILogSink, IAsyncDisposable
{
    internal const int MaxBatchChars = 512 * 1024;
    internal const int MaxBufferedChars = 16 * 1024 * 1024;

    private readonly WorkerClient _client;
    private readonly Guid _executionId;
    private readonly Guid _leaseToken;
    private readonly TimeSpan _flushInterval;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationToken _abandon;
    private readonly Lock _gate = new();
    private readonly List<LogLine> _pending = [];
    // Made by the first Write (under _gate); null while the attempt has written nothing.
    private CancellationTokenSource? _stop;
    private SemaphoreSlim? _full;
    private Task? _loop;
    private bool _disposed;
    private long _pendingChars;
    private long _droppedLines;
    private bool _leaseGone;
    private bool _logFull;

    /// <param name="abandon">Ends retrying a failed batch (the attempt was killed: its lease is lost, nobody would take it).</param>
    public LogShipper(WorkerClient client, Guid executionId, Guid leaseToken, TimeSpan flushInterval, TimeProvider time, ILogger logger,
        CancellationToken abandon = default)
    {
        _abandon = abandon;
        _client = client;
        _executionId = executionId;
        _leaseToken = leaseToken;
        _flushInterval = flushInterval;
        _time = time;
        _logger = logger;
    }

    /// <summary>True once the controller refused a batch because this attempt lost its lease.</summary>
    public bool LeaseGone => Volatile.Read(ref _leaseGone);

    /// <summary>True once the controller said this execution's log reached its cap: further output is dropped here.</summary>
    public bool LogFull => Volatile.Read(ref _logFull);

    public void Write(LogStream stream, string line)
    {
        if (LogFull) return;
        // A line cut at a length may end in half a surrogate pair, which JSON cannot carry; and
        // NUL cannot be stored. Both become U+FFFD (no copy when there is neither).
        line = StorableText.Clean(line);
        SemaphoreSlim? signal = null;
        lock (_gate)
        {
            if (_pendingChars + line.Length > MaxBufferedChars)
            {
                _droppedLines++;
                return;
            }
            _pending.Add(new LogLine(line, stream == LogStream.Stderr ? "stderr" : "stdout"));
            _pendingChars += line.Length;
            // After disposal nothing ships on a timer: the final flush has taken what it could.
            if (_loop is null && !_disposed)
            {
                _stop = new CancellationTokenSource();
                _full = new SemaphoreSlim(0);
                _loop = Task.Run(() => LoopAsync(_stop.Token, _full), CancellationToken.None);
            }
            if (_pendingChars >= MaxBatchChars) signal = _full;
        }
        signal?.Release();
    }

    private async Task LoopAsync(CancellationToken stop, SemaphoreSlim full)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await full.WaitAsync(_flushInterval, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            await FlushAsync(CancellationToken.None);
        }
    }

    /// <summary>Ships everything buffered, in order, in batches of at most MaxBatchChars.</summary>
    private async Task FlushAsync(CancellationToken ct)
    {
        while (true)
        {
            List<LogLine> batch;
            lock (_gate)
            {
                if (_droppedLines > 0)
                {
                    _pending.Add(new LogLine($"[jobplane: {_droppedLines} log lines dropped: the job wrote faster than they could be shipped]", "stderr"));
                    _droppedLines = 0;
                }
                if (_pending.Count == 0) return;
                var take = 0;
                long chars = 0;
                while (take < _pending.Count && (take == 0 || chars + _pending[take].Content.Length <= MaxBatchChars) && take < 10_000)
                {
                    chars += _pending[take].Content.Length;
                    take++;
                }
                batch = _pending.GetRange(0, take);
                _pending.RemoveRange(0, take);
                _pendingChars -= chars;
            }
            if (LeaseGone || LogFull) continue; // nobody would store them; keep draining the buffer
            await SendWithRetryAsync(batch, ct);
        }
    }

    private async Task SendWithRetryAsync(List<LogLine> batch, CancellationToken ct)
    {
        var backoff = new CallBackoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5));
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var answer = await _client.AppendLogsAsync(_executionId, new AppendLogsRequest { Lines = batch, LeaseToken = _leaseToken }, ct);
                if (answer is { LogFull: true } && !LogFull)
                {
                    Volatile.Write(ref _logFull, true);
                    lock (_gate)
                    {
                        _pending.Clear();
                        _pendingChars = 0;
                        _droppedLines = 0;
                    }
                    LogLogFull(_executionId);
                }
                return;
            }
            catch (ApiException e) when (e.LeaseGone)
            {
                Volatile.Write(ref _leaseGone, true);
                return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or ApiException { Transient: true }
                && attempt < MaxTries && !_abandon.IsCancellationRequested)
            {
                var delay = backoff.Next();
                LogShipRetry(_executionId, attempt, e.Message);
                try
                {
                    await Task.Delay(delay, _time, _abandon);
                }
                catch (OperationCanceledException)
                {
                    LogShipFailed(_executionId, batch.Count, "the attempt was stopped while retrying");
                    return;
                }
            }
            catch (Exception e)
            {
                // Logs are best effort next to the outcome: never let them fail the attempt. A
                // refused batch (4xx) is never retried: the same lines would be refused again.
                LogShipFailed(_executionId, batch.Count, e.Message);
                return;
            }
        }
    }

    /// <summary>Tries of one batch before it is dropped.</summary>
    private const int MaxTries = 8;

    /// <summary>Stops the timer and ships whatever is left. Call after the job's output has ended.</summary>
    public async ValueTask DisposeAsync()
    {
        Task? loop;
        lock (_gate)
        {
            _disposed = true;
            loop = _loop;
        }
        if (loop is not null)
        {
            await _stop!.CancelAsync();
            await loop;
        }
        await FlushAsync(CancellationToken.None);
        _stop?.Dispose();
        _full?.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shipping logs of execution {ExecutionId} failed (try {Attempt}): {Reason}; retrying")]
    private partial void LogShipRetry(Guid executionId, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "The log of execution {ExecutionId} reached the controller's cap; the rest of its output is not shipped")]
    private partial void LogLogFull(Guid executionId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Dropped {Count} log lines of execution {ExecutionId}: {Reason}")]
    private partial void LogShipFailed(Guid executionId, int count, string reason);
}

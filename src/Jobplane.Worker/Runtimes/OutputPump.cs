using System.Text;

namespace Jobplane.Worker.Runtimes;

/// <summary>
/// What every runtime's output reader shares: one or more read loops run off the caller's thread,
/// hand complete lines to the sink as they arrive (never a whole line at once: a job can write a
/// line of any length), stop delivering once the attempt no longer wants output, end the attempt
/// when the sink or the read fails, and are abandoned rather than awaited forever when the end of
/// the output does not come. A runtime supplies only its read loops: where the bytes come from.
/// </summary>
internal abstract class OutputPump
{
    protected static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private readonly ILogSink _sink;
    private readonly int _maxLineChars;
    private readonly CancellationTokenSource _abandon = new();
    private readonly CancellationTokenSource _faulted = new();
    private Task _reading = Task.CompletedTask;
    /// <summary>Cleared once the attempt no longer wants output, so that no line reaches the sink after RunAsync returned.</summary>
    private volatile bool _open = true;
    private Exception? _fault;
    /// <summary>Counts arrivals of output (lines delivered, reads done): what tells a slow stream from a stuck one.</summary>
    private long _progress;

    protected OutputPump(ILogSink sink, int maxLineChars)
    {
        _sink = sink;
        _maxLineChars = maxLineChars;
    }

    /// <summary>Cancelled when the sink or a read failed: the attempt must end rather than wait on a job that cannot write.</summary>
    public CancellationToken Faulted => _faulted.Token;

    /// <summary>Cancelled when reading is abandoned; read loops pass it to their reads.</summary>
    protected CancellationToken Abandoned => _abandon.Token;

    /// <summary>Starts the read loops; a subclass calls it once, at the end of its constructor.</summary>
    protected void Start(params Func<Task>[] readers) =>
        _reading = Task.WhenAll(readers.Select(GuardAsync));

    private async Task GuardAsync(Func<Task> read)
    {
        // Off the caller's thread from the start: the first read may complete synchronously.
        await Task.Yield();
        try
        {
            await read();
        }
        catch (Exception) when (_abandon.IsCancellationRequested)
        {
            // Abandoned on purpose: whatever the read threw as it was cut off means nothing.
        }
        catch (Exception ex)
        {
            Interlocked.CompareExchange(ref _fault, ex, null);
            _open = false;
            _faulted.Cancel();
        }
    }

    /// <summary>A line splitter that delivers one stream's lines to the sink while output is wanted.</summary>
    protected LineSplitter LinesOf(LogStream stream) => new(_maxLineChars, line => Deliver(stream, line));

    /// <summary>A read loop received bytes: the output is still arriving.</summary>
    protected void Progressed() => Interlocked.Increment(ref _progress);

    private void Deliver(LogStream stream, string line)
    {
        Progressed();
        if (!_open) return;
        try
        {
            _sink.Write(stream, line);
        }
        catch (Exception ex)
        {
            throw new SinkFailedException(ex);
        }
    }

    /// <summary>
    /// Waits for every read loop to reach the end of its output. False when that did not happen
    /// within <paramref name="limit"/> (a stuck connection, or something outside the job still
    /// holding a pipe): reading is abandoned and the rest of the output dropped, rather than the
    /// attempt hanging for as long as the holder lives.
    /// </summary>
    /// <param name="whileArriving">
    /// When given, output that is still arriving when <paramref name="limit"/> passes keeps the wait
    /// going, one more limit at a time, for at most this long in all: a container's log is finite
    /// once the container ended, and a busy machine may need longer than the limit to read it all.
    /// Only a stream that delivers nothing for a whole limit is taken to be stuck.
    /// </param>
    public async Task<bool> DrainAsync(TimeSpan limit, TimeProvider time, TimeSpan? whileArriving = null)
    {
        var started = time.GetTimestamp();
        var seen = Interlocked.Read(ref _progress);
        while (true)
        {
            try
            {
                await _reading.WaitAsync(limit, time);
                return true;
            }
            catch (TimeoutException)
            {
                // Stuck, or only slow: the arrivals tell.
            }
            var now = Interlocked.Read(ref _progress);
            if (whileArriving is not { } longest || now == seen || time.GetElapsedTime(started) >= longest) break;
            seen = now;
        }
        Abandon();
        try
        {
            await _reading.WaitAsync(limit, time);
        }
        catch (TimeoutException)
        {
            // A read that ignores cancellation ends when the holder goes away; nobody listens by then.
        }
        return false;
    }

    /// <summary>Stops delivering and cuts the reads off.</summary>
    public void Abandon()
    {
        _open = false;
        if (!_abandon.IsCancellationRequested) _abandon.Cancel();
        OnAbandoned();
    }

    /// <summary>Releases what a read may be blocked on and that ignores cancellation (a connection, say).</summary>
    protected virtual void OnAbandoned()
    {
    }

    public void ThrowIfFaulted()
    {
        switch (_fault)
        {
            case null:
                return;
            case SinkFailedException sink:
                throw new InvalidOperationException("the log sink failed while receiving job output", sink.InnerException);
            default:
                throw new InvalidOperationException($"reading the job's output failed: {_fault.Message}", _fault);
        }
    }

    private sealed class SinkFailedException(Exception inner) : Exception("the log sink failed", inner);
}

using System.Text;

namespace Jobplane.Worker.Runtimes.Exec;

/// <summary>
/// Reads stdout and stderr concurrently, chunk by chunk (never a whole line at once: a job can
/// write a line of any length), and hands complete lines to the sink as they arrive. Reading
/// both at once is what keeps a job that fills one pipe while we wait on the other from stalling.
/// </summary>
internal sealed class OutputPumps
{
    private const int ReadChars = 16 * 1024;
    private const int StreamBufferBytes = 64 * 1024;
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private readonly ILogSink _sink;
    private readonly int _maxLineChars;
    private readonly CancellationTokenSource _abandon = new();
    private readonly CancellationTokenSource _faulted = new();
    private readonly Task _both;
    /// <summary>Cleared once the attempt no longer wants output, so that no line reaches the sink after RunAsync returned.</summary>
    private volatile bool _open = true;
    private Exception? _fault;

    public OutputPumps(JobProcess process, ILogSink sink, int maxLineChars)
    {
        _sink = sink;
        _maxLineChars = maxLineChars;
        _both = Task.WhenAll(
            PumpAsync(process.Stdout, LogStream.Stdout),
            PumpAsync(process.Stderr, LogStream.Stderr));
    }

    /// <summary>Cancelled when the sink threw: the attempt must end rather than block on a full pipe.</summary>
    public CancellationToken Faulted => _faulted.Token;

    private async Task PumpAsync(Stream pipe, LogStream stream)
    {
        // Off the caller's thread from the start: the first read may complete synchronously.
        await Task.Yield();
        try
        {
            using var reader = new StreamReader(pipe, Utf8, detectEncodingFromByteOrderMarks: false, StreamBufferBytes);
            var splitter = new LineSplitter(_maxLineChars, line =>
            {
                if (_open) _sink.Write(stream, line);
            });
            var buffer = new char[ReadChars];
            while (true)
            {
                int n;
                try
                {
                    n = await reader.ReadAsync(buffer, _abandon.Token);
                }
                catch (OperationCanceledException) when (_abandon.IsCancellationRequested)
                {
                    return;
                }
                catch (IOException)
                {
                    // A broken pipe: nothing more will come.
                    n = 0;
                }
                if (n == 0)
                {
                    splitter.Flush();
                    return;
                }
                splitter.Append(buffer.AsSpan(0, n));
            }
        }
        catch (Exception ex)
        {
            // Only the sink can get here: a worker-side fault, reported by ThrowIfFaulted.
            Interlocked.CompareExchange(ref _fault, ex, null);
            _open = false;
            _faulted.Cancel();
        }
    }

    /// <summary>
    /// Waits for both streams to reach end of file. False when something outside the job's
    /// process group still held a pipe after <paramref name="limit"/>: reading is abandoned and
    /// the rest of its output dropped, rather than the attempt hanging for as long as it lives.
    /// </summary>
    public async Task<bool> DrainAsync(TimeSpan limit, TimeProvider time)
    {
        try
        {
            await _both.WaitAsync(limit, time);
            return true;
        }
        catch (TimeoutException)
        {
            // Fall through to abandoning the reads.
        }
        _open = false;
        _abandon.Cancel();
        try
        {
            await _both.WaitAsync(limit, time);
        }
        catch (TimeoutException)
        {
            // A read that ignores cancellation ends when the holder exits; nobody listens by then.
        }
        return false;
    }

    public void ThrowIfFaulted()
    {
        if (_fault is not null)
            throw new InvalidOperationException("the log sink failed while receiving job output", _fault);
    }
}

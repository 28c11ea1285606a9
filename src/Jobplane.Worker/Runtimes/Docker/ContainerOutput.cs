using System.Text;
using Docker.DotNet;

namespace Jobplane.Worker.Runtimes.Docker;

/// <summary>
/// Reads a container's attach stream, in which the engine interleaves stdout and stderr frames, and
/// hands each stream's complete lines to the sink as they arrive. Each stream has its own UTF-8
/// decoder and line splitter, so a character or a line split across frames comes out whole and
/// the two streams never mix. Reading is what lets the container go on writing: a slow sink slows
/// the job rather than buffering its output without bound.
/// </summary>
internal sealed class ContainerOutput
{
    private const int ReadBytes = 64 * 1024;
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private readonly MultiplexedStream _stream;
    private readonly ILogSink _sink;
    private readonly int _maxLineChars;
    private readonly CancellationTokenSource _abandon = new();
    private readonly CancellationTokenSource _faulted = new();
    private readonly Task _pump;
    /// <summary>Cleared once the attempt no longer wants output, so that no line reaches the sink after RunAsync returned.</summary>
    private volatile bool _open = true;
    private Exception? _fault;

    public ContainerOutput(MultiplexedStream stream, ILogSink sink, int maxLineChars)
    {
        _stream = stream;
        _sink = sink;
        _maxLineChars = maxLineChars;
        _pump = PumpAsync();
    }

    /// <summary>Cancelled when the sink or the stream failed: the attempt must end rather than wait on a job that cannot write.</summary>
    public CancellationToken Faulted => _faulted.Token;

    private async Task PumpAsync()
    {
        // Off the caller's thread from the start: the first read may complete synchronously.
        await Task.Yield();
        var stdout = new StreamDecoder(this, LogStream.Stdout);
        var stderr = new StreamDecoder(this, LogStream.Stderr);
        var buffer = new byte[ReadBytes];
        try
        {
            while (true)
            {
                var read = await _stream.ReadOutputAsync(buffer, 0, buffer.Length, _abandon.Token);
                if (read.EOF)
                {
                    stdout.Flush();
                    stderr.Flush();
                    return;
                }
                var decoder = read.Target == MultiplexedStream.TargetStream.StandardError ? stderr : stdout;
                decoder.Append(buffer.AsSpan(0, read.Count));
            }
        }
        catch (Exception) when (_abandon.IsCancellationRequested)
        {
            // Abandoned: the stream was closed under the read on purpose.
        }
        catch (Exception ex)
        {
            Interlocked.CompareExchange(ref _fault, ex, null);
            _open = false;
            _faulted.Cancel();
        }
    }

    private void Deliver(LogStream stream, string line)
    {
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
    /// Waits for the end of the stream, which the engine sends once the container has exited and
    /// all its output has been passed on. False when it did not come within <paramref name="limit"/>:
    /// reading is abandoned rather than the attempt hanging on a stuck connection.
    /// </summary>
    public async Task<bool> DrainAsync(TimeSpan limit, TimeProvider time)
    {
        try
        {
            await _pump.WaitAsync(limit, time);
            return true;
        }
        catch (TimeoutException)
        {
            Abandon();
            return false;
        }
    }

    /// <summary>Stops delivering and closes the stream; the pump ends with it.</summary>
    public void Abandon()
    {
        _open = false;
        if (!_abandon.IsCancellationRequested) _abandon.Cancel();
        _stream.Dispose();
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
                throw new InvalidOperationException($"reading the container's output failed: {_fault.Message}", _fault);
        }
    }

    /// <summary>One stream's bytes to characters to lines; the decoder keeps a character split across frames.</summary>
    private sealed class StreamDecoder
    {
        private readonly Decoder _decoder = Utf8.GetDecoder();
        private readonly char[] _chars = new char[Utf8.GetMaxCharCount(ReadBytes)];
        private readonly LineSplitter _lines;

        public StreamDecoder(ContainerOutput output, LogStream stream) =>
            _lines = new LineSplitter(output._maxLineChars, line => output.Deliver(stream, line));

        public void Append(ReadOnlySpan<byte> bytes)
        {
            var n = _decoder.GetChars(bytes, _chars, flush: false);
            _lines.Append(_chars.AsSpan(0, n));
        }

        public void Flush()
        {
            var n = _decoder.GetChars([], _chars, flush: true);
            _lines.Append(_chars.AsSpan(0, n));
            _lines.Flush();
        }
    }

    private sealed class SinkFailedException(Exception inner) : Exception("the log sink failed", inner);
}

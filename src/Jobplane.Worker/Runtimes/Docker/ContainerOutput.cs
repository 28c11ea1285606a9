using System.Text;
using Docker.DotNet;

namespace Jobplane.Worker.Runtimes.Docker;

/// <summary>
/// Reads a container's attach stream, in which the engine interleaves stdout and stderr frames.
/// Each stream has its own UTF-8 decoder and line splitter, so a character or a line split across
/// frames comes out whole and the two streams never mix. Reading is what lets the container go on
/// writing: a slow sink slows the job rather than buffering its output without bound. The engine
/// ends the stream once the container has exited and all its output has been passed on.
/// </summary>
internal sealed class ContainerOutput : OutputPump
{
    private const int ReadBytes = 64 * 1024;

    private readonly MultiplexedStream _stream;

    public ContainerOutput(MultiplexedStream stream, ILogSink sink, int maxLineChars) : base(sink, maxLineChars)
    {
        _stream = stream;
        Start(ReadFramesAsync);
    }

    private async Task ReadFramesAsync()
    {
        var stdout = new StreamDecoder(LinesOf(LogStream.Stdout));
        var stderr = new StreamDecoder(LinesOf(LogStream.Stderr));
        var buffer = new byte[ReadBytes];
        while (true)
        {
            var read = await _stream.ReadOutputAsync(buffer, 0, buffer.Length, Abandoned);
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

    /// <summary>Closing the stream is what ends a read blocked on the connection.</summary>
    protected override void OnAbandoned() => _stream.Dispose();

    /// <summary>One stream's bytes to characters to lines; the decoder keeps a character split across frames.</summary>
    private sealed class StreamDecoder(LineSplitter lines)
    {
        private readonly Decoder _decoder = Utf8.GetDecoder();
        private readonly char[] _chars = new char[Utf8.GetMaxCharCount(ReadBytes)];

        public void Append(ReadOnlySpan<byte> bytes)
        {
            var n = _decoder.GetChars(bytes, _chars, flush: false);
            lines.Append(_chars.AsSpan(0, n));
        }

        public void Flush()
        {
            var n = _decoder.GetChars([], _chars, flush: true);
            lines.Append(_chars.AsSpan(0, n));
            lines.Flush();
        }
    }
}

using System.Buffers;

namespace Jobplane.Worker.Runtimes.Exec;

/// <summary>
/// Reads a process's stdout and stderr pipes concurrently, chunk by chunk. Reading both at once is
/// what keeps a job that fills one pipe while we wait on the other from stalling.
/// </summary>
internal sealed class OutputPumps : OutputPump
{
    private const int ReadBytes = 16 * 1024;

    public OutputPumps(JobProcess process, ILogSink sink, int maxLineChars) : base(sink, maxLineChars) =>
        Start(() => ReadPipeAsync(process.Stdout, LogStream.Stdout), () => ReadPipeAsync(process.Stderr, LogStream.Stderr));

    private async Task ReadPipeAsync(Stream pipe, LogStream stream)
    {
        var lines = LinesOf(stream);
        // Decoded here rather than through a StreamReader, whose buffers (64 KB of bytes and twice that
        // of characters per stream) were allocated for every attempt, most of which write a line or none.
        // The pooled buffers go back only when this loop ends, so nothing reads into a returned one.
        var decoder = Utf8.GetDecoder();
        var bytes = ArrayPool<byte>.Shared.Rent(ReadBytes);
        var chars = ArrayPool<char>.Shared.Rent(Utf8.GetMaxCharCount(ReadBytes));
        try
        {
            while (true)
            {
                int n;
                try
                {
                    n = await pipe.ReadAsync(bytes.AsMemory(0, ReadBytes), Abandoned);
                }
                catch (IOException)
                {
                    // A broken pipe: nothing more will come.
                    n = 0;
                }
                // At the end the decoder flushes an incomplete sequence as a replacement character.
                var decoded = decoder.GetChars(bytes, 0, n, chars, 0, flush: n == 0);
                if (decoded > 0) lines.Append(chars.AsSpan(0, decoded));
                if (n == 0)
                {
                    lines.Flush();
                    return;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
            ArrayPool<char>.Shared.Return(chars);
        }
    }
}

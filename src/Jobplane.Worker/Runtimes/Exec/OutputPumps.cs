namespace Jobplane.Worker.Runtimes.Exec;

/// <summary>
/// Reads a process's stdout and stderr pipes concurrently, chunk by chunk. Reading both at once is
/// what keeps a job that fills one pipe while we wait on the other from stalling.
/// </summary>
internal sealed class OutputPumps : OutputPump
{
    private const int ReadChars = 16 * 1024;
    private const int StreamBufferBytes = 64 * 1024;

    public OutputPumps(JobProcess process, ILogSink sink, int maxLineChars) : base(sink, maxLineChars) =>
        Start(() => ReadPipeAsync(process.Stdout, LogStream.Stdout), () => ReadPipeAsync(process.Stderr, LogStream.Stderr));

    private async Task ReadPipeAsync(Stream pipe, LogStream stream)
    {
        using var reader = new StreamReader(pipe, Utf8, detectEncodingFromByteOrderMarks: false, StreamBufferBytes);
        var lines = LinesOf(stream);
        var buffer = new char[ReadChars];
        while (true)
        {
            int n;
            try
            {
                n = await reader.ReadAsync(buffer, Abandoned);
            }
            catch (IOException)
            {
                // A broken pipe: nothing more will come.
                n = 0;
            }
            if (n == 0)
            {
                lines.Flush();
                return;
            }
            lines.Append(buffer.AsSpan(0, n));
        }
    }
}

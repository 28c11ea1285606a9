using Jobplane.Worker.Runtimes;

namespace Jobplane.Worker;

/// <summary>
/// For an attempt taken over after a worker restart: its unit's output is read again from the start,
/// and the first lines of each stream, the ones the controller already stored, are dropped here, so
/// that the log holds every line once. Thread-safe per stream, as the sink contract asks.
/// </summary>
internal sealed class SkippingLogSink(ILogSink inner, long skipStdout, long skipStderr) : ILogSink
{
    private long _stdoutLeft = skipStdout;
    private long _stderrLeft = skipStderr;

    public void Write(LogStream stream, string line)
    {
        ref var left = ref stream == LogStream.Stderr ? ref _stderrLeft : ref _stdoutLeft;
        if (Volatile.Read(ref left) > 0 && Interlocked.Decrement(ref left) >= 0) return;
        inner.Write(stream, line);
    }
}

using Jobplane.Worker.Runtimes;

namespace Jobplane.Worker.Tests.Conformance;

/// <summary>Cancels the stop (and kill) switches once the job has shown it is running, as a shutdown or a lost lease would.</summary>
internal sealed class StopOnFirstLine(CancellationTokenSource stop, CancellationTokenSource? kill = null) : ILogSink
{
    // Off the output reader's thread, as the worker's heartbeat loop would do it.
    public void Write(LogStream stream, string line) => ThreadPool.QueueUserWorkItem(_ =>
    {
        kill?.Cancel();
        stop.Cancel();
    });
}

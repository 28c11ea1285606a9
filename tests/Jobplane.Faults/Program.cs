using System.Runtime.InteropServices;
using Jobplane.Faults;

// Linux only: signals by number, runuser, /proc-based orphan cleanup in the workers under test.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

// jobplane-faults: the fault-injection suite. Runs the built platform against a private PostgreSQL,
// injects crashes, pauses and restarts while executions are submitted and run, then checks that
// nothing acknowledged was lost, nothing unacknowledged appeared and nothing completed twice.
FaultOptions options;
try
{
    options = FaultOptions.Parse(args);
}
catch (ArgumentException e)
{
    if (e.Message.Length > 0) await Console.Error.WriteLineAsync($"jobplane-faults: {e.Message}");
    await Console.Error.WriteLineAsync(FaultOptions.Usage);
    return 2;
}

using var interrupted = new CancellationTokenSource();
// Ctrl+C or SIGTERM ends the run but still stops every process and removes the temporary
// directory; a second one exits at once.
void Interrupt(PosixSignalContext context)
{
    if (interrupted.IsCancellationRequested) return;
    context.Cancel = true;
    Console.Error.WriteLine("jobplane-faults: interrupted; cleaning up (interrupt again to exit at once)");
    interrupted.Cancel();
}
using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);
using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);

try
{
    return await new FaultRun(options, new Timeline()).RunAsync(interrupted.Token);
}
catch (SetupException e)
{
    await Console.Error.WriteLineAsync($"jobplane-faults: {e.Message}");
    return 2;
}
catch (OperationCanceledException) when (interrupted.IsCancellationRequested)
{
    await Console.Error.WriteLineAsync("jobplane-faults: interrupted");
    return 130;
}
catch (Exception e)
{
    await Console.Error.WriteLineAsync($"jobplane-faults: the run broke down: {e}");
    return 1;
}

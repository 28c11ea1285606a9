using Jobplane.Cli;

// The first Ctrl+C cancels the running command (e.g. `logs -f`) so it ends cleanly with exit 130;
// a second one, if that hangs, ends the process the usual way.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = !cancellation.IsCancellationRequested;
    cancellation.Cancel();
};

return await JobctlApp.RunAsync(args, Console.Out, Console.Error, environment: null, handler: null, cancellation.Token);

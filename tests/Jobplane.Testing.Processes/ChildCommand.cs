namespace Jobplane.Testing.Processes;

/// <summary>A short-lived helper command (initdb, pg_ctl, promtool) run to completion.</summary>
public static class ChildCommand
{
    public sealed record Result(int ExitCode, string Output);

    /// <summary>
    /// Runs it with the caller's environment (helpers need the machine's own settings) and returns
    /// its exit code and output; past the timeout it is killed and a TimeoutException thrown.
    /// </summary>
    public static async Task<Result> RunAsync(string program, IReadOnlyList<string> args, TimeSpan timeout, CancellationToken ct = default)
    {
        await using var child = ChildProcess.Start(new ChildProcessStart(program, program) { Arguments = args, InheritEnvironment = true });
        if (!await child.WaitForExitAsync(timeout, ct))
        {
            ct.ThrowIfCancellationRequested();
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish within {timeout.TotalSeconds:0}s");
        }
        return new Result(child.ExitCode, child.Output.Trim());
    }
}

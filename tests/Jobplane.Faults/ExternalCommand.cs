using System.ComponentModel;
using Jobplane.Testing.Processes;

namespace Jobplane.Faults;

/// <summary>Runs a short-lived helper command (initdb, pg_ctl, chown) to completion; a missing one is a setup problem.</summary>
public static class ExternalCommand
{
    public static async Task<ChildCommand.Result> RunAsync(string file, IReadOnlyList<string> args, TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            return await ChildCommand.RunAsync(file, args, timeout, ct);
        }
        catch (Win32Exception e)
        {
            throw new SetupException($"cannot run {file}: {e.Message}");
        }
    }

    /// <summary>Runs the command and throws with its output when it fails.</summary>
    public static async Task<string> RunCheckedAsync(string file, IReadOnlyList<string> args, TimeSpan timeout, CancellationToken ct)
    {
        var r = await RunAsync(file, args, timeout, ct);
        if (r.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {r.ExitCode}:\n{r.Output}");
        return r.Output;
    }
}

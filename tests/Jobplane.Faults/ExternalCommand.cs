using System.Diagnostics;

namespace Jobplane.Faults;

/// <summary>The environment of the run is not what it needs: missing binaries, no PostgreSQL.</summary>
public sealed class SetupException(string message) : Exception(message);

/// <summary>Runs a short-lived helper command (initdb, pg_ctl, chown) to completion.</summary>
public static class ExternalCommand
{
    public sealed record Result(int ExitCode, string Output);

    public static async Task<Result> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = new Process { StartInfo = psi };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new SetupException($"cannot run {file}: {e.Message}");
        }
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            ct.ThrowIfCancellationRequested();
            throw new TimeoutException($"{file} {string.Join(' ', psi.ArgumentList)} did not finish within {timeout.TotalSeconds:0}s");
        }
        return new Result(process.ExitCode, (await stdout + await stderr).Trim());
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

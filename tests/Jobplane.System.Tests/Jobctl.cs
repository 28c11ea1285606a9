using System.Diagnostics;

namespace Jobplane.SystemTests;

/// <summary>Runs the real jobctl binary, as a user's shell would.</summary>
public static class Jobctl
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string Line => Stdout.Trim();
    }

    public static async Task<Result> RunAsync(string url, string? token, params string[] args)
    {
        var psi = new ProcessStartInfo(PlatformBinaries.Locate("jobctl"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment.Remove("JOBPLANE_TOKEN");
        psi.Environment["JOBPLANE_URL"] = url;
        psi.Environment["HOME"] = Path.GetTempPath(); // no ~/.jobctl.yaml of the machine's user
        if (token is not null) psi.Environment["JOBPLANE_TOKEN"] = token;
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(cts.Token);
        return new Result(p.ExitCode, await stdout, await stderr);
    }
}

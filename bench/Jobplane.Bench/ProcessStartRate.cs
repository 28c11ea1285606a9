using System.Diagnostics;

namespace Jobplane.Bench;

/// <summary>
/// The machine's own ceiling for the exec runtime: how many short processes per second .NET can
/// start here, with stdout and stderr captured as the exec runtime captures them, several at once.
/// </summary>
public static class ProcessStartRate
{
    /// <summary>Processes per second starting <paramref name="program"/> with <paramref name="args"/> to completion, <paramref name="parallelism"/> at a time.</summary>
    public static async Task<double> MeasureAsync(string program, string[] args, int count, int parallelism)
    {
        var next = 0;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, parallelism).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) <= count)
            {
                var psi = new ProcessStartInfo(program)
                {
                    UseShellExecute = false,
                    RedirectStandardInput = true,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                };
                foreach (var a in args) psi.ArgumentList.Add(a);
                using var p = Process.Start(psi)!;
                p.StandardInput.Close();
                var stdout = p.StandardOutput.ReadToEndAsync();
                var stderr = p.StandardError.ReadToEndAsync();
                await Task.WhenAll(stdout, stderr);
                await p.WaitForExitAsync();
            }
        })));
        return count / watch.Elapsed.TotalSeconds;
    }
}

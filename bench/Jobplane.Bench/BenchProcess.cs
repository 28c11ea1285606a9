using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Jobplane.Bench;

/// <summary>
/// One of the platform's binaries (a controller or a worker) running as a child process, its output
/// appended to a log file, its memory read from /proc.
/// </summary>
public sealed partial class BenchProcess : IAsyncDisposable
{
    private readonly Process _process;

    private BenchProcess(string name, Process process, string logPath)
    {
        Name = name;
        _process = process;
        LogPath = logPath;
    }

    public string Name { get; }
    public string LogPath { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    /// <summary>Peak resident memory (VmHWM) read before the process was stopped, in MiB.</summary>
    public double PeakRssMiB { get; private set; }

    public static BenchProcess Start(string name, string binary, IReadOnlyDictionary<string, string> env, string logPath, params string[] args)
    {
        // The shell execs the binary in place (the pid is the binary's), its output going to the log:
        // no pipe for us to drain while we measure.
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("log=$1; shift; exec \"$@\" </dev/null >>\"$log\" 2>&1");
        psi.ArgumentList.Add("sh");
        psi.ArgumentList.Add(logPath);
        psi.ArgumentList.Add(binary);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Clear();
        foreach (var key in new[] { "PATH", "HOME", "DOTNET_ROOT", "LANG", "TMPDIR" })
        {
            if (Environment.GetEnvironmentVariable(key) is { } v) psi.Environment[key] = v;
        }
        foreach (var (k, v) in env) psi.Environment[k] = v;
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {binary}");
        return new BenchProcess(name, process, logPath);
    }

    /// <summary>VmRSS and VmHWM (peak) in MiB, from /proc/PID/status; null once the process is gone.</summary>
    public (double Rss, double Peak)? Memory()
    {
        try
        {
            double rss = 0, peak = 0;
            foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kib(line) / 1024;
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = Kib(line) / 1024;
            }
            return (rss, peak);
        }
        catch (IOException)
        {
            return null;
        }

        static double Kib(string line) =>
            double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }

    public string Tail(int lines)
    {
        try
        {
            var all = File.ReadAllLines(LogPath);
            return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>Records the peak memory, then asks the process to end (SIGTERM) and kills it if it has not within the grace period.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (Memory() is { } m) PeakRssMiB = m.Peak;
        if (_process.HasExited) return;
        _ = Kill(Pid, 15);
        using var cts = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _ = Kill(Pid, 9);
            await _process.WaitForExitAsync(CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _ = Kill(Pid, 9);
            await _process.WaitForExitAsync(CancellationToken.None);
        }
        _process.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

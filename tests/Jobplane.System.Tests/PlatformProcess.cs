using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Jobplane.SystemTests;

/// <summary>One of the platform's real binaries running as a child process, with its output captured.</summary>
public sealed partial class PlatformProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _gate = new();

    private PlatformProcess(Process process) => _process = process;

    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public string Output
    {
        get { lock (_gate) return _output.ToString(); }
    }

    /// <summary>Locates a binary built by `make build-all` (JOBPLANE_BIN), falling back to the Debug build.</summary>
    public static string Binary(string name)
    {
        var bin = Environment.GetEnvironmentVariable("JOBPLANE_BIN");
        if (!string.IsNullOrEmpty(bin) && File.Exists(Path.Combine(bin, name))) return Path.Combine(bin, name);
        var project = name switch
        {
            "jobplane-controller" => "Jobplane.Controller",
            "jobplane-worker" => "Jobplane.Worker",
            "jobctl" => "Jobplane.Cli",
            _ => throw new ArgumentException(name),
        };
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Jobplane.slnx"))) dir = Path.GetDirectoryName(dir);
        var debug = Path.Combine(dir ?? throw new InvalidOperationException("repository root not found"), "src", project, "bin", "Debug", "net10.0", name);
        return File.Exists(debug) ? debug : throw new FileNotFoundException($"{name} not built: run 'make build-all' or set JOBPLANE_BIN", debug);
    }

    public static PlatformProcess Start(string name, IReadOnlyDictionary<string, string?> env, params string[] args) =>
        StartProgram(Binary(name), env, args);

    /// <summary>Any program (a path, or a name found on PATH) run the same way: clean environment, output captured.</summary>
    public static PlatformProcess StartProgram(string program, IReadOnlyDictionary<string, string?> env, params string[] args)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // Start from a clean slate: only what the test gives, plus what .NET needs to run.
        psi.Environment.Clear();
        foreach (var key in new[] { "PATH", "HOME", "DOTNET_ROOT", "LANG" })
        {
            if (Environment.GetEnvironmentVariable(key) is { } v) psi.Environment[key] = v;
        }
        foreach (var (k, v) in env) psi.Environment[k] = v;
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var p = new PlatformProcess(process);
        process.OutputDataReceived += (_, e) => p.Append(e.Data);
        process.ErrorDataReceived += (_, e) => p.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return p;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_gate) _output.AppendLine(line);
    }

    public void Signal(int signal)
    {
        if (!_process.HasExited) _ = Kill(_process.Id, signal);
    }

    public void KillHard() => Signal(9);

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            KillHard();
            try { await WaitForExitAsync(TimeSpan.FromSeconds(10)); }
            catch (OperationCanceledException) { }
        }
        _process.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

using System.Diagnostics;

namespace Jobplane.Testing.Processes;

/// <summary>
/// One program running as a child process: a platform binary, Prometheus, a helper command. Its
/// output is captured (or logged to a file), it can be signalled and awaited, and disposing it
/// kills whatever of its process tree still runs.
/// </summary>
public sealed partial class ChildProcess : IAsyncDisposable
{
    // What .NET and the platform's binaries need to run at all; everything else is the caller's to give.
    private static readonly string[] PassedThrough = ["PATH", "HOME", "DOTNET_ROOT", "LANG", "TMPDIR"];

    private readonly Process _process;
    private readonly ProcessOutput _output;

    private ChildProcess(string name, Process process, ProcessOutput output)
    {
        Name = name;
        _process = process;
        _output = output;
    }

    public string Name { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>Everything kept of its output (bounded when captured in memory).</summary>
    public string Output => _output.Text;

    /// <summary>The last lines of its output, quoted, for failure messages.</summary>
    public string Tail(int lines) => _output.Tail(lines);

    public static ChildProcess Start(ChildProcessStart start)
    {
        var psi = new ProcessStartInfo { UseShellExecute = false };
        ProcessOutput output;
        if (start.LogPath is { } log)
        {
            // The shell execs the program in place (the pid we signal is the program's) with its output
            // appended to the log file.
            output = new LogFileOutput(log);
            psi.FileName = "/bin/sh";
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("log=$1; shift; exec \"$@\" </dev/null >>\"$log\" 2>&1");
            psi.ArgumentList.Add("sh");
            psi.ArgumentList.Add(log);
            psi.ArgumentList.Add(start.Program);
        }
        else
        {
            output = new CapturedOutput();
            psi.FileName = start.Program;
            psi.RedirectStandardOutput = true;
            psi.RedirectStandardError = true;
        }
        foreach (var a in start.Arguments) psi.ArgumentList.Add(a);
        if (!start.InheritEnvironment)
        {
            psi.Environment.Clear();
            foreach (var key in PassedThrough)
            {
                if (Environment.GetEnvironmentVariable(key) is { } v) psi.Environment[key] = v;
            }
        }
        foreach (var (k, v) in start.Environment) psi.Environment[k] = v;

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var child = new ChildProcess(start.Name, process, output);
        if (output is CapturedOutput captured)
        {
            process.OutputDataReceived += (_, e) => captured.Append(e.Data);
            process.ErrorDataReceived += (_, e) => captured.Append(e.Data);
        }
        if (start.Exited is { } exited) process.Exited += (_, _) => exited(child);
        try
        {
            process.Start();
        }
        catch
        {
            process.Dispose();
            throw;
        }
        if (output is CapturedOutput)
        {
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }
        return child;
    }

    /// <summary>Sends a signal to the process itself (not its children); false when it has exited.</summary>
    public bool Signal(int signal) => !_process.HasExited && Signals.Send(_process.Id, signal);

    /// <summary>True once it has exited (its captured output read to the end), false if it still runs after the timeout.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout, CancellationToken ct = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
            return true;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Its exit code once it has exited; a TimeoutException quoting its output if it still runs after the timeout.</summary>
    public async Task<int> ExitCodeAsync(TimeSpan timeout, CancellationToken ct = default) =>
        await WaitForExitAsync(timeout, ct)
            ? _process.ExitCode
            : throw new TimeoutException($"{Name} still running after {timeout.TotalSeconds:0}s:\n{Tail(30)}");

    /// <summary>Resumes it (it may be stopped), asks it to end, and kills it if it has not within <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        Signal(Signals.SIGCONT);
        if (!Signal(Signals.SIGTERM)) return;
        if (await WaitForExitAsync(grace)) return;
        Signal(Signals.SIGKILL);
        await WaitForExitAsync(TimeSpan.FromSeconds(10));
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                // Jobs a worker started die with it: nothing of a test outlives the test.
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It exited meanwhile.
            }
            await WaitForExitAsync(TimeSpan.FromSeconds(10));
        }
        _process.Dispose();
    }
}

using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Jobplane.Faults;

/// <summary>Linux signal numbers the nemesis sends.</summary>
public static class Signals
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;
    public const int SIGCONT = 18;
    public const int SIGSTOP = 19;

    public static string Name(int signal) => signal switch
    {
        SIGKILL => "SIGKILL",
        SIGTERM => "SIGTERM",
        SIGCONT => "SIGCONT",
        SIGSTOP => "SIGSTOP",
        _ => $"signal {signal}",
    };
}

/// <summary>
/// One of the platform's binaries (a controller or a worker) across all its lives: the nemesis
/// kills it and starts it again with the same settings (same port, same WORKER_ID). Output is
/// appended to one log file per process, each life headed by a marker line.
/// </summary>
public sealed partial class PlatformProcess : IAsyncDisposable
{
    private readonly string _binary;
    private readonly IReadOnlyDictionary<string, string> _env;
    private readonly IReadOnlyList<string> _args;
    private readonly Action<PlatformProcess, int> _onUnexpectedExit;
    private readonly Lock _gate = new();
    private Life? _life;
    private long _lifeLogStart;

    /// <summary>One start of the binary. ExitExpected is set before we signal it to end.</summary>
    private sealed class Life(Process process)
    {
        public Process Process { get; } = process;
        public volatile bool ExitExpected;
    }

    public PlatformProcess(string name, string binary, IReadOnlyDictionary<string, string> env, IReadOnlyList<string> args,
        string logPath, Action<PlatformProcess, int> onUnexpectedExit)
    {
        Name = name;
        _binary = binary;
        _env = env;
        _args = args;
        LogPath = logPath;
        _onUnexpectedExit = onUnexpectedExit;
    }

    public string Name { get; }
    public string LogPath { get; }

    /// <summary>
    /// Held by whoever changes this process's state (a fault in progress, a restart after a crash),
    /// so that two of them never act on the same process at once.
    /// </summary>
    public SemaphoreSlim Gate { get; } = new(1, 1);

    public int Lives { get; private set; }

    public int? Pid
    {
        get { lock (_gate) return _life is { } l && !l.Process.HasExited ? l.Process.Id : null; }
    }

    public bool IsRunning => Pid is not null;

    public void Start()
    {
        lock (_gate)
        {
            if (_life is { } old)
            {
                if (!old.Process.HasExited) throw new InvalidOperationException($"{Name} is still running (pid {old.Process.Id})");
                old.Process.Dispose();
            }
            Lives++;
            File.AppendAllText(LogPath, $"==== {Name}: life {Lives} starting at {Timeline.Now:O}{Environment.NewLine}");
            _lifeLogStart = new FileInfo(LogPath).Length;
            // The shell execs the binary in place (the pid we signal is the binary's) with its output
            // appended to the log file: no pipe to drain, and the log outlives us for post-mortems.
            var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("log=$1; shift; exec \"$@\" </dev/null >>\"$log\" 2>&1");
            psi.ArgumentList.Add("sh");
            psi.ArgumentList.Add(LogPath);
            psi.ArgumentList.Add(_binary);
            foreach (var a in _args) psi.ArgumentList.Add(a);
            // A clean environment: only what the platform is configured with, plus what .NET needs.
            psi.Environment.Clear();
            foreach (var key in new[] { "PATH", "HOME", "DOTNET_ROOT", "LANG" })
            {
                if (Environment.GetEnvironmentVariable(key) is { } v) psi.Environment[key] = v;
            }
            foreach (var (k, v) in _env) psi.Environment[k] = v;

            var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
            var life = new Life(process);
            process.Exited += (_, _) =>
            {
                if (!life.ExitExpected) _onUnexpectedExit(this, SafeExitCode(process));
            };
            process.Start();
            _life = life;
        }
    }

    /// <summary>Sends a signal to the running life; false when there is none. SIGKILL and SIGTERM mark its end as expected.</summary>
    public bool Signal(int signal)
    {
        lock (_gate)
        {
            if (_life is not { } life || life.Process.HasExited) return false;
            if (signal is Signals.SIGKILL or Signals.SIGTERM) life.ExitExpected = true;
            return Kill(life.Process.Id, signal) == 0;
        }
    }

    /// <summary>True once the current life has exited (or there is none), false if it still runs after the timeout.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout, CancellationToken ct = default)
    {
        Process? process;
        lock (_gate) process = _life?.Process;
        if (process is null) return true;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
            return true;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>
    /// Waits until the current life has written <paramref name="text"/> to its log (it is up), it
    /// exits, or the timeout passes; true only in the first case.
    /// </summary>
    public async Task<bool> WaitForLogAsync(string text, TimeSpan timeout, CancellationToken ct)
    {
        long start;
        lock (_gate) start = _lifeLogStart;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            while (IsRunning)
            {
                using (var file = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
                {
                    file.Seek(start, SeekOrigin.Begin);
                    using var reader = new StreamReader(file);
                    if ((await reader.ReadToEndAsync(deadline.Token)).Contains(text, StringComparison.Ordinal)) return true;
                }
                await Task.Delay(100, deadline.Token);
            }
            return false;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Resumes (it may be stopped), asks it to end, and kills it if it has not within <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        Signal(Signals.SIGCONT);
        if (!Signal(Signals.SIGTERM)) return;
        if (await WaitForExitAsync(grace)) return;
        Signal(Signals.SIGKILL);
        await WaitForExitAsync(TimeSpan.FromSeconds(10));
    }

    public string Tail(int lines) => ProcessLog.Tail(LogPath, lines);

    public async ValueTask DisposeAsync()
    {
        Signal(Signals.SIGCONT);
        Signal(Signals.SIGKILL);
        await WaitForExitAsync(TimeSpan.FromSeconds(10));
        lock (_gate) _life?.Process.Dispose();
        Gate.Dispose();
    }

    private static int SafeExitCode(Process process)
    {
        try { return process.ExitCode; }
        catch (InvalidOperationException) { return -1; }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

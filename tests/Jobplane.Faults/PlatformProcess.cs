using Jobplane.Testing.Processes;

namespace Jobplane.Faults;

/// <summary>
/// One of the platform's binaries (a controller or a worker) across all its lives: the nemesis
/// kills it and starts it again with the same settings (same port, same WORKER_ID). Output is
/// appended to one log file per process, each life headed by a marker line.
/// </summary>
public sealed class PlatformProcess : IAsyncDisposable
{
    private readonly ChildProcessStart _start;
    private readonly Action<PlatformProcess, int> _onUnexpectedExit;
    private readonly Lock _gate = new();
    private Life? _life;

    /// <summary>One start of the binary. ExitExpected is set before we signal it to end.</summary>
    private sealed class Life
    {
        public ChildProcess? Process;
        public volatile bool ExitExpected;
    }

    public PlatformProcess(string name, string binary, IReadOnlyDictionary<string, string?> env, IReadOnlyList<string> args,
        string logPath, Action<PlatformProcess, int> onUnexpectedExit)
    {
        Name = name;
        LogPath = logPath;
        _start = new ChildProcessStart(name, binary) { Arguments = args, Environment = env, LogPath = logPath };
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
        get { lock (_gate) return Running()?.Pid; }
    }

    public bool IsRunning => Pid is not null;

    public void Start()
    {
        lock (_gate)
        {
            if (_life?.Process is { } old)
            {
                if (!old.HasExited) throw new InvalidOperationException($"{Name} is still running (pid {old.Pid})");
                // Nothing left to kill: disposing an exited process completes at once.
                old.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            Lives++;
            File.AppendAllText(LogPath, $"==== {Name}: life {Lives} starting at {Timeline.Now:O}{Environment.NewLine}");
            // The life exists before its process does, so that an exit at once still finds it.
            var life = new Life();
            life.Process = ChildProcess.Start(_start with
            {
                Exited = p =>
                {
                    if (!life.ExitExpected) _onUnexpectedExit(this, SafeExitCode(p));
                },
            });
            _life = life;
        }
    }

    /// <summary>Sends a signal to the running life; false when there is none. SIGKILL and SIGTERM mark its end as expected.</summary>
    public bool Signal(int signal)
    {
        lock (_gate)
        {
            if (Running() is not { } process) return false;
            if (signal is Signals.SIGKILL or Signals.SIGTERM) _life!.ExitExpected = true;
            return process.Signal(signal);
        }
    }

    /// <summary>True once the current life has exited (or there is none), false if it still runs after the timeout.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout, CancellationToken ct = default) =>
        Current() is not { } process || await process.WaitForExitAsync(timeout, ct);

    /// <summary>
    /// Waits until the current life has written <paramref name="text"/> to its log (it is up), it
    /// exits, or the timeout passes; true only in the first case.
    /// </summary>
    public async Task<bool> WaitForLogAsync(string text, TimeSpan timeout, CancellationToken ct) =>
        Current() is { } process && await process.WaitForOutputAsync(text, timeout, ct);

    /// <summary>Waits until the current life answers <paramref name="url"/>; throws, quoting its log, if it exits first or is not ready in time.</summary>
    public async Task WaitForHttpAsync(Uri url, TimeSpan timeout, CancellationToken ct)
    {
        var process = Current() ?? throw new InvalidOperationException($"{Name} was never started");
        await process.WaitForHttpAsync(url, timeout, ct);
    }

    /// <summary>Resumes (it may be stopped), asks it to end, and kills it if it has not within <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (EndExpected() is { } process) await process.StopAsync(grace);
    }

    /// <summary>The end of the log, across lives: what led up to a crash is often in the life before.</summary>
    public string Tail(int lines) => LogFileOutput.TailOf(LogPath, lines);

    public async ValueTask DisposeAsync()
    {
        if (EndExpected() is { } process) await process.DisposeAsync();
        Gate.Dispose();
    }

    private ChildProcess? Current()
    {
        lock (_gate) return _life?.Process;
    }

    private ChildProcess? Running() => _life?.Process is { HasExited: false } p ? p : null;

    /// <summary>The current life, marked so that its end is not reported as a crash.</summary>
    private ChildProcess? EndExpected()
    {
        lock (_gate)
        {
            if (_life is null) return null;
            _life.ExitExpected = true;
            return _life.Process;
        }
    }

    private static int SafeExitCode(ChildProcess process)
    {
        try { return process.ExitCode; }
        catch (InvalidOperationException) { return -1; }
    }
}

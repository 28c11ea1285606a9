using System.Runtime.InteropServices;

namespace Jobplane.Testing.Processes;

/// <summary>The Linux signals the harnesses send, and kill(2) to send them.</summary>
public static partial class Signals
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

    /// <summary>Sends <paramref name="signal"/> to one process (not its group); false when it failed (the process is gone).</summary>
    public static bool Send(int pid, int signal) => Kill(pid, signal) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

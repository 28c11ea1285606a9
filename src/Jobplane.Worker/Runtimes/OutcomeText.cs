using System.Globalization;

namespace Jobplane.Worker.Runtimes;

/// <summary>
/// The words every runtime uses in <see cref="RunOutcome.Error"/>, so that a timeout, a stop or a
/// signal reads the same whichever runtime ran the job.
/// </summary>
internal static class OutcomeText
{
    public const string StoppedError = "stopped by the worker";

    /// <summary>What a process killed by SIGKILL exits with: also what the kernel's OOM killer leaves.</summary>
    public const int KilledExitCode = 128 + LibC.SIGKILL;

    /// <summary>
    /// An attempt in which a process was killed for lack of memory, in the same words on every
    /// runtime: "killed: out of memory (limit 16 MiB)" when the job itself died of it, the exit
    /// code and the kill when it survived the kill but failed. Null when it still exited 0 (it succeeded).
    /// </summary>
    public static string? OutOfMemory(int exitCode, long limitBytes)
    {
        var outOfMemory = $"out of memory (limit {Docker.ByteSize.Format(limitBytes)})";
        if (exitCode == KilledExitCode) return $"killed: {outOfMemory}";
        return exitCode == 0 ? null : $"{DescribeExit(exitCode)} after a process of the job was killed: {outOfMemory}";
    }

    public static string TimedOut(TimeSpan timeout) => $"timed out after {FormatDuration(timeout)}";

    /// <summary>
    /// A process killed by signal N is reported as exit code 128+N (by .NET, by a shell, by a
    /// container's init), so a code above 128 is named as that signal.
    /// </summary>
    public static string DescribeExit(int exitCode)
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"exit code {exitCode}");
        if (exitCode is <= 128 or > 128 + 64) return text;
        var signal = exitCode - 128;
        var name = signal switch
        {
            1 => " (SIGHUP)",
            2 => " (SIGINT)",
            3 => " (SIGQUIT)",
            4 => " (SIGILL)",
            6 => " (SIGABRT)",
            7 => " (SIGBUS)",
            8 => " (SIGFPE)",
            9 => " (SIGKILL)",
            11 => " (SIGSEGV)",
            13 => " (SIGPIPE)",
            14 => " (SIGALRM)",
            15 => " (SIGTERM)",
            _ => "",
        };
        return string.Create(CultureInfo.InvariantCulture, $"{text}: killed by signal {signal}{name}");
    }

    /// <summary>"2s" for whole seconds, "1.5s" otherwise.</summary>
    public static string FormatDuration(TimeSpan duration) =>
        duration.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";
}

namespace Jobplane.Dashboard.Tests;

/// <summary>
/// A file a job waits for (or checks), made by the test when it wants the job to go on: it decides
/// when a job moves, without a clock. In the host's /tmp, which exec jobs see whatever user they run as.
/// </summary>
public sealed class Gate : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine("/tmp", $"jobplane-dashboard-gate-{Guid.NewGuid():N}");

    /// <summary>A shell command that prints <paramref name="before"/>, waits until the gate is open, then prints <paramref name="after"/>.</summary>
    public IReadOnlyList<string> WaitCommand(string before, string after) =>
        ["sh", "-c", "echo \"$1\"; while [ ! -e \"$3\" ]; do sleep 0.1; done; echo \"$2\"", "sh", before, after, Path];

    /// <summary>A shell command that succeeds when the gate is open and fails (exit code 1) while it is closed.</summary>
    public IReadOnlyList<string> CheckCommand() => ["sh", "-c", "echo 'checking the gate'; test -e \"$1\"", "sh", Path];

    public void Open() => File.WriteAllText(Path, "open");

    public void Dispose() => File.Delete(Path);
}

namespace Jobplane.Testing.Processes;

/// <summary>How to start a <see cref="ChildProcess"/>.</summary>
/// <param name="Name">What messages call it (controller1, a worker id, prometheus).</param>
/// <param name="Program">A path, or a name found on PATH.</param>
public sealed record ChildProcessStart(string Name, string Program)
{
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>Set on top of a clean environment (or the inherited one, see <see cref="InheritEnvironment"/>).</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    /// <summary>
    /// False (the default) starts from a clean slate: only what the caller gives plus what .NET needs,
    /// so that no secret of the machine's user (a JOBPLANE_TOKEN, say) leaks into the platform under test.
    /// </summary>
    public bool InheritEnvironment { get; init; }

    /// <summary>When set, output is appended to this file instead of captured in memory.</summary>
    public string? LogPath { get; init; }

    /// <summary>Called (on a pool thread) when the process exits, whoever ended it.</summary>
    public Action<ChildProcess>? Exited { get; init; }
}

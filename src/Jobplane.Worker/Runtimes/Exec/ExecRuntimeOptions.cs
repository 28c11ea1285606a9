namespace Jobplane.Worker.Runtimes.Exec;

/// <summary>Settings of the exec runtime.</summary>
public sealed record ExecRuntimeOptions
{
    /// <summary>Directory under which each attempt gets its own working directory.</summary>
    public required string WorkRoot { get; init; }

    /// <summary>
    /// This worker's stable identity. Attempts run under {WorkRoot}/{WorkerId}/ and carry
    /// JOBPLANE_WORKER_ID in their environment, which is how a restarted worker finds what its
    /// previous life left behind.
    /// </summary>
    public required string WorkerId { get; init; }

    /// <summary>Time between SIGTERM and SIGKILL when a job is timed out or stopped.</summary>
    public TimeSpan KillGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Longer output lines are delivered in pieces of this many characters.</summary>
    public int MaxLineChars { get; init; } = 64 * 1024;

    /// <summary>
    /// The user ids jobs run as, one per running attempt (needs a root worker). Null: jobs run as
    /// the worker's own user, which the operator must accept explicitly (<see cref="RunAsWorkerUser"/>).
    /// </summary>
    public JobUserRange? JobUsers { get; init; }

    /// <summary>Where the per-id lock files that share <see cref="JobUsers"/> between the host's workers live.</summary>
    public string UserLockDirectory { get; init; } = JobUserPool.DefaultLockDirectory;

    /// <summary>
    /// The operator accepts that jobs run as the worker's own user (EXEC_RUN_AS_WORKER_USER): they
    /// can then read everything the worker's user can and signal its other jobs.
    /// </summary>
    public bool RunAsWorkerUser { get; init; }

    /// <summary>
    /// The most one attempt's folder may hold (EXEC_WORKDIR_MAX_BYTES). A root worker mounts a tmpfs
    /// of this size on it; a worker that cannot mount leaves it unbounded and says so.
    /// </summary>
    public long WorkDirectoryMaxBytes { get; init; } = DefaultWorkDirectoryMaxBytes;

    public const long DefaultWorkDirectoryMaxBytes = 256L << 20;
}

using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace Jobplane.Worker.Runtimes.Exec;

/// <summary>
/// The unprivileged user ids exec jobs run as (EXEC_JOB_UIDS, inclusive). Each id doubles as the
/// job's group id; neither needs an entry in /etc/passwd or /etc/group.
/// </summary>
public sealed record JobUserRange(uint First, uint Last)
{
    /// <summary>
    /// 65,536 ids well above those a distribution hands out to people and services (and above the
    /// subordinate ids Debian gives rootless containers, which start at 100,000).
    /// </summary>
    public static JobUserRange Default { get; } = new(1_500_000, 1_565_535);

    public long Count => (long)Last - First + 1;

    /// <summary>"FIRST-LAST" (or a single id); null with a reason when the text is not a usable range.</summary>
    public static JobUserRange? Parse(string text, out string? problem)
    {
        problem = null;
        var parts = text.Split('-', 2, StringSplitOptions.TrimEntries);
        if (!uint.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var first) ||
            (parts.Length == 2 ? !uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var last) : (last = first) != first))
        {
            problem = $"must be a user id range FIRST-LAST, e.g. {Default.First}-{Default.Last} (got '{text}')";
            return null;
        }
        // 0 is root; ids below 1000 belong to system services; 65534 is nobody, shared by many
        // things; 4294967295 is (uid_t)-1, "no change" to the kernel.
        if (first < 1000 || last < first || last == uint.MaxValue || (first <= 65534 && last >= 65534))
        {
            problem = $"must be a range of unprivileged user ids: FIRST >= 1000, FIRST <= LAST < 4294967295, not including 65534 (got '{text}')";
            return null;
        }
        return new JobUserRange(first, last);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{First}-{Last}");
}

/// <summary>
/// Hands each attempt a user id of its own for as long as it runs. Ids are shared between every
/// worker on the host through one lock file per id (flock, so a crashed worker's ids are free again
/// at once): two attempts never run as the same user at the same time, whichever workers run them,
/// so one attempt can neither read another's files nor signal its processes. Before an id is handed
/// out, and when its attempt ends, every process running as it is killed.
/// </summary>
internal sealed class JobUserPool
{
    /// <summary>Where the per-id lock files live unless EXEC_USER_LOCK_DIR says otherwise.</summary>
    public const string DefaultLockDirectory = "/run/jobplane/exec-users";

    private readonly JobUserRange _range;
    private readonly string _lockDirectory;
    /// <summary>Ids this process holds, skipped without a system call.</summary>
    private readonly HashSet<uint> _held = [];

    public JobUserPool(JobUserRange range, string lockDirectory)
    {
        _range = range;
        _lockDirectory = lockDirectory;
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("jobplane runtimes run on Linux only");
        // Owned by root and closed to others: a job that could create or replace a lock file could
        // make another worker believe an id is free.
        Directory.CreateDirectory(lockDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        WorkDirectory.RequireSafeDirectory(lockDirectory);
    }

    /// <summary>
    /// The lowest id of the range that no attempt on this host holds, locked for the caller. Lowest
    /// first keeps the set of ids (and lock files) in use as small as the host's concurrency.
    /// </summary>
    public JobUser Acquire()
    {
        for (var uid = _range.First; ; uid++)
        {
            SafeFileHandle? handle = null;
            lock (_held)
            {
                if (!_held.Contains(uid) && (handle = TryLock(uid)) is not null) _held.Add(uid);
            }
            if (handle is not null)
            {
                var user = new JobUser(this, uid, handle);
                // Whatever a previous holder of this id left running (a crashed worker's job) dies
                // before a new job starts under it.
                user.KillEverything();
                return user;
            }
            if (uid == _range.Last)
                throw new InvalidOperationException(
                    $"every job user id in {_range} is in use on this host: EXEC_JOB_UIDS must have at least as many ids as all workers on the host run jobs at once");
        }
    }

    /// <summary>
    /// At worker start: kills what runs as any id of the range that no live worker holds (processes
    /// a crashed worker's jobs left, however they detached). Returns the ids that had lock files.
    /// </summary>
    public int SweepIdle()
    {
        var swept = new List<uint>();
        var handles = new List<SafeFileHandle>();
        try
        {
            foreach (var file in Directory.EnumerateFiles(_lockDirectory, "*.lock"))
            {
                if (!uint.TryParse(Path.GetFileNameWithoutExtension(file), NumberStyles.None, CultureInfo.InvariantCulture, out var uid) ||
                    uid < _range.First || uid > _range.Last)
                    continue;
                lock (_held)
                {
                    if (_held.Contains(uid) || TryLock(uid) is not { } handle) continue;
                    handles.Add(handle);
                    swept.Add(uid);
                }
            }
            UserProcesses.KillAll(swept);
        }
        finally
        {
            foreach (var handle in handles) handle.Dispose();
        }
        return swept.Count;
    }

    private SafeFileHandle? TryLock(uint uid)
    {
        var path = Path.Combine(_lockDirectory, uid.ToString(CultureInfo.InvariantCulture) + ".lock");
        // An exclusive flock, dropped by the kernel when the descriptor closes or the process dies.
        var handle = LibC.TryOpenLocked(path, out var errno);
        if (handle is not null || errno == LibC.EWOULDBLOCK) return handle;
        throw new IOException($"cannot lock {path}: {LibC.Describe(errno)}");
    }

    internal void Release(uint uid, SafeFileHandle handle)
    {
        lock (_held)
        {
            _held.Remove(uid);
            // Closing the descriptor drops the flock.
            handle.Dispose();
        }
    }
}

/// <summary>One attempt's user id, held until disposed; disposing kills whatever still runs as it.</summary>
internal sealed class JobUser(JobUserPool pool, uint uid, SafeFileHandle handle) : IDisposable
{
    private int _disposed;
    /// <summary>Set once everything was killed and nothing of the job can have started since.</summary>
    private bool _killed;

    public uint Uid { get; } = uid;
    public uint Gid => Uid;

    /// <summary>Kills every process running as this user: the attempt's and anything it left behind.</summary>
    public void KillEverything()
    {
        UserProcesses.KillAll([Uid]);
        _killed = true;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (!_killed) KillEverything();
        pool.Release(Uid, handle);
    }
}

/// <summary>Killing every process of a user, including ones that left the job's session or hide from /proc.</summary>
internal static class UserProcesses
{
    /// <summary>
    /// kill(-1, SIGKILL) sent with the job user's credentials reaches exactly the processes running
    /// as that user (those whose real or saved uid is it), whatever session, process group or
    /// namespace they moved to, and even when they made themselves non-dumpable so that /proc hides
    /// their owner. The kernel walks the process list under the lock that fork needs, and a fork
    /// that waited for it fails once its parent has a SIGKILL pending, so nothing forked meanwhile
    /// escapes.
    /// <para>The credentials are changed with the raw system call, which changes the calling thread
    /// only, for the three system calls in between and no managed code; the saved uid stays root so
    /// that it can change back. Signals the runtime sends its own threads are not affected: within a
    /// process they need no permission. Doing it here rather than on a thread kept for it spares
    /// every attempt two thread hand-offs, which on a loaded machine cost milliseconds each.</para>
    /// </summary>
    public static void KillAll(IReadOnlyCollection<uint> uids)
    {
        foreach (var uid in uids)
        {
            var errno = LibC.SetThreadResUid(uid, uid, 0);
            if (errno != 0)
                throw new InvalidOperationException($"cannot switch to user {uid} to stop its processes: {LibC.Describe(errno)}");
            // Without CAP_KILL (dropped with the effective uid), kill(-1) only reaches this user's
            // processes; it reports success even when there were none, so the result is not checked.
            LibC.Kill(-1, LibC.SIGKILL);
            if (LibC.SetThreadResUid(0, 0, 0) != 0)
            {
                // A worker thread stuck as a job's user would be a hole nobody sees: stop.
                Environment.FailFast("could not switch a thread back to root after stopping a job user's processes");
            }
        }
    }
}

namespace Jobplane.Worker.Runtimes.Exec;

/// <summary>
/// Removes what a job's user left in the host's shared temporary directories. Job user ids are
/// reused by later attempts, possibly another tenant's, which would otherwise find those files as
/// their own. Only the top level is searched: a job can create entries deeper down only inside
/// directories others left writable there, which is the host's own exposure, not one jobplane adds.
/// Called once every process of the user is dead, so nothing can swap an entry for a link meanwhile.
/// </summary>
internal static class SharedTempLeftovers
{
    private static readonly string[] Directories = ["/tmp", "/var/tmp", "/dev/shm"];

    private static readonly EnumerationOptions TopLevel = new()
    {
        AttributesToSkip = 0,
        IgnoreInaccessible = true,
        RecurseSubdirectories = false,
    };

    /// <summary>
    /// A directory's modification time changes whenever an entry is added to it (or removed), so a
    /// directory whose time is the same after the attempt as before got nothing new, and need not
    /// be searched: that keeps the common case (a job that never touches /tmp) to one stat per
    /// directory instead of one per entry. File times come from a clock that advances in ticks of a
    /// few milliseconds, so a directory changed within the last moment before the snapshot could
    /// change again within the same tick, unseen: such a directory is always searched.
    /// </summary>
    public readonly struct Snapshot
    {
        private static readonly TimeSpan SameTick = TimeSpan.FromMilliseconds(100);
        private readonly DateTime[] _times;
        private readonly DateTime _takenAt;

        private Snapshot(DateTime[] times, DateTime takenAt)
        {
            _times = times;
            _takenAt = takenAt;
        }

        public static Snapshot Take()
        {
            var takenAt = DateTime.UtcNow;
            var times = new DateTime[Directories.Length];
            for (var i = 0; i < Directories.Length; i++) times[i] = ModifiedAt(Directories[i]);
            return new Snapshot(times, takenAt);
        }

        internal bool MayHaveNewEntries(int index) =>
            _times is null || ModifiedAt(Directories[index]) != _times[index] || _takenAt - _times[index] < SameTick;
    }

    private static DateTime ModifiedAt(string directory)
    {
        try
        {
            return Directory.GetLastWriteTimeUtc(directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return DateTime.MinValue;
        }
    }

    /// <summary>Removes what <paramref name="uid"/> left at the top of each shared directory changed since <paramref name="before"/>; returns the entries removed.</summary>
    public static int RemoveOwnedBy(uint uid, Snapshot before)
    {
        var removed = 0;
        for (var i = 0; i < Directories.Length; i++)
        {
            var directory = Directories[i];
            if (!before.MayHaveNewEntries(i) || !Directory.Exists(directory)) continue;
            foreach (var entry in Directory.EnumerateFileSystemEntries(directory, "*", TopLevel))
            {
                if (LibC.LStatOwner(entry, out var owner, out _) != 0 || owner != uid) continue;
                try
                {
                    WorkDirectory.Delete(entry);
                    removed++;
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Gone meanwhile, or on a read-only mount: nothing the next attempt can use either way.
                }
            }
        }
        return removed;
    }
}

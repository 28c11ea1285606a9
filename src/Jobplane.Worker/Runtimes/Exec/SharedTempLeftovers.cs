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

    /// <summary>Returns the entries removed.</summary>
    public static int RemoveOwnedBy(uint uid)
    {
        var removed = 0;
        foreach (var directory in Directories)
        {
            if (!Directory.Exists(directory)) continue;
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

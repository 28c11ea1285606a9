namespace Jobplane.Worker.Runtimes;

/// <summary>Creating and removing the per-attempt working directories.</summary>
internal static class WorkDirectory
{
    private const UnixFileMode OwnerOnly =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>rwx for the owner, search (not list) for everyone else: a job can reach its own folder below, by name only.</summary>
    private const UnixFileMode Traversable = OwnerOnly | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>
    /// Creates <paramref name="path"/> empty with mode 0700, removing whatever an earlier run of
    /// the same attempt may have left there, so that a job always starts in a fresh directory.
    /// </summary>
    public static void CreateFresh(string path)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("jobplane runtimes run on Linux only");
        var parent = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(parent, OwnerOnly);
        if (Exists(path)) Delete(path);
        Directory.CreateDirectory(path, OwnerOnly);
        // CreateDirectory's mode goes through the umask; set it exactly.
        File.SetUnixFileMode(path, OwnerOnly);
    }

    /// <summary>
    /// Creates <paramref name="path"/> empty, mode 0700, owned by a job's user and group, below a
    /// parent that is the worker's own and that other users may pass through but neither list nor
    /// change: the job reaches its folder and nothing beside it, and cannot swap the folder for a link.
    /// </summary>
    public static void CreateFreshFor(string path, uint uid, uint gid)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("jobplane runtimes run on Linux only");
        var parent = Path.GetDirectoryName(path)!;
        EnsureTraversable(parent);
        if (Exists(path)) Delete(path);
        Directory.CreateDirectory(path, OwnerOnly);
        File.SetUnixFileMode(path, OwnerOnly);
        var errno = LibC.LChown(path, uid, gid);
        if (errno != 0) throw new IOException($"cannot hand {path} to user {uid}: {LibC.Describe(errno)}");
    }

    /// <summary>
    /// Makes <paramref name="directory"/> (and missing parents) exist as a directory of the worker's
    /// own that others may only pass through (0711), refusing one that is a link, someone else's, or
    /// writable by others: a job that could write there could plant a link where the worker is about
    /// to create, read or delete.
    /// </summary>
    public static void EnsureTraversable(string directory)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("jobplane runtimes run on Linux only");
        var parent = Path.GetDirectoryName(directory);
        if (parent is not null && !Exists(parent)) EnsureTraversable(parent);
        if (!Exists(directory)) Directory.CreateDirectory(directory, Traversable);
        RequireSafeDirectory(directory);
        var mode = File.GetUnixFileMode(directory);
        if ((mode & Traversable) != Traversable) File.SetUnixFileMode(directory, mode | Traversable);
    }

    /// <summary>Throws unless <paramref name="directory"/> is a real directory owned by this process's user and writable by no one else.</summary>
    public static void RequireSafeDirectory(string directory)
    {
        var errno = LibC.LStatOwner(directory, out var owner, out var mode);
        if (errno != 0) throw new IOException($"cannot inspect {directory}: {LibC.Describe(errno)}");
        if (!LibC.IsType(mode, LibC.S_IFDIR))
            throw new IOException($"{directory} must be a directory, not a link or a file");
        if (owner != LibC.EffectiveUserId)
            throw new IOException($"{directory} must belong to the worker's user ({LibC.EffectiveUserId}), not to user {owner}");
        if ((mode & 0b000_010_010) != 0)
            throw new IOException($"{directory} must not be writable by group or others (mode {Convert.ToString(mode & 0x1FF, 8)})");
    }

    /// <summary>What a start-up sweep found in a worker's folder: what it may remove, and what it leaves alone and why.</summary>
    public sealed record Leftovers(IReadOnlyList<string> Removable, IReadOnlyList<(string Path, string Reason)> Skipped);

    /// <summary>
    /// The entries of <paramref name="workerRoot"/> a start-up sweep may remove: folders (never a
    /// link, never followed) owned by a user the worker made them for (<paramref name="madeByWorker"/>:
    /// its own uid, a job user's). Anything else was not made by the worker, and removing it as root
    /// could be exactly what whoever planted it wanted. Throws when the worker root itself is not a
    /// private folder of the worker's.
    /// </summary>
    public static Leftovers FindLeftovers(string workerRoot, Func<uint, bool> madeByWorker)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("jobplane runtimes run on Linux only");
        var removable = new List<string>();
        var skipped = new List<(string, string)>();
        if (!Exists(workerRoot)) return new Leftovers(removable, skipped);
        RequireSafeDirectory(workerRoot);
        foreach (var entry in Directory.EnumerateFileSystemEntries(workerRoot, "*", new EnumerationOptions { AttributesToSkip = 0 }))
        {
            var errno = LibC.LStatOwner(entry, out var owner, out var mode);
            if (errno == LibC.ENOENT) continue;
            if (errno != 0) skipped.Add((entry, $"cannot be inspected: {LibC.Describe(errno)}"));
            else if (LibC.IsType(mode, LibC.S_IFLNK)) skipped.Add((entry, "is a symbolic link, which the worker never makes"));
            else if (!LibC.IsType(mode, LibC.S_IFDIR)) skipped.Add((entry, "is not a folder, which the worker never leaves there"));
            else if (!madeByWorker(owner)) skipped.Add((entry, $"belongs to user {owner}, neither the worker's nor a job's"));
            else removable.Add(entry);
        }
        return new Leftovers(removable, skipped);
    }

    /// <summary>True when anything (even a dangling symbolic link) exists at <paramref name="path"/>.</summary>
    public static bool Exists(string path) => LibC.LStat(path, out _, out _) == 0;

    /// <summary>
    /// Removes a directory tree written by a job. Symbolic links are removed, never followed. A job
    /// may have left directories without write or search permission, which would make a plain
    /// recursive delete fail for a non-root worker, so on failure permissions are restored and the
    /// delete is tried again; a process outside the job's group may still be adding files, hence a
    /// few rounds.
    /// </summary>
    public static void Delete(string path)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("jobplane runtimes run on Linux only");
        for (var round = 1; ; round++)
        {
            try
            {
                if (LibC.LStat(path, out var type, out _) != 0) return;
                if (type == LibC.S_IFDIR) Directory.Delete(path, recursive: true);
                else File.Delete(path);
                return;
            }
            catch (Exception ex) when (round < 3 && ex is IOException or UnauthorizedAccessException)
            {
                MakeWritable(path);
            }
        }
    }

    private static void MakeWritable(string directory)
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            if (LibC.LStat(directory, out var type, out _) != 0 || type != LibC.S_IFDIR) return;
            File.SetUnixFileMode(directory, OwnerOnly);
            foreach (var child in Directory.EnumerateDirectories(directory, "*", new EnumerationOptions
            {
                AttributesToSkip = 0,
                IgnoreInaccessible = true,
                RecurseSubdirectories = false,
            }))
            {
                // LStat inside the recursion keeps symbolic links to directories out of it.
                MakeWritable(child);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: the retried delete reports what is still in the way.
        }
    }
}

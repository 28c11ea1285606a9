namespace Jobplane.Worker.Runtimes;

/// <summary>Creating and removing the per-attempt working directories.</summary>
internal static class WorkDirectory
{
    private const UnixFileMode OwnerOnly =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

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

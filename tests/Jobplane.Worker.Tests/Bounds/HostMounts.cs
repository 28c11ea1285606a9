namespace Jobplane.Worker.Tests.Bounds;

/// <summary>What the host shows of mounts and disk space, read the way an operator would check them.</summary>
internal static class HostMounts
{
    /// <summary>Lines of /proc/self/mountinfo whose mount point lies at or below <paramref name="folder"/>.</summary>
    public static IReadOnlyList<string> Below(string folder)
    {
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        return [.. File.ReadLines("/proc/self/mountinfo").Where(line =>
        {
            var point = line.Split(' ')[4];
            return point == root || point.StartsWith(root + "/", StringComparison.Ordinal);
        })];
    }

    /// <summary>Free bytes of the file system that holds <paramref name="path"/>.</summary>
    public static long FreeBytes(string path) => new DriveInfo(path).AvailableFreeSpace;

    /// <summary>A plain tmpfs mounted the way a worker that crashed mid-attempt leaves an attempt folder.</summary>
    public static void MountLeftover(string folder)
    {
        Directory.CreateDirectory(folder);
        var mount = System.Diagnostics.Process.Start("mount", ["-t", "tmpfs", "-o", "size=1m", "jobplane", folder])!;
        mount.WaitForExit();
        Assert.Equal(0, mount.ExitCode);
        File.WriteAllText(Path.Combine(folder, "result.json"), "{}");
    }
}

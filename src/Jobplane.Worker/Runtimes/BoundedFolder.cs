using System.Globalization;
using System.Text;

namespace Jobplane.Worker.Runtimes;

/// <summary>
/// A size-limited tmpfs mounted on an attempt's folder, so that a job that writes without end gets
/// "No space left on device" instead of filling the worker host's disk. tmpfs is memory-backed:
/// what a job writes there uses the host's memory (and swap) up to the bound, and is gone once the
/// folder is unmounted. Mounting needs root (CAP_SYS_ADMIN); a worker without it cannot bound the
/// folder this way and says so at start-up.
/// </summary>
internal static class BoundedFolder
{
    private const string MountInfo = "/proc/self/mountinfo";

    /// <summary>Whether this process may mount: only a root worker can bound folders.</summary>
    public static bool CanMount => LibC.EffectiveUserId == 0;

    /// <summary>
    /// Mounts a tmpfs of at most <paramref name="maxBytes"/> on the existing, empty folder
    /// <paramref name="path"/>, its root owned by <paramref name="uid"/>:<paramref name="gid"/> with
    /// mode 0700, without set-user-id programs or device files.
    /// </summary>
    public static void Mount(string path, long maxBytes, uint uid, uint gid)
    {
        // One inode per page of the bound (and a floor for small bounds): empty files take no
        // bytes of the size, so without an inode limit a job could spend the host's kernel memory
        // on millions of them.
        var inodes = Math.Max(1024, maxBytes / 4096);
        var data = string.Create(CultureInfo.InvariantCulture,
            $"size={maxBytes},nr_inodes={inodes},uid={uid},gid={gid},mode=0700");
        var errno = LibC.Mount("jobplane", path, "tmpfs", LibC.MS_NOSUID | LibC.MS_NODEV, data);
        if (errno != 0) throw new IOException($"cannot mount a {maxBytes}-byte tmpfs on {path}: {LibC.Describe(errno)}");
    }

    /// <summary>
    /// Mounts and unmounts a bounded folder once below <paramref name="parent"/>, so that a root
    /// worker that may not mount (no CAP_SYS_ADMIN, as in a container) refuses to start naming
    /// <paramref name="setting"/>, instead of failing every attempt.
    /// </summary>
    public static void Probe(string parent, string setting)
    {
        var probe = Path.Combine(parent, ".mount-probe");
        WorkDirectory.CreateFresh(probe);
        try
        {
            Mount(probe, 1L << 20, 0, 0);
            Unmount(probe);
        }
        catch (IOException e)
        {
            throw new InvalidOperationException(
                $"{setting}: the worker cannot mount the bounded tmpfs on attempt folders ({e.Message}); give it CAP_SYS_ADMIN, or set {setting}=0 to run with unbounded folders", e);
        }
        finally
        {
            WorkDirectory.Delete(probe);
        }
    }

    /// <summary>
    /// Unmounts what is mounted on <paramref name="path"/>, lazily when something still holds it (a
    /// process that escaped the attempt's kill, an open descriptor): the folder is detached at once
    /// and its memory freed when the last holder lets go. Nothing mounted there is not an error.
    /// </summary>
    public static void Unmount(string path)
    {
        var errno = LibC.Unmount(path, LibC.UMOUNT_NOFOLLOW);
        if (errno == LibC.EBUSY) errno = LibC.Unmount(path, LibC.UMOUNT_NOFOLLOW | LibC.MNT_DETACH);
        if (errno is 0 or LibC.EINVAL or LibC.ENOENT) return;
        throw new IOException($"cannot unmount {path}: {LibC.Describe(errno)}");
    }

    /// <summary>
    /// Unmounts every mount at or below <paramref name="folder"/>, deepest first: what a worker that
    /// crashed mid-attempt left mounted. Returns how many were unmounted.
    /// </summary>
    public static int UnmountAllBelow(string folder)
    {
        var mounts = MountsBelow(folder);
        foreach (var mount in mounts) Unmount(mount);
        return mounts.Count;
    }

    /// <summary>The mount points at or below <paramref name="folder"/> in this process's mount namespace, deepest first.</summary>
    public static IReadOnlyList<string> MountsBelow(string folder)
    {
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        var found = new List<string>();
        if (!File.Exists(MountInfo)) return found;
        foreach (var line in File.ReadLines(MountInfo))
        {
            // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw": the fifth field is the mount point.
            var fields = line.Split(' ');
            if (fields.Length < 5) continue;
            var point = Unescape(fields[4]);
            if (point == root || point.StartsWith(root + "/", StringComparison.Ordinal)) found.Add(point);
        }
        // Deepest first, and each once however often it is stacked.
        return [.. found.Distinct(StringComparer.Ordinal).OrderByDescending(p => p.Length)];
    }

    /// <summary>Whether anything is mounted on exactly <paramref name="path"/>.</summary>
    public static bool IsMounted(string path) =>
        MountsBelow(path).Contains(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)), StringComparer.Ordinal);

    /// <summary>mountinfo writes space, tab, newline and backslash in a path as \ooo octal escapes.</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal)) return field;
        var bytes = new List<byte>(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && IsOctal(field, i + 1) && IsOctal(field, i + 2) && IsOctal(field, i + 3))
            {
                bytes.Add((byte)(((field[i + 1] - '0') << 6) | ((field[i + 2] - '0') << 3) | (field[i + 3] - '0')));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString()));
            }
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }

    private static bool IsOctal(string s, int i) => i < s.Length && s[i] is >= '0' and <= '7';
}

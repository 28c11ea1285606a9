using System.Globalization;
using Jobplane.Worker.Runtimes;

namespace Jobplane.Worker;

/// <summary>
/// The folder under which every attempt's files live (RUNTIME_WORKDIR). The worker creates, reads
/// and deletes there as its own user (root, usually), so the folder must be the worker's alone: a
/// folder someone else could write, or a path through a symbolic link someone could swap, would
/// let them point the worker's deletes and writes anywhere. Its default is therefore a private
/// folder, not a predictable name in the shared /tmp.
/// </summary>
public static class WorkRoot
{
    public const string Setting = "RUNTIME_WORKDIR";
    /// <summary>Where a root worker keeps its work unless RUNTIME_WORKDIR says otherwise.</summary>
    public const string RootDefault = "/var/lib/jobplane/work";

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode Traversable = OwnerOnly | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>
    /// The default for a worker running as <paramref name="effectiveUid"/>: /var/lib/jobplane/work for
    /// root, the user's state folder ($XDG_STATE_HOME, or ~/.local/state) otherwise.
    /// </summary>
    public static string Default(uint effectiveUid, Func<string, string?> env)
    {
        ArgumentNullException.ThrowIfNull(env);
        if (effectiveUid == 0) return RootDefault;
        // The XDG rule: a relative XDG_STATE_HOME is invalid and ignored.
        if (env("XDG_STATE_HOME") is { Length: > 0 } state && Path.IsPathFullyQualified(state))
            return Path.Combine(state, "jobplane", "work");
        var home = env("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".local", "state", "jobplane", "work");
    }

    /// <summary>
    /// Makes <paramref name="path"/> exist as the worker's private folder, creating what is missing
    /// (owner the worker, mode 0700, or 0711 when <paramref name="traversable"/>: job users must pass
    /// through to their own folders, by name only). Returns why the worker must not use it, or null:
    /// a component of the path is a symbolic link or not a folder, or the folder belongs to another
    /// user or is writable by group or others.
    /// </summary>
    public static string? Prepare(string path, bool traversable)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("the worker runs on Linux only");
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        var self = LibC.EffectiveUserId;
        var mode = traversable ? Traversable : OwnerOnly;
        var current = "/";
        foreach (var part in full.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, part);
            var errno = LibC.LStatOwner(current, out _, out var type);
            if (errno == LibC.ENOENT)
            {
                try
                {
                    Directory.CreateDirectory(current, mode);
                    // CreateDirectory's mode goes through the umask; set it exactly.
                    File.SetUnixFileMode(current, mode);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    return $"{Setting} {full}: cannot create {current}: {e.Message}";
                }
                errno = LibC.LStatOwner(current, out _, out type);
            }
            if (errno != 0) return $"{Setting} {full}: cannot inspect {current}: {LibC.Describe(errno)}";
            if (LibC.IsType(type, LibC.S_IFLNK))
                return $"{Setting} {full}: {current} is a symbolic link; give a path without links (whoever can change a link can send the worker's deletes elsewhere)";
            if (!LibC.IsType(type, LibC.S_IFDIR)) return $"{Setting} {full}: {current} is not a folder";
        }

        var inspected = LibC.LStatOwner(full, out var owner, out var bits);
        if (inspected != 0) return $"{Setting} {full}: cannot inspect it: {LibC.Describe(inspected)}";
        if (owner != self)
            return $"{Setting} {full} belongs to user {owner}, not to the worker's user {self}: the work root must be the worker's own";
        if ((bits & 0b000_010_010) != 0)
            return string.Create(CultureInfo.InvariantCulture,
                $"{Setting} {full} is writable by group or others (mode {Convert.ToString(bits & 0x1FF, 8)}): make it 0700{(traversable ? " or 0711" : "")}");
        if (traversable && ((UnixFileMode)(bits & 0x1FF) & Traversable) != Traversable)
            File.SetUnixFileMode(full, (UnixFileMode)(bits & 0x1FF) | Traversable);
        return null;
    }
}

namespace Jobplane.Worker.Runtimes.Docker;

/// <summary>
/// The per-attempt host folder mounted at /jobplane/output: the only host path a container sees.
/// It lives under {WorkRoot}/{WorkerId}/, which only the worker's user can enter, so nobody else on
/// the host can reach it whatever its own mode.
/// </summary>
internal static class OutputFolder
{
    private const UnixFileMode Everyone =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>
    /// Creates <paramref name="path"/> empty and writable by the container's user: owned by it when
    /// the worker runs as root (the usual case next to a Docker Engine), otherwise, as the worker
    /// cannot give a folder away, open to every user (the 0700 parent still keeps the host out).
    /// </summary>
    public static void Create(string path, uint uid, uint gid)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("the docker runtime runs on Linux only");
        WorkDirectory.CreateFresh(path);
        var self = LibC.EffectiveUserId;
        if (self == uid) return;
        if (self == 0)
        {
            var errno = LibC.LChown(path, uid, gid);
            if (errno != 0)
                throw new IOException($"cannot hand the output folder {path} to {uid}:{gid}: {LibC.Describe(errno)}");
            return;
        }
        File.SetUnixFileMode(path, Everyone);
    }
}

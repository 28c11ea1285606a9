using System.Runtime.InteropServices;

namespace Jobplane.Worker.Runtimes;

/// <summary>
/// The few libc calls .NET does not expose: signalling a whole process group, checking that a
/// program can be executed, opening/inspecting a file without ever following a symbolic link, and
/// handing a folder to another user.
/// Only calls whose argument layout is the same on every Linux architecture are used (statx has a
/// fixed layout, unlike struct stat); the one architecture-dependent constant is O_NOFOLLOW.
/// </summary>
internal static unsafe partial class LibC
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    public const int X_OK = 1;

    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int ENXIO = 6;
    public const int EACCES = 13;
    public const int EBUSY = 16;
    public const int EINVAL = 22;
    public const int ELOOP = 40;

    private const int O_RDONLY = 0;
    private const int O_NONBLOCK = 0x800;   // 04000 on every architecture we run on
    private const int O_CLOEXEC = 0x80000;  // 02000000 likewise

    private const int AT_FDCWD = -100;
    private const int AT_SYMLINK_NOFOLLOW = 0x100;
    private const int AT_EMPTY_PATH = 0x1000;
    private const uint STATX_TYPE = 0x1;
    private const uint STATX_MODE = 0x2;
    private const uint STATX_UID = 0x8;
    private const uint STATX_SIZE = 0x200;

    // struct statx is 256 bytes with the same layout on every architecture.
    private const int StatxBufferSize = 256;
    private const int StatxUidOffset = 20;
    private const int StatxModeOffset = 28;
    private const int StatxSizeOffset = 40;

    private const int S_IFMT = 0xF000;
    public const int S_IFREG = 0x8000;
    public const int S_IFDIR = 0x4000;
    public const int S_IFLNK = 0xA000;
    public const int S_IFIFO = 0x1000;
    public const int S_IFSOCK = 0xC000;
    public const int S_IFCHR = 0x2000;
    public const int S_IFBLK = 0x6000;

    /// <summary>O_NOFOLLOW is 0400000 on x86 and the generic ABI, 0100000 on ARM and POWER.</summary>
    private static int ONoFollow => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.Arm or Architecture.Arm64 or Architecture.Armv6 or Architecture.Ppc64le => 0x8000,
        _ => 0x20000,
    };

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int sig);

    [LibraryImport("libc", EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int AccessNative(string path, int mode);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenNative(string path, int flags);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatxNative(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LChownNative(string path, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int PrctlNative(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial nint SyscallNative(nint number, nint arg1, nint arg2, nint arg3);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimitNative(int resource, ulong* limits);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenCreateNative(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int FlockNative(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int CloseNative(int fd);

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint UmaskNative(uint mask);

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MountNative(string source, string target, string fileSystemType, nuint flags, string data);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Umount2Native(string target, int flags);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuidNative();

    private const int PR_SET_DUMPABLE = 4;

    /// <summary>
    /// prctl(PR_SET_DUMPABLE, 0): no core dumps, no ptrace by processes without CAP_SYS_PTRACE, and
    /// /proc/self (environ, mem, maps, fd) owned by root, so that nothing running as this user (a job
    /// allowed to run as the worker's own user) can read the worker's memory or environment.
    /// Returns 0 or the errno.
    /// </summary>
    public static int MakeNonDumpable() =>
        PrctlNative(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : Marshal.GetLastPInvokeError();

    private const int RLIMIT_NPROC = 6; // the same on x86-64 and the generic ABI (arm64)

    /// <summary>
    /// setrlimit(RLIMIT_NPROC) for this process and what it starts. Root is exempt, so the worker is
    /// not limited; a job user (no capabilities) cannot run more than this many processes at once.
    /// Returns 0 or the errno.
    /// </summary>
    public static int LimitProcessesPerUser(ulong count)
    {
        var limits = stackalloc ulong[2];
        limits[0] = count;
        limits[1] = count;
        return SetRLimitNative(RLIMIT_NPROC, limits) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    private const int O_RDWR = 2;
    private const int O_CREAT = 0x40; // 0100 on x86-64 and the generic ABI (arm64)
    private const int LOCK_EX = 2;
    private const int LOCK_NB = 4;
    public const int EWOULDBLOCK = 11;

    /// <summary>
    /// Opens (creating, mode 0600) and exclusively locks <paramref name="path"/> without waiting: the
    /// descriptor, or null when another descriptor holds the lock. Plain system calls rather than a
    /// FileStream, whose own locking would conflict and whose refusal costs an exception.
    /// </summary>
    public static Microsoft.Win32.SafeHandles.SafeFileHandle? TryOpenLocked(string path, out int errno)
    {
        var fd = OpenCreateNative(path, O_RDWR | O_CREAT | O_CLOEXEC | ONoFollow, 0b110_000_000);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }
        if (FlockNative(fd, LOCK_EX | LOCK_NB) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            CloseNative(fd);
            return null;
        }
        errno = 0;
        return new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>umask(2); returns the previous mask.</summary>
    public static uint Umask(uint mask) => UmaskNative(mask);

    /// <summary>
    /// setresuid(2) as the raw system call, which changes the credentials of the calling thread only.
    /// The libc wrapper changes every thread of the process (POSIX semantics), which is exactly what
    /// must not happen here. Returns 0 or the errno.
    /// </summary>
    public static int SetThreadResUid(uint real, uint effective, uint saved)
    {
        nint number = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 117,
            Architecture.Arm64 => 147,
            _ => throw new PlatformNotSupportedException("per-thread setresuid is wired for x64 and arm64 only"),
        };
        return SyscallNative(number, (nint)real, (nint)effective, (nint)saved) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    public const nuint MS_NOSUID = 2;
    public const nuint MS_NODEV = 4;
    public const int MNT_DETACH = 2;
    /// <summary>umount2: do not follow a symbolic link at the target (one a job swapped in cannot redirect the unmount).</summary>
    public const int UMOUNT_NOFOLLOW = 8;

    /// <summary>mount(2); returns 0 or the errno. The flag values are the same on every Linux architecture.</summary>
    public static int Mount(string source, string target, string fileSystemType, nuint flags, string data) =>
        MountNative(source, target, fileSystemType, flags, data) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>umount2(2); returns 0 or the errno.</summary>
    public static int Unmount(string target, int flags) =>
        Umount2Native(target, flags) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>The effective user id of this process.</summary>
    public static uint EffectiveUserId => GetEuidNative();

    /// <summary>lchown(2): changes the owner of <paramref name="path"/> itself, never of a link target; returns 0 or the errno.</summary>
    public static int LChown(string path, uint owner, uint group) =>
        LChownNative(path, owner, group) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>kill(2); returns 0 or the errno.</summary>
    public static int Kill(int pid, int signal) =>
        KillNative(pid, signal) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>access(2); returns 0 or the errno.</summary>
    public static int Access(string path, int mode) =>
        AccessNative(path, mode) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>
    /// Opens a file read-only without following a final symbolic link (ELOOP instead) and without
    /// blocking on a FIFO. Returns the descriptor, or -1 with the errno in <paramref name="errno"/>.
    /// </summary>
    public static int OpenNoFollow(string path, out int errno)
    {
        var fd = OpenNative(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | ONoFollow);
        errno = fd >= 0 ? 0 : Marshal.GetLastPInvokeError();
        return fd;
    }

    /// <summary>lstat-like: the file type and size of <paramref name="path"/> itself, never of a link target.</summary>
    public static int LStat(string path, out int fileType, out long size) =>
        Statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, out fileType, out size);

    /// <summary>lstat-like: the owner and full mode (type and permission bits) of <paramref name="path"/> itself.</summary>
    public static int LStatOwner(string path, out uint owner, out int mode)
    {
        var buffer = stackalloc byte[StatxBufferSize];
        new Span<byte>(buffer, StatxBufferSize).Clear();
        if (StatxNative(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MODE | STATX_UID, buffer) != 0)
        {
            owner = 0;
            mode = 0;
            return Marshal.GetLastPInvokeError();
        }
        owner = *(uint*)(buffer + StatxUidOffset);
        mode = *(ushort*)(buffer + StatxModeOffset);
        return 0;
    }

    /// <summary>True when <paramref name="mode"/> is of file type <paramref name="type"/> (S_IFDIR, ...).</summary>
    public static bool IsType(int mode, int type) => (mode & S_IFMT) == type;

    /// <summary>fstat-like: the file type and size of an open descriptor.</summary>
    public static int FStat(int fd, out int fileType, out long size) =>
        Statx(fd, "", AT_EMPTY_PATH, out fileType, out size);

    private static int Statx(int dirfd, string path, int flags, out int fileType, out long size)
    {
        var buffer = stackalloc byte[StatxBufferSize];
        new Span<byte>(buffer, StatxBufferSize).Clear();
        if (StatxNative(dirfd, path, flags, STATX_TYPE | STATX_SIZE, buffer) != 0)
        {
            fileType = 0;
            size = 0;
            return Marshal.GetLastPInvokeError();
        }
        fileType = *(ushort*)(buffer + StatxModeOffset) & S_IFMT;
        size = (long)*(ulong*)(buffer + StatxSizeOffset);
        return 0;
    }

    /// <summary>The text of an errno ("No such file or directory").</summary>
    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}

using System.ComponentModel;
using System.IO.Pipes;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Jobplane.Worker.Runtimes.Exec;

/// <summary>
/// One job's main process, started with posix_spawn(3) rather than through Process and a chain of
/// helper programs. posix_spawn does in the child, between fork and exec, what the job needs:
/// a new session (so the job leads a process group of its own), every signal back to its default
/// disposition (.NET ignores SIGPIPE, and a worker started under nohup ignores SIGHUP: a job must
/// not inherit either) with none blocked, stdin from /dev/null, stdout and stderr to pipes, and
/// the job's working directory. Every exec costs the machine a process start, so a job user's
/// credentials are the only thing left to a helper (setpriv), and the job runs after two execs.
/// The child runs only libc code between fork and exec, which is what makes spawning from a .NET
/// process safe; .NET's own child reaping looks only at the processes it started, so this one is
/// waited for here.
/// </summary>
internal sealed partial class JobProcess : IDisposable
{
    private readonly TaskCompletionSource<int> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private JobProcess(int pid, Stream stdout, Stream stderr)
    {
        Pid = pid;
        Stdout = stdout;
        Stderr = stderr;
        // One blocking waitpid per job on a thread of its own: it returns when the job ends.
        var waiter = new Thread(() => _exit.TrySetResult(WaitForExitCode(pid))) { IsBackground = true, Name = "jobplane job wait" };
        waiter.Start();
    }

    public int Pid { get; }
    public Stream Stdout { get; }
    public Stream Stderr { get; }
    public bool HasExited => _exit.Task.IsCompleted;
    /// <summary>The exit code, or 128 + the signal's number for a job killed by a signal (as a shell reports it).</summary>
    public int ExitCode => _exit.Task.IsCompleted ? _exit.Task.Result : throw new InvalidOperationException("the job has not exited");

    public Task WaitForExitAsync(CancellationToken ct) => _exit.Task.WaitAsync(ct);

    public void Kill() => LibC.Kill(Pid, LibC.SIGKILL);

    public void Dispose()
    {
        Stdout.Dispose();
        Stderr.Dispose();
    }

    /// <summary>Starts <paramref name="argv"/> (argv[0] is the program's path) with exactly <paramref name="environment"/>.</summary>
    public static unsafe JobProcess Start(IReadOnlyList<string> argv, IReadOnlyDictionary<string, string> environment, string workDirectory)
    {
        int[] stdoutPipe = new int[2], stderrPipe = new int[2];
        Check(Pipe2(stdoutPipe, O_CLOEXEC), "pipe2");
        try
        {
            Check(Pipe2(stderrPipe, O_CLOEXEC), "pipe2");
        }
        catch
        {
            Close(stdoutPipe[0]);
            Close(stdoutPipe[1]);
            throw;
        }

        // Sizes of glibc's opaque types vary by architecture; these buffers are larger than any.
        var attributes = stackalloc byte[1024];
        var actions = stackalloc byte[1024];
        var defaults = stackalloc byte[256];
        var mask = stackalloc byte[256];
        var strings = new List<nint>();
        var started = false;
        try
        {
            Check(SpawnAttrInit(attributes), "posix_spawnattr_init");
            Check(SpawnFileActionsInit(actions), "posix_spawn_file_actions_init");
            SigFillSet(defaults);
            SigDelSet(defaults, LibC.SIGKILL);
            SigDelSet(defaults, SIGSTOP);
            SigEmptySet(mask);
            Check(SpawnAttrSetSigDefault(attributes, defaults), "posix_spawnattr_setsigdefault");
            Check(SpawnAttrSetSigMask(attributes, mask), "posix_spawnattr_setsigmask");
            Check(SpawnAttrSetFlags(attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSID), "posix_spawnattr_setflags");

            Check(SpawnFileActionsAddOpen(actions, 0, "/dev/null", O_RDONLY, 0), "posix_spawn_file_actions_addopen");
            Check(SpawnFileActionsAddDup2(actions, stdoutPipe[1], 1), "posix_spawn_file_actions_adddup2");
            Check(SpawnFileActionsAddDup2(actions, stderrPipe[1], 2), "posix_spawn_file_actions_adddup2");
            Check(SpawnFileActionsAddChdir(actions, workDirectory), "posix_spawn_file_actions_addchdir_np");

            // On the heap, like the environment: the worker must not trust the controller's bound on
            // how many arguments a command has with its own stack.
            var argvBlock = new nint[argv.Count + 1];
            for (var i = 0; i < argv.Count; i++) argvBlock[i] = Utf8(argv[i], strings);
            var envBlock = new nint[environment.Count + 1];
            var e = 0;
            foreach (var (name, value) in environment) envBlock[e++] = Utf8(name + "=" + value, strings);
            envBlock[e] = 0;

            int pid;
            fixed (nint* argvp = argvBlock)
            fixed (nint* envp = envBlock)
            {
                var errno = Spawn(&pid, argvBlock[0], actions, attributes, argvp, envp);
                if (errno != 0) throw new Win32Exception(errno, $"cannot start {argv[0]}: {LibC.Describe(errno)}");
            }
            started = true;
            // The child holds its own copies of the write ends; ours must go, or the pipes never reach end of file.
            Close(stdoutPipe[1]);
            Close(stderrPipe[1]);
            return new JobProcess(pid,
                new AnonymousPipeClientStream(PipeDirection.In, new SafePipeHandle(stdoutPipe[0], ownsHandle: true)),
                new AnonymousPipeClientStream(PipeDirection.In, new SafePipeHandle(stderrPipe[0], ownsHandle: true)));
        }
        finally
        {
            SpawnFileActionsDestroy(actions);
            SpawnAttrDestroy(attributes);
            foreach (var s in strings) Marshal.FreeHGlobal(s);
            if (!started)
            {
                foreach (var fd in stdoutPipe.Concat(stderrPipe)) Close(fd);
            }
        }
    }

    private static unsafe int WaitForExitCode(int pid)
    {
        while (true)
        {
            int status;
            var r = WaitPid(pid, &status, 0);
            if (r == pid)
            {
                var signal = status & 0x7f;
                // WIFEXITED: the low 7 bits are 0 and the exit code is in the next 8.
                return signal == 0 ? (status >> 8) & 0xff : 128 + signal;
            }
            var errno = Marshal.GetLastPInvokeError();
            if (r < 0 && errno != EINTR) return 128 + LibC.SIGKILL; // Reaped by someone else: it is gone either way.
        }
    }

    private static nint Utf8(string text, List<nint> allocated)
    {
        var bytes = Encoding.UTF8.GetByteCount(text);
        var p = Marshal.AllocHGlobal(bytes + 1);
        allocated.Add(p);
        unsafe
        {
            var span = new Span<byte>((void*)p, bytes + 1);
            Encoding.UTF8.GetBytes(text, span);
            span[bytes] = 0;
        }
        return p;
    }

    private static void Check(int result, string call)
    {
        if (result == 0) return;
        // posix_spawn* return the error; pipe2 returns -1 and sets errno.
        var errno = result > 0 ? result : Marshal.GetLastPInvokeError();
        throw new Win32Exception(errno, $"{call}: {LibC.Describe(errno)}");
    }

    private static void Close(int fd)
    {
        if (fd > 0) CloseNative(fd);
    }

    private const int O_RDONLY = 0;
    private const int O_CLOEXEC = 0x80000;
    private const int EINTR = 4;
    private const int SIGSTOP = 19;
    // glibc's flag values (spawn.h), the same on every architecture.
    private const short POSIX_SPAWN_SETSIGDEF = 0x04;
    private const short POSIX_SPAWN_SETSIGMASK = 0x08;
    private const short POSIX_SPAWN_SETSID = 0x80;

    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    private static partial int Pipe2([Out] int[] fds, int flags);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int CloseNative(int fd);

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    private static unsafe partial int WaitPid(int pid, int* status, int options);

    [LibraryImport("libc", EntryPoint = "posix_spawn")]
    private static unsafe partial int Spawn(int* pid, nint path, byte* fileActions, byte* attributes, nint* argv, nint* envp);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_init")]
    private static unsafe partial int SpawnAttrInit(byte* attributes);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_destroy")]
    private static unsafe partial int SpawnAttrDestroy(byte* attributes);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setflags")]
    private static unsafe partial int SpawnAttrSetFlags(byte* attributes, short flags);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigdefault")]
    private static unsafe partial int SpawnAttrSetSigDefault(byte* attributes, byte* signals);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigmask")]
    private static unsafe partial int SpawnAttrSetSigMask(byte* attributes, byte* signals);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_init")]
    private static unsafe partial int SpawnFileActionsInit(byte* actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_destroy")]
    private static unsafe partial int SpawnFileActionsDestroy(byte* actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_addopen", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int SpawnFileActionsAddOpen(byte* actions, int fd, string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_adddup2")]
    private static unsafe partial int SpawnFileActionsAddDup2(byte* actions, int fd, int newFd);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_addchdir_np", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int SpawnFileActionsAddChdir(byte* actions, string path);

    [LibraryImport("libc", EntryPoint = "sigfillset")]
    private static unsafe partial int SigFillSet(byte* set);

    [LibraryImport("libc", EntryPoint = "sigemptyset")]
    private static unsafe partial int SigEmptySet(byte* set);

    [LibraryImport("libc", EntryPoint = "sigdelset")]
    private static unsafe partial int SigDelSet(byte* set, int signal);
}

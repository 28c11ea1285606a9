using System.Runtime.InteropServices;
using System.Text;

namespace Jobplane.Worker.Runtimes;

/// <summary>
/// The kernel's own record of a memory cgroup's OOM kill, read from its log (/dev/kmsg), as the
/// kubelet's cAdvisor does. The OOM killer writes "oom-kill:constraint=CONSTRAINT_MEMCG,...,
/// oom_memcg=/docker/&lt;container id&gt;,..." into the log before it sends its SIGKILL, so by the
/// time a container's exit is known the record is already there: no race, unlike the container
/// engine's "oom" event, which containerd's shim drops when the cgroup is deleted before its
/// watcher runs (seen on a loaded machine). Two limits make a missing record inconclusive: the
/// kernel prints that summary at most ten times in five seconds (a flood of OOM kills on one host
/// loses some), and the worker must share the engine's kernel and may read its log (root or
/// CAP_SYSLOG when dmesg_restrict is set). <see cref="Find"/> says when it cannot tell, and callers
/// fall back to the engine's event then.
/// </summary>
internal static unsafe partial class KernelOomLog
{
    private const string LogDevice = "/dev/kmsg";
    private const int O_RDONLY = 0;
    private const int O_NONBLOCK = 0x800;
    private const int O_CLOEXEC = 0x80000;
    private const int EINTR = 4;
    private const int EPIPE = 32;
    // A record is at most 8 KiB (the kernel's CONSOLE_EXT_LOG_MAX); a smaller buffer fails the read.
    private const int RecordLimit = 8192;

    private static ReadOnlySpan<byte> OomKill => "oom-kill:"u8;
    private static ReadOnlySpan<byte> OomMemcg => "oom_memcg="u8;
    private static ReadOnlySpan<byte> OutOfMemory => "ut of memory: "u8;
    private static ReadOnlySpan<byte> KilledProcess => "Killed process "u8;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenNative(string path, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint ReadNative(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int CloseNative(int fd);

    /// <summary>What the kernel's log says about one cgroup.</summary>
    public enum Finding
    {
        /// <summary>The log cannot be read here (no such device, or not permitted).</summary>
        Unreadable,
        /// <summary>An OOM kill in the cgroup is recorded.</summary>
        Killed,
        /// <summary>No OOM kill of the cgroup, and no OOM kill anywhere whose summary the kernel left out.</summary>
        NotKilled,
        /// <summary>No record of the cgroup, but the kernel left out the summary of some OOM kill: it may be that one.</summary>
        Unknown,
    }

    /// <summary>
    /// Looks for an OOM kill in a memory cgroup whose path names <paramref name="cgroupId"/> (a
    /// container's full id). Reads the whole log without waiting for more: a few milliseconds, paid
    /// only by a container that died of SIGKILL without the engine saying why. Every OOM kill logs
    /// "... out of memory: Killed process N" whatever the rate limit, so a kill line not preceded by
    /// its summary shows a summary was left out, and absence then proves nothing.
    /// </summary>
    public static Finding Find(string cgroupId)
    {
        if (cgroupId.Length == 0) return Finding.NotKilled;
        var fd = OpenNative(LogDevice, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) return Finding.Unreadable;
        try
        {
            var id = Encoding.ASCII.GetBytes(cgroupId);
            var buffer = stackalloc byte[RecordLimit];
            var summaryPending = false;
            var summaryMissing = false;
            while (true)
            {
                var read = ReadNative(fd, buffer, RecordLimit);
                if (read < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    // EPIPE: records were overwritten under the reader; the next read goes on from the oldest kept.
                    if (errno is EINTR or EPIPE) continue;
                    // EAGAIN at the end of the log; anything else ends the search as well.
                    break;
                }
                if (read == 0) break;
                switch (Classify(new ReadOnlySpan<byte>(buffer, (int)read), id))
                {
                    case RecordKind.SummaryOfThis:
                        return Finding.Killed;
                    case RecordKind.Summary:
                        summaryPending = true;
                        break;
                    case RecordKind.KilledProcess:
                        if (!summaryPending) summaryMissing = true;
                        summaryPending = false;
                        break;
                }
            }
            return summaryMissing ? Finding.Unknown : Finding.NotKilled;
        }
        finally
        {
            CloseNative(fd);
        }
    }

    internal enum RecordKind { Other, Summary, SummaryOfThis, KilledProcess }

    /// <summary>
    /// What one log record ("priority,sequence,time,flags;message") is: an OOM kill's summary
    /// ("oom-kill:...,oom_memcg=PATH,..."), one whose oom_memcg path contains <paramref name="id"/>,
    /// or the kill line itself ("Memory cgroup out of memory: Killed process N", or "Out of memory:
    /// Killed process N" for the whole machine). Only the cgroup that hit its limit counts, not the
    /// killed task's: a container's limit is what the caller asks about. The OOM killer runs under
    /// one lock, so a summary and its kill line are never interleaved with another kill's.
    /// </summary>
    internal static RecordKind Classify(ReadOnlySpan<byte> record, ReadOnlySpan<byte> id)
    {
        var start = record.IndexOf((byte)';');
        if (start < 0) return RecordKind.Other;
        var message = record[(start + 1)..];
        if (message.StartsWith(OomKill))
        {
            var at = message.IndexOf(OomMemcg);
            if (at < 0) return RecordKind.Summary;
            var path = message[(at + OomMemcg.Length)..];
            var end = path.IndexOfAny((byte)',', (byte)'\n');
            if (end >= 0) path = path[..end];
            return path.IndexOf(id) >= 0 ? RecordKind.SummaryOfThis : RecordKind.Summary;
        }
        var killed = message.IndexOf(KilledProcess);
        return killed >= 0 && message[..killed].EndsWith(OutOfMemory) ? RecordKind.KilledProcess : RecordKind.Other;
    }
}

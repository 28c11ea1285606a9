using System.Globalization;
using System.Text;

namespace Jobplane.Worker.Runtimes.Kubernetes;

/// <summary>
/// `jobplane-worker read-result [--after-job] PATH`: what the result container of a kubernetes
/// attempt runs. With --after-job (as in every attempt's pod) it first waits until the job has
/// ended: the pod shares one process namespace, so the job's container is done once no process is
/// left but the pod's init (pid 1) and this one. It then judges result.json with the very checks
/// the other runtimes use (<see cref="ResultFile"/>: a regular file, never a link or FIFO, at most
/// 1 MiB, valid JSON) inside the pod, where the file is, and prints one <see cref="ResultFrame"/>
/// line the worker reads from the container's log. It exits 0 once it has judged the file: a
/// refusal is an answer. Waiting, rather than running after the job as an init container would
/// let it, is what lets a job that exits non-zero still have its result.json judged.
/// </summary>
internal static class ResultReader
{
    public const string Mode = "read-result";
    public const string AfterJobFlag = "--after-job";

    /// <summary>How often the process table is looked at while the job runs: the delay added to an attempt's end.</summary>
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    /// <summary>Runs the mode; exits 2 only when called wrongly (no frame is printed then).</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var afterJob = args.Count == 3 && args[1] == AfterJobFlag;
        var path = args.Count > 0 ? args[^1] : "";
        if (args.Count != (afterJob ? 3 : 2) || args[0] != Mode || !Path.IsPathFullyQualified(path) || Path.GetFileName(path) != ResultFile.FileName)
        {
            error.WriteLine($"usage: jobplane-worker {Mode} [{AfterJobFlag}] /absolute/path/to/{ResultFile.FileName}");
            return 2;
        }
        if (afterJob)
        {
            while (PodProcesses.OthersRunning("/proc", Environment.ProcessId)) Thread.Sleep(Poll);
        }
        output.Write(Frame(path) + "\n");
        output.Flush();
        return 0;
    }

    /// <summary>The frame line for the result file at <paramref name="path"/>.</summary>
    public static string Frame(string path)
    {
        var outcome = ResultFile.Read(Path.GetDirectoryName(path)!);
        if (outcome.Error is not null) return ResultFrame.NoResult(outcome.Error);
        if (outcome.Result is not { } result) return ResultFrame.NoResult(ResultFrame.NoResultFile);
        // The checked value itself (its JSON text, without surrounding whitespace), never a second read
        // of a file the job could have changed since.
        return ResultFrame.WithResult(Encoding.UTF8.GetBytes(result.GetRawText()));
    }
}

/// <summary>The processes of a pod that shares one process namespace, as its /proc shows them.</summary>
internal static class PodProcesses
{
    /// <summary>
    /// Whether any process other than the namespace's init (pid 1, the pod's pause process) and
    /// <paramref name="self"/> is alive. A zombie (state Z: exited, not yet reaped) is not alive.
    /// A process that vanishes while it is looked at is not alive either.
    /// </summary>
    public static bool OthersRunning(string procRoot, int self)
    {
        foreach (var entry in Directory.EnumerateDirectories(procRoot))
        {
            if (!int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            if (pid == 1 || pid == self) continue;
            if (IsAlive(Path.Combine(entry, "stat"))) return true;
        }
        return false;
    }

    /// <summary>/proc/PID/stat is "pid (comm) state ...": comm may hold spaces and parentheses, so the state follows the last ')'.</summary>
    private static bool IsAlive(string statPath)
    {
        string stat;
        try
        {
            stat = File.ReadAllText(statPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        var close = stat.LastIndexOf(')');
        if (close < 0 || close + 2 >= stat.Length) return false;
        return stat[close + 2] is not ('Z' or 'X');
    }
}

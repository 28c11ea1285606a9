using System.Text;

namespace Jobplane.Worker.Runtimes.Kubernetes;

/// <summary>
/// `jobplane-worker read-result PATH`: what the result container of a kubernetes attempt runs once
/// the job's container exited 0. It judges result.json with the very checks the other runtimes use
/// (<see cref="ResultFile"/>: a regular file, never a link or FIFO, at most 1 MiB, valid JSON) inside
/// the pod, where the file is, and prints one <see cref="ResultFrame"/> line the worker reads from
/// the container's log. It always exits 0 once it has judged the file: a refusal is an answer.
/// </summary>
internal static class ResultReader
{
    public const string Mode = "read-result";

    /// <summary>Runs the mode; exits 2 only when called wrongly (no frame is printed then).</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (args.Count != 2 || args[0] != Mode || !Path.IsPathFullyQualified(args[1]) || Path.GetFileName(args[1]) != ResultFile.FileName)
        {
            error.WriteLine($"usage: jobplane-worker {Mode} /absolute/path/to/{ResultFile.FileName}");
            return 2;
        }
        output.Write(Frame(args[1]) + "\n");
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

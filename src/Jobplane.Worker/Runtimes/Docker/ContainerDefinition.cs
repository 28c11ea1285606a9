using System.Globalization;
using Docker.DotNet.Models;

namespace Jobplane.Worker.Runtimes.Docker;

/// <summary>
/// The container one attempt runs in, locked down by default: every capability dropped, no
/// privilege escalation, the operator's non-root user unless the job asks for root and the operator
/// allows it (still without capabilities), a read-only root filesystem with a small
/// tmpfs at /tmp, no network unless the job asks and the operator allows one, bounded memory (no
/// swap), CPU and processes, an init process that forwards signals and reaps zombies, and no host
/// path but the attempt's output folder.
/// </summary>
internal static class ContainerDefinition
{
    public static CreateContainerParameters Build(
        RunSpec spec, DockerRuntimeOptions options, ContainerLimits limits, string network, string user, string outputFolder)
    {
        var parameters = new CreateContainerParameters
        {
            Name = NameOf(spec),
            Image = spec.Image,
            Env = Environment(spec),
            User = user,
            Labels = ContainerLabels.For(spec, options.WorkerId),
            AttachStdout = true,
            AttachStderr = true,
            AttachStdin = false,
            OpenStdin = false,
            Tty = false,
            HostConfig = new HostConfig
            {
                CapDrop = ["ALL"],
                SecurityOpt = ["no-new-privileges"],
                Privileged = false,
                ReadonlyRootfs = options.ReadOnlyRootFilesystem,
                Tmpfs = new Dictionary<string, string>
                {
                    ["/tmp"] = string.Create(CultureInfo.InvariantCulture, $"rw,nosuid,nodev,mode=1777,size={options.TmpfsBytes}"),
                },
                NetworkMode = network,
                Memory = limits.MemoryBytes,
                // Equal to the memory limit: no swap, so a job over its limit is killed, not slowed to a crawl.
                MemorySwap = limits.MemoryBytes,
                NanoCPUs = (long)Math.Round(limits.Cpus * 1_000_000_000),
                PidsLimit = limits.Pids,
                Init = true,
                Mounts =
                [
                    new Mount
                    {
                        Type = "bind",
                        Source = outputFolder,
                        Target = DockerRuntimeOptions.OutputMountPath,
                        ReadOnly = false,
                        BindOptions = new BindOptions { Propagation = "rprivate" },
                    },
                ],
                // The output is streamed to jobplane as it is produced; the engine keeps no copy of it.
                LogConfig = new LogConfig { Type = "none" },
                // The worker removes the container itself, after reading its exit code and OOM state.
                AutoRemove = false,
                RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
            },
        };
        // The argument vector as given: no shell ever sees it. None: the image's own CMD runs.
        if (spec.Command is { Count: > 0 } command) parameters.Cmd = [.. command];
        return parameters;
    }

    /// <summary>A readable name in `docker ps`, unique per attempt.</summary>
    public static string NameOf(RunSpec spec) =>
        string.Create(CultureInfo.InvariantCulture, $"jobplane-{spec.ExecutionId:N}-{spec.Attempt}");

    /// <summary>
    /// The job's environment: its identity, the output folder and the spec's extra variables; the
    /// image adds its own (PATH, ...). Nothing of the worker's: containers inherit nothing from it,
    /// and the JOBPLANE_ identity variables cannot be overridden.
    /// </summary>
    private static List<string> Environment(RunSpec spec)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        if (spec.ExtraEnvironment is not null)
        {
            foreach (var (name, value) in spec.ExtraEnvironment) environment[name] = value;
        }
        environment["JOBPLANE_EXECUTION_ID"] = spec.ExecutionId.ToString("D");
        environment["JOBPLANE_JOB_ID"] = spec.JobId.ToString("D");
        environment["JOBPLANE_ATTEMPT"] = spec.Attempt.ToString(CultureInfo.InvariantCulture);
        environment["JOBPLANE_OUTPUT_DIR"] = DockerRuntimeOptions.OutputMountPath;
        return [.. environment.Select(e => $"{e.Key}={e.Value}")];
    }
}

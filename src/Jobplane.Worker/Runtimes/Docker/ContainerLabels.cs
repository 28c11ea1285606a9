using System.Globalization;

namespace Jobplane.Worker.Runtimes.Docker;

/// <summary>
/// The labels on every container the docker runtime creates. They are how `docker ps` tells an
/// operator whose container it is, and how a restarted worker finds what its previous life left.
/// </summary>
internal static class ContainerLabels
{
    /// <summary>"true" on every container jobplane made, whichever worker made it.</summary>
    public const string Managed = "jobplane.managed";
    public const string Worker = "jobplane.worker";
    public const string Execution = "jobplane.execution";
    public const string Attempt = "jobplane.attempt";
    public const string Job = "jobplane.job";

    public static Dictionary<string, string> For(RunSpec spec, string workerId) => new(StringComparer.Ordinal)
    {
        [Managed] = "true",
        [Worker] = workerId,
        [Execution] = spec.ExecutionId.ToString("D"),
        [Attempt] = spec.Attempt.ToString(CultureInfo.InvariantCulture),
        [Job] = spec.JobId.ToString("D"),
    };

    /// <summary>A container-list filter matching every container of one worker.</summary>
    public static IDictionary<string, IDictionary<string, bool>> OfWorker(string workerId) =>
        new Dictionary<string, IDictionary<string, bool>>
        {
            ["label"] = new Dictionary<string, bool>
            {
                [$"{Managed}=true"] = true,
                [$"{Worker}={workerId}"] = true,
            },
        };
}

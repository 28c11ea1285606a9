using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Tests.Kubernetes;
using k8s;

namespace Jobplane.Worker.Tests.Conformance;

/// <summary>
/// The kubernetes runtime against the conformance suite, on a fake API server (no cluster can run
/// here) whose pods are real containers on the test engine: exit codes, signals, OOM kills, logs and
/// the result container are real, only the API server and the kubelet are stand-ins.
/// </summary>
public sealed class KubernetesConformance : RuntimeConformanceTests
{
    protected override IRuntimeUnderTest Create(TimeSpan killGrace) =>
        new KubernetesUnderTest(KubernetesHarness.Start(o => o with { KillGrace = killGrace }));

    private sealed class KubernetesUnderTest(KubernetesHarness kubernetes) : IRuntimeUnderTest
    {
        public AttemptSupervisor Runtime => kubernetes.Runtime;
        public string WorkRoot => kubernetes.WorkRoot;
        public string WorkerId => kubernetes.WorkerId;
        public IReadOnlyList<string> LogMessages => [.. kubernetes.Logger.Entries.Select(e => e.Message)];

        public RunSpec Spec(IReadOnlyList<string> command, TimeSpan? timeout = null) => KubernetesHarness.Spec(command, timeout);

        public Task<bool> UnitGoneAsync(RunSpec spec) => kubernetes.AttemptGoneAsync(spec);

        public async Task<ILeftoverUnit> LeaveUnitAsync(string workerId) => new LeftoverJob(kubernetes, await kubernetes.LeaveJobAsync(workerId));

        public ValueTask DisposeAsync() => kubernetes.DisposeAsync();
    }

    private sealed class LeftoverJob(KubernetesHarness kubernetes, string name) : ILeftoverUnit
    {
        public string LoggedAs => $"Removed orphan Kubernetes Job {name}";

        public async Task<bool> IsGoneAsync() => !await kubernetes.JobExistsAsync(name);

        public async ValueTask DisposeAsync()
        {
            try
            {
                await kubernetes.Client.BatchV1.DeleteNamespacedJobAsync(name, KubernetesHarness.Namespace,
                    new k8s.Models.V1DeleteOptions { PropagationPolicy = "Foreground" });
            }
            catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                // Removed by the cleanup.
            }
        }
    }
}

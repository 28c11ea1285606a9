using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using static Jobplane.Testing.Kubernetes.Tests.FakeCluster;

namespace Jobplane.Testing.Kubernetes.Tests;

/// <summary>pods/log's stream parameter (Kubernetes 1.32's PodLogsQuerySplitStreams).</summary>
public sealed partial class FakeKubernetesTests
{
    [Fact]
    public async Task A_log_read_with_stream_Stdout_or_Stderr_returns_only_that_stream_followed_or_with_timestamps_from_sinceTime()
    {
        await using var cluster = await StartAsync();
        var name = UniqueName("streams");
        // The pauses order the lines across the two streams: the engine stamps each stream as it
        // reads it, so two lines written back to back may come in either order.
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(
            Job(name, Shell("job", "echo out-1; echo err-1 >&2; sleep 1; echo out-2; sleep 1; echo err-2 >&2; sleep 1; echo out-3")), Namespace);
        var pod = (await cluster.PodOfAsync(name, p => p.Status.Phase is "Running" or "Succeeded", "started")).Metadata.Name;

        // Followed from (most likely) while the container runs, each to the container's end.
        var stdout = cluster.FollowLogAsync(pod, "job", stream: "Stdout");
        var stderr = cluster.FollowLogAsync(pod, "job", stream: "Stderr");
        Assert.Equal("out-1\nout-2\nout-3\n", await stdout);
        Assert.Equal("err-1\nerr-2\n", await stderr);
        // All, or no stream named: both merged, as before.
        string[] both = ["err-1", "err-2", "out-1", "out-2", "out-3"];
        Assert.Equal(both, Lines(await cluster.FollowLogAsync(pod, "job", stream: "All")).Order(StringComparer.Ordinal));
        Assert.Equal(both, Lines(await cluster.FollowLogAsync(pod, "job")).Order(StringComparer.Ordinal));

        // With timestamps, and resumed from a line's sinceTime (inclusive): still the one stream only.
        await cluster.FinishedJobAsync(name);
        using var http = new HttpClient { BaseAddress = new Uri(cluster.Fake.Host), Timeout = Limit };
        var path = $"/api/v1/namespaces/{Namespace}/pods/{pod}/log?container=job&timestamps=true&stream=Stdout";
        var stamped = Lines(await http.GetStringAsync(path));
        Assert.Equal(["out-1", "out-2", "out-3"], stamped.Select(l => l.Split(' ', 2)[1]));
        var since = Uri.EscapeDataString(stamped[1].Split(' ')[0]);
        Assert.Equal(stamped[1..], Lines(await http.GetStringAsync($"{path}&sinceTime={since}")));
        var errors = Lines(await http.GetStringAsync($"{path.Replace("Stdout", "Stderr", StringComparison.Ordinal)}&sinceTime={since}"));
        Assert.Equal(["err-2"], errors.Select(l => l.Split(' ', 2)[1]));
    }

    [Fact]
    public async Task A_log_read_with_an_unknown_stream_or_with_one_stream_and_tailLines_is_refused_with_422_Invalid()
    {
        await using var cluster = await StartAsync();
        var name = UniqueName("badstream");
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(Job(name, Shell("job", "echo out-1; echo err-1 >&2")), Namespace);
        await cluster.FinishedJobAsync(name);
        var pod = (await cluster.PodOfAsync(name, p => p.Status.Phase == "Succeeded", "succeeded")).Metadata.Name;

        // The values are case-sensitive, as on the real server.
        var unknown = await Assert.ThrowsAsync<HttpOperationException>(() =>
            cluster.Client.CoreV1.ReadNamespacedPodLogAsync(pod, Namespace, container: "job", stream: "stdout"));
        var status = Invalid(unknown);
        Assert.Contains("stream: Unsupported value: \"stdout\"", status.Message, StringComparison.Ordinal);

        var tail = await Assert.ThrowsAsync<HttpOperationException>(() =>
            cluster.Client.CoreV1.ReadNamespacedPodLogAsync(pod, Namespace, container: "job", stream: "Stderr", tailLines: 1));
        Assert.Contains("`tailLines` and specific `stream` are mutually exclusive", Invalid(tail).Message, StringComparison.Ordinal);

        // All with tailLines is allowed: the last lines of both streams.
        using var all = await cluster.Client.CoreV1.ReadNamespacedPodLogAsync(pod, Namespace, container: "job", stream: "All", tailLines: 2);
        using var reader = new StreamReader(all);
        Assert.Equal(["err-1", "out-1"], Lines(await reader.ReadToEndAsync()).Order(StringComparer.Ordinal));
    }

    private static string[] Lines(string log) => log.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static V1Status Invalid(HttpOperationException e)
    {
        Assert.Equal((HttpStatusCode)422, e.Response.StatusCode);
        var status = KubernetesJson.Deserialize<V1Status>(e.Response.Content);
        Assert.Equal(("Failure", "Invalid", 422), (status.Status, status.Reason, status.Code));
        Assert.Equal("PodLogOptions", status.Details.Kind);
        return status;
    }
}

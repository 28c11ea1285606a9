using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Jobplane.Testing.Kubernetes.Tests;

/// <summary>A fake started for one test, its client, and the waits the tests share (each bounded).</summary>
internal sealed class FakeCluster : IAsyncDisposable
{
    public const string Namespace = "jobs";
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    private FakeCluster(FakeKubernetes fake)
    {
        Fake = fake;
        Client = fake.CreateClient();
    }

    public FakeKubernetes Fake { get; }
    public k8s.Kubernetes Client { get; }

    public static async Task<FakeCluster> StartAsync(NodeSize? node = null) =>
        new(await FakeKubernetes.StartAsync(TestDocker.Host, TestDocker.Image, node: node));

    /// <summary>A Job as the runtime makes them: one attempt, never restarted, no credentials.</summary>
    public static V1Job Job(string name, V1Container container, Action<V1PodSpec>? pod = null, long? deadline = null)
    {
        var spec = new V1PodSpec
        {
            RestartPolicy = "Never",
            AutomountServiceAccountToken = false,
            EnableServiceLinks = false,
            TerminationGracePeriodSeconds = 1,
            Containers = [container],
        };
        pod?.Invoke(spec);
        return new V1Job
        {
            ApiVersion = "batch/v1",
            Kind = "Job",
            Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["app.kubernetes.io/managed-by"] = "jobplane" } },
            Spec = new V1JobSpec
            {
                BackoffLimit = 0,
                ActiveDeadlineSeconds = deadline,
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["jobplane.dev/test"] = name } },
                    Spec = spec,
                },
            },
        };
    }

    public static V1Container Shell(string name, string script) => new()
    {
        Name = name,
        Image = TestDocker.Image,
        Command = ["sh", "-c", script],
    };

    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 63)];

    /// <summary>Polls until <paramref name="probe"/> gives a value, or fails the test after the limit.</summary>
    public static async Task<T> EventuallyAsync<T>(string what, Func<Task<T?>> probe) where T : class
    {
        using var limit = new CancellationTokenSource(Limit);
        while (true)
        {
            if (await probe() is { } value) return value;
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), limit.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"not within {Limit}: {what}");
            }
        }
    }

    public Task<V1Job> FinishedJobAsync(string name) => EventuallyAsync($"job {name} finished", async () =>
    {
        var job = await Client.BatchV1.ReadNamespacedJobAsync(name, Namespace);
        return job.Status?.Conditions?.Any(c => c.Type is "Complete" or "Failed" && c.Status == "True") == true ? job : null;
    });

    public Task<V1Pod> PodOfAsync(string job, Func<V1Pod, bool> when, string what) => EventuallyAsync($"pod of {job} {what}", async () =>
    {
        var pods = await Client.CoreV1.ListNamespacedPodAsync(Namespace, labelSelector: $"job-name={job}");
        return pods.Items.Count == 1 && when(pods.Items[0]) ? pods.Items[0] : null;
    });

    /// <summary>Follows a container's log (one stream of it, if given) to its end, once the container has started.</summary>
    public async Task<string> FollowLogAsync(string pod, string container, string? stream = null)
    {
        var log = await EventuallyAsync($"log of {pod}/{container}", async () =>
        {
            try
            {
                return await Client.CoreV1.ReadNamespacedPodLogAsync(pod, Namespace, container: container, follow: true, stream: stream);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.BadRequest)
            {
                // Still waiting to start.
                return null;
            }
        });
        using var reader = new StreamReader(log);
        return await reader.ReadToEndAsync().WaitAsync(Limit);
    }

    public async Task<int> ContainersAsync(string? pod = null) =>
        (await TestDocker.ContainersLabelledAsync(FakeKubernetes.InstanceLabel, Fake.Instance))
            .Count(c => pod is null || c.Labels.TryGetValue("io.kubernetes.pod.name", out var p) && p == pod);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Fake.DisposeAsync();
        // Whatever a test asserted, the fake must not have failed inside, nor left a container behind.
        Assert.Empty(Fake.Faults);
        Assert.Equal(0, await ContainersAsync());
    }
}

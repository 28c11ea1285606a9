using System.Net;
using Docker.DotNet;
using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Jobplane.Testing.Kubernetes;

/// <summary>
/// A Kubernetes API server for tests, in-process on 127.0.0.1 over plain HTTP, serving the part of
/// the API a Job runner uses (batch/v1 jobs; v1 pods, pods/log, events), whose pods run as real
/// containers on a Docker Engine. Every request is recorded in RBAC terms. Disposing it removes
/// every container and volume it made.
/// </summary>
public sealed class FakeKubernetes : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Cluster _cluster;
    private readonly ApiHandler _api;

    private FakeKubernetes(WebApplication app, Cluster cluster, ApiHandler api, string host)
    {
        _app = app;
        _cluster = cluster;
        _api = api;
        Host = host;
    }

    /// <summary>The server's address, e.g. http://127.0.0.1:40123.</summary>
    public string Host { get; }

    /// <summary>The value of the <see cref="InstanceLabel"/> label on every Docker container and volume this fake made.</summary>
    public string Instance => _cluster.Instance;

    /// <summary>The Docker label that names the fake instance a container or volume belongs to.</summary>
    public const string InstanceLabel = PodContainers.InstanceLabel;

    /// <summary>Every request answered so far, in order of arrival.</summary>
    public IReadOnlyList<ApiRequest> Requests => _api.Requests;

    /// <summary>Every exception the fake hit while answering a request (each also answered 500 when it could be).</summary>
    public IReadOnlyList<Exception> Faults => _api.Faults;

    /// <summary>
    /// Breaks every open watch and log stream mid-way, as a network fault would: the client sees
    /// its connection end without the response's end, and must resume.
    /// </summary>
    public void DropStreams() => _api.DropStreams();

    /// <summary>The next <paramref name="count"/> log requests for <paramref name="container"/> lose their connection before any answer.</summary>
    public void BreakLogReads(string container, int count) => _api.BreakLogReads(container, count);

    /// <summary>
    /// Forgets the change history up to now, as etcd's compaction does: a watch asked to resume
    /// from an earlier resourceVersion gets an ERROR event with a 410 Expired Status, and must list again.
    /// </summary>
    public void CompactHistory() => _cluster.Store.Compact();

    /// <summary>What the fake's one node offers the scheduler.</summary>
    public NodeSize Node => _cluster.Node;

    /// <summary>
    /// Evicts a pod as the kubelet's node-pressure eviction does: its containers are killed at once
    /// (SIGKILL, no grace), the pod becomes Failed with reason Evicted and <paramref name="message"/>,
    /// gains a DisruptionTarget condition (reason TerminationByKubelet), and an Evicted event is
    /// recorded. Its Job counts the pod failed. Completes once the pod shows that state. Throws
    /// <see cref="InvalidOperationException"/> when the pod is not active on the node (no such pod,
    /// never scheduled, already ended, or being deleted).
    /// </summary>
    public Task EvictPod(string ns, string podName, string message = "The node was low on resource: memory.") =>
        _cluster.EvictPodAsync(ns, podName, message);

    /// <summary>
    /// Loses the node under one pod, as the taint manager handles a node gone NotReady: the pod turns
    /// not Ready, gains a DisruptionTarget condition (reason DeletionByTaintManager) and is deleted,
    /// so that a watch sees MODIFIED events, then DELETED; its containers are removed. The fake's
    /// other pods run on, as if this one alone had been on the lost node. Its Job counts the pod
    /// failed. Completes once the pod is gone. Throws <see cref="InvalidOperationException"/> when
    /// the pod is not on the node (no such pod, never scheduled, or being deleted).
    /// </summary>
    public Task LoseNode(string ns, string podName) => _cluster.LoseNodeAsync(ns, podName);

    /// <summary>A client configuration for the official client.</summary>
    public KubernetesClientConfiguration Configuration() => new() { Host = Host };

    public k8s.Kubernetes CreateClient() => new(Configuration());

    /// <summary>
    /// Starts a fake whose pods run on the Docker Engine at <paramref name="dockerHost"/> (e.g.
    /// unix:///run/docker.sock). <paramref name="sandboxImage"/> is a local image with sh and
    /// sleep, for the sandbox that holds a pod's emptyDir volumes (the kubelet's pause container).
    /// <paramref name="node"/> is what its one node offers the scheduler (default
    /// <see cref="NodeSize.Default"/>, 16 GiB and 8 CPUs).
    /// </summary>
    public static async Task<FakeKubernetes> StartAsync(string dockerHost, string sandboxImage, TimeProvider? time = null, NodeSize? node = null)
    {
        var docker = new DockerClientBuilder().WithEndpoint(new Uri(dockerHost)).Build();
        var cluster = new Cluster(docker, Guid.NewGuid().ToString("N")[..12], sandboxImage, time ?? TimeProvider.System, node ?? NodeSize.Default);
        var api = new ApiHandler(cluster);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http1));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Run(api.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new FakeKubernetes(app, cluster, api, address.Replace("[::1]", "127.0.0.1", StringComparison.Ordinal));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _cluster.DisposeAsync();
        _cluster.Docker.Dispose();
        await _app.DisposeAsync();
    }
}

using System.Net;
using System.Net.Sockets;
using System.Text;
using Jobplane.Worker.Runtimes.Docker;
using Jobplane.Worker.Tests.Docker;
using Microsoft.Extensions.Logging;

namespace Jobplane.Worker.Tests.Bounds;

/// <summary>
/// A job without network cannot make the engine pull over the host's network, and a failed pull
/// tells the tenant what kind of failure it was without the engine's words (hosts, addresses,
/// paths); the operator finds those in the worker's log.
/// </summary>
public sealed class DockerImagePullTests
{
    [Fact]
    public async Task A_job_without_network_does_not_pull_a_missing_image()
    {
        await using var docker = new DockerHarness(o => o with { Network = "host" });
        var spec = DockerHarness.Spec(["true"], image: "jobplane-test/absent:1");

        var (outcome, _) = await docker.RunAsync(spec);
        var (present, _) = await docker.RunAsync(DockerHarness.Spec(["true"]));

        Assert.False(outcome.Retryable);
        Assert.Equal("image 'jobplane-test/absent:1' is not on this worker, and pulling it needs network, which this job does not have", outcome.Error);
        Assert.DoesNotContain(docker.Logger.Entries, e => e.Message.StartsWith("Pulling", StringComparison.Ordinal));
        Assert.True(present.Succeeded, present.Error);
    }

    [Fact]
    public async Task With_pulls_allowed_without_network_the_engine_tries_and_the_tenant_reads_a_fixed_text()
    {
        await using var docker = new DockerHarness(o => o with { PullRequiresNetwork = false });

        var (outcome, _) = await docker.RunAsync(DockerHarness.Spec(["true"], image: "registry.invalid/team/app:1"));

        Assert.Equal("image 'registry.invalid/team/app:1' is not on this worker's Docker Engine and cannot be pulled: the registry cannot be reached from this worker", outcome.Error);
        Assert.Contains(docker.Logger.Entries, e => e.Message.StartsWith("Pulling image registry.invalid/team/app:1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_unreachable_registry_is_named_as_such_and_the_engine_error_goes_to_the_log_only()
    {
        await using var docker = new DockerHarness(o => o with { Network = "host" });

        var (outcome, _) = await docker.RunAsync(DockerHarness.Spec(["true"], image: "registry.invalid/team/app:1") with { Network = true });

        Assert.False(outcome.Retryable);
        Assert.Equal("image 'registry.invalid/team/app:1' is not on this worker's Docker Engine and cannot be pulled: the registry cannot be reached from this worker", outcome.Error);
        // The engine's own words name the resolver it asked; the tenant must not see them, the operator does.
        var logged = Assert.Single(docker.Logger.Entries, e => e.Level == LogLevel.Warning && e.Message.StartsWith("Image registry.invalid/team/app:1 cannot be pulled", StringComparison.Ordinal));
        Assert.Contains("no such host", logged.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("lookup", outcome.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_registry_without_the_image_and_one_refusing_access_get_fixed_texts_without_their_answers()
    {
        using var registry = new TinyRegistry();
        await using var docker = new DockerHarness(o => o with { Network = "host" });
        var missing = $"127.0.0.1:{registry.Port}/team/app:1";
        var secret = $"127.0.0.1:{registry.Port}/secret/app:1";

        var (notFound, _) = await docker.RunAsync(DockerHarness.Spec(["true"], image: missing) with { Network = true });
        var (refused, _) = await docker.RunAsync(DockerHarness.Spec(["true"], image: secret) with { Network = true });

        Assert.Equal($"image '{missing}' is not on this worker's Docker Engine and cannot be pulled: {PullErrors.NotFound}", notFound.Error);
        Assert.Equal($"image '{secret}' is not on this worker's Docker Engine and cannot be pulled: {PullErrors.Unauthorized}", refused.Error);
        // What the registry said (an internal path and host name) reached the engine, and the log, but not the tenant.
        Assert.Contains(docker.Logger.Entries, e => e.Message.Contains(TinyRegistry.InternalPath, StringComparison.Ordinal));
        Assert.Contains(docker.Logger.Entries, e => e.Message.Contains(TinyRegistry.InternalHost, StringComparison.Ordinal));
        Assert.DoesNotContain(TinyRegistry.InternalPath, notFound.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(TinyRegistry.InternalHost, refused.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_invalid_reference_is_named_without_the_engine_words()
    {
        await using var docker = new DockerHarness(o => o with { Network = "host" });

        var (outcome, _) = await docker.RunAsync(DockerHarness.Spec(["true"], image: "Team/App:1") with { Network = true });

        Assert.False(outcome.Retryable);
        Assert.Equal("image 'Team/App:1' is not a valid image reference", outcome.Error);
    }

    /// <summary>
    /// The two answers of a registry (distribution API v2) that matter here, on loopback, which the
    /// engine talks plain HTTP to: no such manifest, and access refused. Both carry the kind of
    /// detail real registries put in their answers.
    /// </summary>
    private sealed class TinyRegistry : IDisposable
    {
        public const string InternalPath = "/srv/registry/data";
        public const string InternalHost = "registry.corp.internal";
        private readonly HttpListener _listener = new();
        private readonly Task _serving;

        public TinyRegistry()
        {
            using (var probe = new TcpListener(IPAddress.Loopback, 0))
            {
                probe.Start();
                Port = ((IPEndPoint)probe.LocalEndpoint).Port;
            }
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            _listener.Start();
            _serving = Task.Run(ServeAsync);
        }

        public int Port { get; }

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }
                var path = context.Request.Url!.AbsolutePath;
                var response = context.Response;
                response.ContentType = "application/json";
                string body;
                if (path.StartsWith("/v2/secret/", StringComparison.Ordinal))
                {
                    response.StatusCode = 401;
                    response.AddHeader("WWW-Authenticate", $"Basic realm=\"{InternalHost}\"");
                    body = $$"""{"errors":[{"code":"UNAUTHORIZED","message":"authentication required by {{InternalHost}}"}]}""";
                }
                else if (path == "/v2/")
                {
                    response.StatusCode = 200;
                    body = "{}";
                }
                else
                {
                    response.StatusCode = 404;
                    body = $$"""{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown in {{InternalPath}}"}]}""";
                }
                var bytes = Encoding.UTF8.GetBytes(body);
                try
                {
                    if (context.Request.HttpMethod != "HEAD") await response.OutputStream.WriteAsync(bytes);
                    response.Close();
                }
                catch (Exception e) when (e is HttpListenerException or IOException)
                {
                    // The engine hung up; it asks again if it wants to.
                }
            }
        }

        public void Dispose()
        {
            _listener.Stop();
            _listener.Close();
            try
            {
                _serving.Wait(TimeSpan.FromSeconds(5));
            }
            catch (AggregateException)
            {
                // Serving ended with the listener.
            }
        }
    }
}

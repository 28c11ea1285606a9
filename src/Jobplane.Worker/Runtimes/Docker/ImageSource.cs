using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;

namespace Jobplane.Worker.Runtimes.Docker;

/// <summary>
/// Makes sure the engine has a job's image before its container is created, following the pull
/// policy. The engine pulls over the host's network, so a job without network makes it pull only
/// where the operator allows that (DOCKER_PULL_REQUIRES_NETWORK=false). An image that cannot be had
/// fails the attempt and is not retried: running again would ask for the same missing image. The
/// tenant reads a fixed reason (<see cref="PullErrors"/>); the engine's own words, which can name
/// internal hosts, addresses and paths, go to the worker's log only.
/// </summary>
internal sealed class ImageSource(IDockerClient client, DockerRuntimeOptions options, ILogger logger, TimeProvider time)
{
    /// <summary>Why an image cannot be used.</summary>
    public sealed record Problem(string Error, bool Retryable);

    /// <summary>
    /// Null when the image is ready; otherwise why not. Throws OperationCanceledException when
    /// <paramref name="stop"/> is cancelled during a pull.
    /// </summary>
    public async Task<Problem?> EnsureAsync(string image, bool hasNetwork, CancellationToken stop)
    {
        try
        {
            var mayPull = hasNetwork || !options.PullRequiresNetwork;
            // Without a pull allowed, "always" can only mean the copy the engine already has.
            var pullFirst = options.PullPolicy == PullPolicy.Always && mayPull;
            if (!pullFirst && await ExistsAsync(image, stop)) return null;
            if (options.PullPolicy == PullPolicy.Never)
                return new Problem($"image '{image}' is not on this worker's Docker Engine, and DOCKER_PULL_POLICY is never", Retryable: false);
            if (!mayPull)
                return new Problem($"image '{image}' is not on this worker, and pulling it needs network, which this job does not have", Retryable: false);
            return await PullAsync(image, stop);
        }
        catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.BadRequest)
        {
            // "invalid reference format: ..." and the like: the reference itself, which the tenant wrote.
            DockerRuntimeLog.ImageRefused(logger, image, DockerApiErrors.MessageOf(e));
            return new Problem($"image '{image}' is not a valid image reference", Retryable: false);
        }
    }

    private async Task<bool> ExistsAsync(string image, CancellationToken ct)
    {
        try
        {
            await client.Images.InspectImageAsync(image, ct);
            return true;
        }
        catch (DockerImageNotFoundException)
        {
            return false;
        }
    }

    private async Task<Problem?> PullAsync(string image, CancellationToken stop)
    {
        var (repository, tag) = Split(image);
        DockerRuntimeLog.Pulling(logger, image);
        using var timeout = new CancellationTokenSource(options.PullTimeout, time);
        using var pull = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
        var progress = new PullProgress();
        try
        {
            await client.Images.CreateImageAsync(
                new ImagesCreateParameters { FromImage = repository, Tag = tag }, authConfig: null, progress, pull.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !stop.IsCancellationRequested)
        {
            // The engine may still be downloading; the next attempt finds what it got so far.
            return new Problem($"pulling image '{image}' did not finish within {OutcomeText.FormatDuration(options.PullTimeout)}", Retryable: true);
        }
        catch (DockerApiException e) when (e.StatusCode is not HttpStatusCode.BadRequest)
        {
            return CannotPull(image, DockerApiErrors.MessageOf(e));
        }
        // A failed pull can also be an error message inside a successful answer.
        if (progress.Error is { } error) return CannotPull(image, error);
        if (!await ExistsAsync(image, stop)) return CannotPull(image, "the engine reported no error, yet does not have the image");
        DockerRuntimeLog.Pulled(logger, image);
        return null;
    }

    private Problem CannotPull(string image, string reason)
    {
        DockerRuntimeLog.PullFailed(logger, image, reason);
        return new Problem($"image '{image}' is not on this worker's Docker Engine and cannot be pulled: {PullErrors.Describe(reason)}", Retryable: false);
    }

    /// <summary>
    /// Repository and tag (or digest) of a reference. The pull API pulls every tag of a repository
    /// when the tag is empty, so a reference without one means "latest", as with `docker pull`.
    /// </summary>
    internal static (string Repository, string Tag) Split(string image)
    {
        var at = image.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0) return (image[..at], image[(at + 1)..]);
        var colon = image.LastIndexOf(':');
        // A colon before the last '/' belongs to a registry's port (localhost:5000/app).
        if (colon > image.LastIndexOf('/')) return (image[..colon], image[(colon + 1)..]);
        return (image, "latest");
    }

    /// <summary>Keeps the engine's last error; called synchronously while the answer streams in.</summary>
    private sealed class PullProgress : IProgress<JSONMessage>
    {
        public string? Error { get; private set; }

        public void Report(JSONMessage value)
        {
            if (value?.Error?.Message is { Length: > 0 } message) Error = message.Trim();
        }
    }
}

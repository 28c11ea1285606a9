using Jobplane.Api;
using Jobplane.Controller.Http;
using Jobplane.Store;

namespace Jobplane.Controller.Images;

/// <summary>The outcome of <see cref="ImageAdmission.CheckAsync"/>: the answer refusing the submission, or the jobs found allowed.</summary>
public sealed record ImageCheck(IResult? Refused, IReadOnlyList<Guid>? AllowedJobs)
{
    /// <summary>The refusal's message, for a caller that answers in something other than JSON (the dashboard).</summary>
    public string? Message { get; init; }

    /// <summary>Every registry is allowed: nothing was read, and nothing restricts the submission.</summary>
    public static readonly ImageCheck Unrestricted = new(null, null);
}

/// <summary>
/// The check every path that creates executions (run, runs, dead-letter retry, bulk retry) makes
/// first: the images of the jobs it would run must still come from registries IMAGE_REGISTRIES
/// allows. Creating a job checks its image too, but the operator may narrow the list afterwards,
/// and a job created before must not run from a registry that is no longer allowed.
/// <para>Cost: nothing while every registry is allowed (the default); otherwise one read of the jobs'
/// images before the submission (one primary-key probe for a run). A job's image changes only
/// through a job update, which is checked against the same list.</para>
/// </summary>
public sealed class ImageAdmission(ControllerOptions options)
{
    /// <summary>
    /// <paramref name="images"/> reads the jobs the submission would run; none found is not a refusal
    /// (the submission itself answers 404). The refusal is a 403 image_not_allowed naming the
    /// registry and the setting.
    /// </summary>
    public async Task<ImageCheck> CheckAsync(Func<CancellationToken, Task<IReadOnlyList<JobImage>>> images, CancellationToken ct)
    {
        var allowList = options.ImageRegistries;
        if (allowList.AllowsAny) return ImageCheck.Unrestricted;
        var jobs = await images(ct);
        foreach (var job in jobs)
        {
            if (allowList.Refusal(job.Image) is not { } why) continue;
            var message = jobs.Count == 1
                ? $"job {job.JobId} cannot run: {why}"
                : $"job {job.JobId} cannot run: {why}. Nothing was retried; retry other jobs' dead letters with job_id";
            return new ImageCheck(ApiResults.Error(403, ErrorCodes.ImageNotAllowed, message), null) { Message = message };
        }
        return new ImageCheck(null, [.. jobs.Select(j => j.JobId)]);
    }
}

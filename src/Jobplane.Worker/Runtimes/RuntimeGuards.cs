namespace Jobplane.Worker.Runtimes;

/// <summary>Checks and helpers every runtime shares.</summary>
internal static class RuntimeGuards
{
    public static void CheckShared(string workRoot, string workerId, TimeSpan killGrace, int maxLineChars, string paramName)
    {
        if (string.IsNullOrWhiteSpace(workRoot))
            throw new ArgumentException("WorkRoot must be set", paramName);
        // The worker id becomes a directory name (and a label or environment value): one plain path segment.
        if (string.IsNullOrEmpty(workerId) || workerId is "." or ".." || workerId.AsSpan().IndexOfAny('/', '\0') >= 0)
            throw new ArgumentException($"WorkerId '{workerId}' must be a non-empty name without '/'", paramName);
        if (killGrace < TimeSpan.Zero)
            throw new ArgumentException("KillGrace must not be negative", paramName);
        if (maxLineChars < 2)
            throw new ArgumentException("MaxLineChars must be at least 2", paramName);
    }

    /// <summary>Why <paramref name="image"/> cannot be an image reference for <paramref name="runtime"/>, or null.</summary>
    public static string? ImageProblem(string? image, string runtime)
    {
        if (string.IsNullOrWhiteSpace(image)) return $"image is empty: the {runtime} runtime needs an image to run";
        return image.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) ? $"image '{image}' is not a valid image reference" : null;
    }

    /// <summary>
    /// A token source that cancels when an attempt's timeout is up. A CancellationTokenSource timer
    /// cannot go past ~49 days; a longer timeout is no timeout.
    /// </summary>
    public static CancellationTokenSource TimeoutSource(TimeSpan timeout, TimeProvider time) =>
        timeout == Timeout.InfiniteTimeSpan || timeout.TotalMilliseconds >= uint.MaxValue - 1
            ? new CancellationTokenSource()
            : new CancellationTokenSource(timeout, time);
}

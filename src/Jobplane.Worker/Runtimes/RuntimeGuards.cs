namespace Jobplane.Worker.Runtimes;

/// <summary>Start-up checks every runtime makes of the settings they share.</summary>
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
}

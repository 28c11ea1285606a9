namespace Jobplane.Testing.Processes;

/// <summary>
/// A temporary folder for an exec worker's attempts (its RUNTIME_WORKDIR). Disposing it removes it,
/// first detaching the bounded folders (tmpfs mounts) that a worker stopped in the middle of an
/// attempt leaves in place, as a crashed worker would; the next worker would clean them up, and here
/// the harness is that next worker.
/// </summary>
public sealed class ExecWorkRoot(string prefix) : IAsyncDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");

    public async ValueTask DisposeAsync()
    {
        await UnmountBelowAsync(Path);
        try { Directory.Delete(Path, recursive: true); }
        catch (DirectoryNotFoundException) { }
    }

    private static async Task UnmountBelowAsync(string root)
    {
        if (!OperatingSystem.IsLinux()) return;
        var below = File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4])
            .Where(m => m.StartsWith(root + "/", StringComparison.Ordinal)).OrderByDescending(m => m.Length).ToList();
        foreach (var mount in below)
        {
            using var umount = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("umount", ["-l", mount]) { RedirectStandardError = true })!;
            await umount.WaitForExitAsync();
        }
    }
}

using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Jobplane.Worker.Runtimes;

/// <summary>
/// The host folder of one attempt, {WorkerRoot}/{ExecutionId}-{Attempt}, where the job writes
/// result.json. The runtime creates it (it knows the owner) and may bound it; disposing it removes
/// it whatever happened, and only then releases what the runtime asked it to hold (a job user, so
/// that the next attempt with that user never meets this one's files).
/// </summary>
public sealed class AttemptFolder : IDisposable
{
    private readonly ILogger _logger;
    private readonly List<IDisposable> _held = [];
    private readonly List<Action> _beforeRemoval = [];
    private bool _bounded;

    internal AttemptFolder(string workerRoot, RunSpec spec, ILogger logger)
    {
        Path = System.IO.Path.Combine(workerRoot,
            string.Create(CultureInfo.InvariantCulture, $"{spec.ExecutionId:D}-{spec.Attempt}"));
        _logger = logger;
    }

    public string Path { get; }

    /// <summary>Mounts a tmpfs of <paramref name="maxBytes"/> on the created folder: past it the job's writes fail with ENOSPC and the host disk never grows.</summary>
    public void Bound(long maxBytes, uint uid, uint gid)
    {
        BoundedFolder.Mount(Path, maxBytes, uid, gid);
        _bounded = true;
    }

    /// <summary>Runs <paramref name="action"/> once the unit is gone and before the folder is removed.</summary>
    public void BeforeRemoval(Action action) => _beforeRemoval.Add(action);

    /// <summary>Disposes <paramref name="resource"/> once the folder is removed.</summary>
    public void Hold(IDisposable resource) => _held.Add(resource);

    public void Dispose()
    {
        try
        {
            foreach (var action in _beforeRemoval) action();
            if (_bounded)
            {
                try
                {
                    // Nothing of the attempt runs any more, so this is normally immediate; lazy if something still holds it.
                    BoundedFolder.Unmount(Path);
                }
                catch (IOException ex)
                {
                    RuntimeLog.FolderNotUnmounted(_logger, Path, ex);
                }
            }
            try
            {
                WorkDirectory.Delete(Path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Not worth failing the attempt over; the next orphan cleanup tries again.
                RuntimeLog.FolderNotRemoved(_logger, Path, ex);
            }
        }
        finally
        {
            for (var i = _held.Count - 1; i >= 0; i--) _held[i].Dispose();
        }
    }

    /// <summary>
    /// Removes the attempt folders a previous life of the worker left below <paramref name="workerRoot"/>
    /// (their units must be gone by now), leaving alone what the worker did not make. Returns how many it removed.
    /// </summary>
    public static int SweepLeftovers(string workerRoot, string workerId, Func<uint, bool> madeByWorker, ILogger logger, CancellationToken ct)
    {
        // A worker that died mid-attempt left its bounded folders mounted.
        var unmounted = BoundedFolder.UnmountAllBelow(workerRoot);
        if (unmounted > 0) RuntimeLog.OrphanMountsRemoved(logger, unmounted, workerId);
        var removed = 0;
        var leftovers = WorkDirectory.FindLeftovers(workerRoot, madeByWorker);
        foreach (var (entry, reason) in leftovers.Skipped) RuntimeLog.LeftoverSkipped(logger, workerId, entry, reason);
        foreach (var entry in leftovers.Removable)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                WorkDirectory.Delete(entry);
                removed++;
                RuntimeLog.OrphanFolderRemoved(logger, entry, workerId);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                RuntimeLog.FolderNotRemoved(logger, entry, ex);
            }
        }
        return removed;
    }
}

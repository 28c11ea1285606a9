namespace Jobplane.Worker;

/// <summary>
/// Holds an exclusive lock file for this worker id under the work root for the life of the process.
/// A worker cleans up what a previous process with its id left behind; the lock guarantees that
/// "previous" really means dead, so two live workers sharing an id cannot kill each other's jobs.
/// </summary>
public sealed class WorkerIdentityLock : IDisposable
{
    private readonly FileStream _file;

    private WorkerIdentityLock(FileStream file) => _file = file;

    public static WorkerIdentityLock Acquire(string workRoot, string workerId)
    {
        Directory.CreateDirectory(workRoot);
        var path = Path.Combine(workRoot, $"{workerId}.lock");
        try
        {
            // FileShare.None takes an exclusive advisory lock (flock) on Unix; the kernel drops it when the process dies.
            var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            return new WorkerIdentityLock(file);
        }
        catch (IOException e)
        {
            throw new InvalidOperationException(
                $"another worker with WORKER_ID '{workerId}' is running on this host (lock {path} is held): give each worker its own WORKER_ID", e);
        }
    }

    public void Dispose() => _file.Dispose();
}

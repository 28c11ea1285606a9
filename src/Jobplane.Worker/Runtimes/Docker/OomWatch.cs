using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Jobplane.Worker.Runtimes.Docker;

/// <summary>
/// Listens for the engine's "oom" event of one container, from before it starts until its outcome
/// is decided. The container's <c>State.OOMKilled</c> alone cannot be trusted: see
/// <see cref="DockerRuntime"/> where the outcome is built.
/// </summary>
internal sealed class OomWatch : IAsyncDisposable
{
    private readonly TaskCompletionSource _seen = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _listening;
    private readonly string _containerId;
    private readonly Lazy<Task<bool>> _sharesKernel;

    private OomWatch(DockerClient client, string containerId, DateTimeOffset since, Lazy<Task<bool>> sharesKernel)
    {
        _containerId = containerId;
        _sharesKernel = sharesKernel;
        var parameters = new ContainerEventsParameters
        {
            // Replayed from the engine's recent events as well as live: an event sent before the
            // subscription reached the engine is not missed.
            Since = since.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["type"] = new Dictionary<string, bool> { ["container"] = true },
                ["container"] = new Dictionary<string, bool> { [containerId] = true },
                ["event"] = new Dictionary<string, bool> { ["oom"] = true },
            },
        };
        _listening = ListenAsync(client, parameters);
    }

    /// <summary>
    /// Starts listening for <paramref name="containerId"/>'s OOM event; call it before the container
    /// starts. <paramref name="since"/> is a moment before that, on the engine's clock as near as the
    /// worker knows it (only this container's events are asked for, so earlier is harmless).
    /// <paramref name="sharesKernel"/> says whether the engine runs on the worker's own kernel, so
    /// that the kernel's log the worker reads is the one that would record the container's OOM kill.
    /// </summary>
    public static OomWatch Start(DockerClient client, string containerId, DateTimeOffset since, Lazy<Task<bool>> sharesKernel) =>
        new(client, containerId, since, sharesKernel);

    /// <summary>Whether the engine has reported an OOM kill in the container so far.</summary>
    public bool Seen => _seen.Task.IsCompleted;

    /// <summary>
    /// Waits up to <paramref name="limit"/> for the OOM event; false when none came in that time or
    /// the event stream ended (then nothing more can be learnt from it).
    /// </summary>
    private async Task<bool> WaitAsync(TimeSpan limit, TimeProvider time)
    {
        if (Seen) return true;
        try
        {
            await Task.WhenAny(_seen.Task, _listening).WaitAsync(limit, time);
        }
        catch (TimeoutException)
        {
            // No event in that time.
        }
        return Seen;
    }

    /// <summary>
    /// Decides whether a container that died of SIGKILL by itself was OOM-killed, once the engine
    /// has reported its exit: the event if it came; else the kernel's log, which has the record
    /// before the exit happens (<see cref="KernelOomLog"/>); else, where that log cannot settle it
    /// (another kernel, not readable, summaries left out), up to <paramref name="limit"/> of waiting
    /// for a late event.
    /// </summary>
    public async Task<bool> DecideAsync(TimeSpan limit, TimeProvider time)
    {
        if (Seen) return true;
        switch (KernelOomLog.Find(_containerId))
        {
            case KernelOomLog.Finding.Killed:
                return true;
            case KernelOomLog.Finding.NotKilled when await _sharesKernel.Value:
                return Seen;
        }
        return await WaitAsync(limit, time);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _listening;
        }
        catch (Exception)
        {
            // Cancelled, or a stream that failed: either way there is nothing left to hear.
        }
        _stop.Dispose();
    }

    private async Task ListenAsync(DockerClient client, ContainerEventsParameters parameters)
    {
        try
        {
            await client.System.MonitorEventsAsync(parameters, new Reporter(_seen), _stop.Token);
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // Stopped on purpose.
        }
    }

    /// <summary>Called on the stream's own thread, not posted elsewhere, so an event is never seen late.</summary>
    private sealed class Reporter(TaskCompletionSource seen) : IProgress<Message>
    {
        public void Report(Message value)
        {
            if (value.Action == "oom") seen.TrySetResult();
        }
    }
}

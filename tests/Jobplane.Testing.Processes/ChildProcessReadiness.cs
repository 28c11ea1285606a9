using System.Diagnostics;

namespace Jobplane.Testing.Processes;

/// <summary>Waiting until a started process is up: it answers HTTP, or it has said so in its output.</summary>
public sealed partial class ChildProcess
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Waits until <paramref name="url"/> answers with a success status (a controller's /readyz,
    /// Prometheus's /-/ready). Throws, quoting its output, if it exits first or is not ready in time.
    /// </summary>
    public async Task WaitForHttpAsync(Uri url, TimeSpan timeout, CancellationToken ct = default)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        var elapsed = Stopwatch.StartNew();
        while (elapsed.Elapsed < timeout)
        {
            if (HasExited) throw new InvalidOperationException($"{Name} exited ({ExitCode}) before it was ready:\n{Tail(30)}");
            try
            {
                using var response = await http.GetAsync(url, ct);
                if (response.IsSuccessStatusCode) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                // Not listening yet.
            }
            await Task.Delay(PollInterval, ct);
        }
        throw new TimeoutException($"{Name} not ready after {timeout.TotalSeconds:0}s:\n{Tail(30)}");
    }

    /// <summary>
    /// Waits until its output contains <paramref name="text"/> (a worker's "starting" line), it
    /// exits, or the timeout passes; true only in the first case.
    /// </summary>
    public async Task<bool> WaitForOutputAsync(string text, TimeSpan timeout, CancellationToken ct = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            while (!HasExited)
            {
                if (_output.Contains(text)) return true;
                await Task.Delay(PollInterval, deadline.Token);
            }
            return false;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }
}

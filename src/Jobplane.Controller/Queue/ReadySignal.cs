using Npgsql;

namespace Jobplane.Controller.Queue;

/// <summary>
/// Wakes long-polling dequeuers when work becomes ready. A LISTEN connection receives the
/// 'jobplane_ready' notification that the ready_queue insert trigger sends; every waiter is released
/// and races to claim (SKIP LOCKED sorts them out). It is a hint only: waiters also re-check on a
/// timer, so a lost notification or a dropped connection costs latency, never work.
/// </summary>
public sealed partial class ReadySignal(NpgsqlDataSource db, ILogger<ReadySignal> logger) : BackgroundService
{
    private TaskCompletionSource _next = NewSource();

    /// <summary>A task that completes at the next notification (or at reconnection).</summary>
    public Task NextAsync() => Volatile.Read(ref _next).Task;

    private void Pulse() => Interlocked.Exchange(ref _next, NewSource()).TrySetResult();

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var conn = await db.OpenConnectionAsync(stoppingToken);
                conn.Notification += (_, _) => Pulse();
                await using (var cmd = new NpgsqlCommand("listen jobplane_ready", conn))
                    await cmd.ExecuteNonQueryAsync(stoppingToken);
                Pulse(); // anything that became ready while we were not listening
                while (!stoppingToken.IsCancellationRequested)
                    await conn.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                LogListenFailed(e);
                Pulse();
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "LISTEN connection failed; retrying (dequeuers fall back to polling)")]
    private partial void LogListenFailed(Exception e);
}

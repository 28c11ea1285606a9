using Npgsql;

namespace Jobplane.Controller.Queue;

/// <summary>
/// Wakes long-polling dequeuers when work becomes ready. A LISTEN connection receives the
/// 'jobplane_ready' notification that the ready_queue insert trigger sends, and the first long-poll of
/// each claim shape waiting in <see cref="Waiters"/> claims (the rest are woken in turn, as claims find
/// work; <see cref="NextAsync"/> completes too). It is a hint only: the first waiter of each shape also re-checks every
/// <see cref="RecheckInterval"/>, so a lost notification or a dropped connection costs latency, never work.
/// <para>Debounced: the first notification wakes the waiters at once; further ones within
/// <see cref="Window"/> fold into a single wake-up at its end. Under a stream of submissions that
/// bounds the claims idle waiters make to a few hundred per second, however many transactions
/// notify, while an idle platform still picks up new work without delay.</para>
/// <para>The same connection also listens on 'jobplane_execution' (log lines appended, an execution
/// finished) and hands those to <see cref="Logs.LogFollowers"/>, so followed log streams cost no
/// connection of their own.</para>
/// </summary>
public sealed partial class ReadySignal(NpgsqlDataSource db, TimeProvider time, ILogger<ReadySignal> logger,
    Logs.LogFollowers? followers = null) : BackgroundService
{
    private const string ReadyChannel = "jobplane_ready";
    private const string ExecutionChannel = "jobplane_execution";

    public static readonly TimeSpan Window = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// How often the first idle long-poll of each shape claims without a notification: for work that
    /// becomes claimable unannounced (a tenant's concurrency cap freeing up) and for lost notifications.
    /// </summary>
    public static readonly TimeSpan RecheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>The idle long-polls this signal wakes.</summary>
    public IdleWaiters Waiters { get; } = new();

    private TaskCompletionSource _next = NewSource();
    private long _lastPulse = long.MinValue;
    private int _trailing;

    /// <summary>A task that completes at the next notification (or at reconnection).</summary>
    public Task NextAsync() => Volatile.Read(ref _next).Task;

    private int _pulses;

    /// <summary>Wake-ups so far (for tests).</summary>
    internal int Pulses => Volatile.Read(ref _pulses);

    private void Pulse()
    {
        Interlocked.Increment(ref _pulses);
        Interlocked.Exchange(ref _next, NewSource()).TrySetResult();
        Waiters.Notified();
    }

    /// <summary>A notification arrived (called on the LISTEN connection's thread).</summary>
    internal void Notified()
    {
        var now = time.GetTimestamp();
        var last = Interlocked.Read(ref _lastPulse);
        if (last == long.MinValue || time.GetElapsedTime(last, now) >= Window)
        {
            Interlocked.Exchange(ref _lastPulse, now);
            Pulse();
            return;
        }
        // Within the window: one trailing wake-up covers this and whatever else arrives meanwhile.
        if (Interlocked.Exchange(ref _trailing, 1) == 1) return;
        _ = Task.Delay(Window, time).ContinueWith(_ =>
        {
            Volatile.Write(ref _trailing, 0);
            Interlocked.Exchange(ref _lastPulse, time.GetTimestamp());
            Pulse();
        }, TaskScheduler.Default);
    }

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var rechecks = RecheckAsync(stoppingToken);
        await ListenAsync(stoppingToken);
        await rechecks;
    }

    private async Task RecheckAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(RecheckInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken)) Waiters.Recheck();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task ListenAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var conn = await db.OpenConnectionAsync(stoppingToken);
                try
                {
                    conn.Notification += (_, e) =>
                    {
                        if (e.Channel == ExecutionChannel) followers?.Notified(e.Payload);
                        else Notified();
                    };
                    await using (var cmd = new NpgsqlCommand(followers is null ? $"listen {ReadyChannel}" : $"listen {ReadyChannel}; listen {ExecutionChannel}", conn))
                        await cmd.ExecuteNonQueryAsync(stoppingToken);
                    Pulse(); // anything that became ready while we were not listening
                    followers?.WakeAll();
                    while (!stoppingToken.IsCancellationRequested)
                        await conn.WaitAsync(stoppingToken);
                }
                finally
                {
                    await UnlistenAsync(conn);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                LogListenFailed(e);
                Pulse();
                followers?.WakeAll();
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>
    /// Pooled connections are not reset when returned (see Program), so one that goes back to the
    /// pool still working must not keep receiving notifications nobody reads.
    /// </summary>
    private static async Task UnlistenAsync(NpgsqlConnection conn)
    {
        if (conn.State != System.Data.ConnectionState.Open) return;
        try
        {
            await using var cmd = new NpgsqlCommand("unlisten *", conn);
            await cmd.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or IOException)
        {
            // A broken connection is not returned to the pool: nothing to undo.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "LISTEN connection failed; retrying (dequeuers fall back to polling)")]
    private partial void LogListenFailed(Exception e);
}

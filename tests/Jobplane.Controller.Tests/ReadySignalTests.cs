using Jobplane.Controller.Queue;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Jobplane.Controller.Tests;

/// <summary>The wake-up hint is debounced, and never loses a notification doing so.</summary>
public sealed class ReadySignalTests
{
    [Fact]
    public async Task A_burst_of_notifications_wakes_waiters_a_few_times_and_the_last_one_is_never_lost()
    {
        // No connection is opened: the signal is driven directly, as its LISTEN connection would.
        await using var db = NpgsqlDataSource.Create("Host=unused");
        using var signal = new ReadySignal(db, TimeProvider.System, NullLogger<ReadySignal>.Instance);

        var first = signal.NextAsync();
        signal.Notified();
        Assert.True(first.IsCompleted, "the first notification wakes waiters at once");

        Task last = Task.CompletedTask;
        for (var i = 0; i < 1000; i++)
        {
            last = signal.NextAsync(); // a waiter that arrives before this notification
            signal.Notified();
        }
        // Every notification is followed by a wake-up: the burst's last one by the trailing one.
        await last.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.InRange(signal.Pulses, 2, 100);
    }
}

using Jobplane.Testing;
using Npgsql;

namespace Jobplane.Store.Tests;

/// <summary>
/// The ready notification wakes every waiting long-poll of every controller, so it is sent when
/// something was queued and only then: maintenance's promotion runs every second whether or not
/// anything is due, and must not wake an idle fleet each time.
/// </summary>
public sealed class ReadyNotificationTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    [Fact]
    public async Task A_promotion_that_queues_nothing_wakes_no_one_and_a_submission_does()
    {
        var (tenant, job) = await TenantWithJobAsync();
        await SubmitAsync(tenant, job, scheduledAt: DateTimeOffset.UtcNow.AddHours(1));   // waiting, not due
        await using var listener = await Db.DataSource.OpenConnectionAsync(Ct);
        var heard = 0;
        listener.Notification += (_, e) => { if (e.Channel == "jobplane_ready") Interlocked.Increment(ref heard); };
        await using (var cmd = new NpgsqlCommand("listen jobplane_ready", listener)) await cmd.ExecuteNonQueryAsync(Ct);

        for (var i = 0; i < 3; i++) Assert.Equal(0, await Queue.PromoteDueAsync(100, Ct));
        // Committed notifications are delivered at once; a second is far more than enough to hear one.
        await listener.WaitAsync(TimeSpan.FromSeconds(1), Ct);
        Assert.Equal(0, Volatile.Read(ref heard));

        await SubmitAsync(tenant, job);
        Assert.True(await listener.WaitAsync(TimeSpan.FromSeconds(10), Ct), "no notification after a submission");
        Assert.Equal(1, Volatile.Read(ref heard));
    }
}

using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;
using Npgsql;

namespace Jobplane.Store.Tests;

/// <summary>
/// A store method must give its pooled connection back exactly once. Npgsql reuses one reader object
/// per connection, so disposing a reader a second time, after its connection went back to the pool,
/// closes whatever reader the connection's next user holds: two requests then share one connection,
/// and one of them waits forever for an answer the other consumed. Refused writes take the rare
/// paths where that could happen; they run here against ordinary reads on a pool small enough that
/// connections change hands all the time.
/// </summary>
public sealed class ConnectionHandOffTests(TestDatabase db) : IClassFixture<TestDatabase>
{
    [Fact]
    public async Task Refused_writes_next_to_reads_on_a_busy_pool_never_share_a_connection()
    {
        var csb = new NpgsqlConnectionStringBuilder(db.ConnectionString) { MaxPoolSize = 2 };
        await using var pool = NpgsqlDataSource.Create(csb.ConnectionString);
        var tenants = new TenantStore(pool);
        var jobs = new JobStore(pool);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var ct = timeout.Token;
        var tenant = (await tenants.CreateAsync(new TenantSettings { Name = $"handoff-{Guid.NewGuid():N}" }, ct)).TenantId;
        var stored = await jobs.UpsertAsync(tenant, new JobSpec("stored", "alpine:3", ["true"], 60, new Priority(50), 3), ct);

        async Task RefuseAsync()
        {
            for (var i = 0; i < 300; i++)
            {
                await Assert.ThrowsAsync<NetworkNotAllowedException>(() =>
                    jobs.UpsertAsync(tenant, new JobSpec($"net-{i}", "alpine:3", ["true"], 60, new Priority(50), 3) { Network = true }, ct));
            }
        }

        async Task ReadAsync()
        {
            for (var i = 0; i < 300; i++)
            {
                var job = await jobs.GetAsync(tenant, stored.JobId, ct);
                Assert.Equal("stored", job?.Name);
            }
        }

        // A connection two callers share shows as a wrong answer, an error, or a wait that never ends.
        var work = Task.WhenAll(RefuseAsync(), RefuseAsync(), ReadAsync(), ReadAsync());
        await work.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(1, await db.ScalarAsync<long>("select count(*) from jobs where tenant_id = $1", tenant));
    }

    [Fact]
    public async Task Log_appends_for_a_lost_lease_next_to_reads_on_a_busy_pool_never_share_a_connection()
    {
        var csb = new NpgsqlConnectionStringBuilder(db.ConnectionString) { MaxPoolSize = 2 };
        await using var pool = NpgsqlDataSource.Create(csb.ConnectionString);
        var tenants = new TenantStore(pool);
        var jobs = new JobStore(pool);
        var queue = new QueueStore(pool);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var ct = timeout.Token;
        var tenant = (await tenants.CreateAsync(new TenantSettings { Name = $"handoff-{Guid.NewGuid():N}" }, ct)).TenantId;
        var stored = await jobs.UpsertAsync(tenant, new JobSpec("stored", "alpine:3", ["true"], 60, new Priority(50), 3), ct);

        // An append whose lease is not held asks why in a second query: the path that once disposed
        // its first reader twice.
        async Task AppendAsync()
        {
            for (var i = 0; i < 300; i++)
                Assert.Equal(LeaseCheck.NotFound, await queue.AppendLogsAsync(Guid.NewGuid(), Guid.NewGuid(), [new NewLogLine("x", "stdout")], ct));
        }

        async Task ReadAsync()
        {
            for (var i = 0; i < 300; i++)
                Assert.Equal("stored", (await jobs.GetAsync(tenant, stored.JobId, ct))?.Name);
        }

        await Task.WhenAll(AppendAsync(), AppendAsync(), ReadAsync(), ReadAsync()).WaitAsync(TimeSpan.FromSeconds(60));
    }
}

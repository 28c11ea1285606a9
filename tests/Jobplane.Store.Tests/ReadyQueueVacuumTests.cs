using System.Text.Json;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

/// <summary>
/// After a burst of claims the controller vacuums ready_queue itself
/// (<see cref="QueueStore.VacuumReadyQueueAfterChurnAsync"/>): until then every claimed row is a dead
/// entry at the head of the claim order, which each probe of the tenant's queue steps over. This
/// class's database has autovacuum off for the table, so only that vacuum cleans it.
/// </summary>
public sealed class ReadyQueueVacuumTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    [Fact]
    public async Task Claims_past_the_threshold_vacuum_the_queue_and_its_head_reads_a_few_pages_again()
    {
        await using (var off = Db.DataSource.CreateCommand("alter table ready_queue set (autovacuum_enabled = false)"))
            await off.ExecuteNonQueryAsync(Ct);
        var (tenant, job) = await TenantWithJobAsync();
        Assert.NotNull(await Executions.RunManyAsync(tenant, job, 3000, new RunOptions(null, null, null), Ct));
        var claimed = 0;
        for (var i = 0; i < 29; i++) claimed += (await ClaimAsync(tenant, limit: 100)).Count;
        Assert.Equal(2900, claimed);

        // 2,900 claimed rows are not yet enough for a threshold of 5,000: nothing is vacuumed, and the
        // first ready run is found only past their dead entries.
        Assert.False(await Queue.VacuumReadyQueueAfterChurnAsync(5000, Ct));
        var before = await PagesToFindTheHeadAsync(tenant);
        Assert.True(before > 10, $"the head of the queue was found in {before} pages with 2,900 dead entries before it");

        Assert.True(await Queue.VacuumReadyQueueAfterChurnAsync(2000, Ct));
        var after = await PagesToFindTheHeadAsync(tenant);
        Assert.True(after <= 4, $"the head of the queue took {after} pages after the vacuum ({before} before)");
        await using (var count = Db.DataSource.CreateCommand("select vacuum_count from pg_stat_user_tables where relname = 'ready_queue'"))
            Assert.True((long)(await count.ExecuteScalarAsync(Ct))! >= 1);

        // The count starts again from the vacuum: the next call has nothing to do.
        Assert.False(await Queue.VacuumReadyQueueAfterChurnAsync(2000, Ct));
        // And the 100 runs still ready are all there to claim.
        Assert.Equal(100, (await ClaimAsync(tenant, limit: 200)).Count);
    }

    /// <summary>Shared buffers read to find the tenant's first ready run in claim order, as a claim probes it.</summary>
    private async Task<long> PagesToFindTheHeadAsync(Guid tenant)
    {
        string runtimeClass;
        await using (var of = Db.DataSource.CreateCommand("select runtime_class from ready_queue where tenant_id = $1 limit 1"))
        {
            of.Parameters.AddWithValue(tenant);
            runtimeClass = (string)(await of.ExecuteScalarAsync(Ct))!;
        }
        await using var cmd = Db.DataSource.CreateCommand("""
            explain (analyze, buffers, format json)
            select q.execution_id from ready_queue q
            where q.tenant_id = $1 and q.runtime_class = $2
            order by q.priority desc, q.ready_at, q.execution_id
            limit 1
            """);
        cmd.Parameters.AddWithValue(tenant);
        cmd.Parameters.AddWithValue(runtimeClass);
        var plan = JsonDocument.Parse((string)(await cmd.ExecuteScalarAsync(Ct))!).RootElement[0].GetProperty("Plan");
        return plan.GetProperty("Shared Hit Blocks").GetInt64() + plan.GetProperty("Shared Read Blocks").GetInt64();
    }
}

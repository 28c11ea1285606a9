using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;
using Npgsql;

namespace Jobplane.Store.Tests;

/// <summary>Old finished executions, written straight into the schema (each with two log lines and an attempt).</summary>
internal static class OldExecutions
{
    public static async Task InsertAsync(NpgsqlDataSource db, Guid tenant, Guid job, int count, int daysAgo, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            with made as (
                insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, attempt, max_attempts,
                                        scheduled_at, created_at, started_at, completed_at, exit_code)
                select gen_random_uuid(), $1, $2, 'SUCCEEDED', 50, 60, 1, 3, t, t, t, t + interval '1 second', 0
                from generate_series(1, $3) g, lateral (select now() - make_interval(days => $4) - g * interval '1 second' as t) x
                returning id, started_at
            ), logged as (
                insert into execution_logs (execution_id, stream, content)
                select id, 'stdout', 'line ' || n from made, generate_series(1, 2) n
            )
            insert into execution_attempts (execution_id, attempt, worker_id, lease_token, started_at, ended_at, exit_code, outcome, tenant_id)
            select id, 1, 'old-worker', gen_random_uuid(), started_at, started_at, 0, 'succeeded', $1 from made
            """);
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = tenant });
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = job });
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = count });
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = daysAgo });
        await cmd.ExecuteNonQueryAsync(ct);
    }
}

/// <summary>A backlog larger than a batch is deleted batch by batch, while the queue keeps serving claims.</summary>
public sealed class RetentionBatchTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private static readonly RetentionPolicy Defaults = new(TimeSpan.FromDays(30), TimeSpan.FromDays(30), TimeSpan.FromDays(365));

    [Fact]
    public async Task A_round_stops_at_its_budget_and_says_whether_old_rows_are_left()
    {
        var (tenant, job) = await TenantWithJobAsync();
        await OldExecutions.InsertAsync(Db.DataSource, tenant, job, 1_200, 40, Ct);
        var retention = new RetentionStore(Db.DataSource);

        // No time to spare: one batch of each kind, and the backlog is reported.
        var first = await retention.DeleteRoundAsync(Defaults, 500, TimeSpan.Zero, TimeProvider.System, Ct);
        Assert.Equal(500, first.Executions);
        Assert.True(first.Behind);

        // Time enough: batch after batch until nothing old is left.
        var rest = await retention.DeleteRoundAsync(Defaults, 500, TimeSpan.FromMinutes(10), TimeProvider.System, Ct);
        Assert.False(rest.Behind);
        Assert.True(rest.Executions >= 700);
        Assert.Equal(0, await Db.ScalarAsync<long>("select count(*) from executions where tenant_id = $1", tenant));
    }

    [Fact]
    public async Task A_backlog_larger_than_a_batch_takes_several_batches_while_claims_keep_working()
    {
        var (oldTenant, oldJob) = await TenantWithJobAsync();
        await OldExecutions.InsertAsync(Db.DataSource, oldTenant, oldJob, 2_500, 40, Ct);
        var (liveTenant, liveJob) = await TenantWithJobAsync();
        var retention = new RetentionStore(Db.DataSource);

        // A worker's path on another tenant: submit, claim, log, complete, over and over, while
        // retention works through the backlog in batches of 500.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var finished = new List<Guid>();
        var worker = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var id = await SubmitAsync(liveTenant, liveJob);
                var claim = await ClaimOneAsync(liveTenant);
                Assert.Equal(id, claim.ExecutionId);
                Assert.Equal(LeaseCheck.Accepted, await Queue.AppendLogsAsync(id, claim.LeaseToken, [new NewLogLine("working", "stdout")], Ct));
                Assert.Equal(ExecutionStatus.Succeeded, (await SucceedAsync(claim)).Status);
                finished.Add(id);
            }
        }, Ct);

        var batches = new List<int>();
        int deleted;
        do
        {
            deleted = await retention.DeleteExecutionsAsync(Defaults, 500, Ct);
            batches.Add(deleted);
            // Give the worker a turn between batches, as maintenance does between ticks.
            await Task.Delay(20, Ct);
        } while (deleted > 0);
        while (finished.Count < 5 && !worker.IsCompleted) await Task.Delay(20, Ct);
        await stop.CancelAsync();
        await worker;

        Assert.Equal([500, 500, 500, 500, 500, 0], batches);
        Assert.Equal(0, await Db.ScalarAsync<long>("select count(*) from executions where tenant_id = $1", oldTenant));
        Assert.Equal(0, await Db.ScalarAsync<long>(
            "select count(*) from execution_logs l where not exists (select 1 from executions e where e.id = l.execution_id)"));
        Assert.Equal(0, await Db.ScalarAsync<long>(
            "select count(*) from execution_attempts a where not exists (select 1 from executions e where e.id = a.execution_id)"));
        // Everything the worker ran is still there, finished, with its log.
        Assert.True(finished.Count >= 5);
        Assert.Equal(finished.Count, (int)await Db.ScalarAsync<long>(
            "select count(*) from executions where tenant_id = $1 and status = 'SUCCEEDED'", liveTenant));
        Assert.Equal(finished.Count, (int)await Db.ScalarAsync<long>(
            "select count(*) from execution_logs l join executions e on e.id = l.execution_id where e.tenant_id = $1", liveTenant));
    }
}

/// <summary>Replicas share retention: a row another transaction holds is skipped, not waited for, and nothing is deleted twice.</summary>
public sealed class RetentionReplicaTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private static readonly RetentionPolicy Defaults = new(TimeSpan.FromDays(30), TimeSpan.FromDays(30), TimeSpan.FromDays(365));

    [Fact]
    public async Task A_locked_row_is_skipped_and_two_replicas_delete_each_row_once()
    {
        var (tenant, job) = await TenantWithJobAsync();
        await OldExecutions.InsertAsync(Db.DataSource, tenant, job, 10, 40, Ct);
        var retention = new RetentionStore(Db.DataSource);
        var held = await Db.ScalarAsync<Guid>("select id from executions where tenant_id = $1 order by completed_at limit 1", tenant);

        await using (var conn = await Db.DataSource.OpenConnectionAsync(Ct))
        await using (var tx = await conn.BeginTransactionAsync(Ct))
        {
            await using (var lockCmd = new NpgsqlCommand("select 1 from executions where id = $1 for update", conn, tx))
            {
                lockCmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = held });
                await lockCmd.ExecuteNonQueryAsync(Ct);
            }
            // Returns at once with the rest; a wait for the held row would run into the test's timeout.
            Assert.Equal(9, await retention.DeleteExecutionsAsync(Defaults, 100, Ct));
            Assert.Equal(0, await retention.DeleteExecutionsAsync(Defaults, 100, Ct));
            await tx.CommitAsync(Ct);
        }

        await OldExecutions.InsertAsync(Db.DataSource, tenant, job, 3_000, 40, Ct);
        var replicas = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            var total = 0;
            for (int n; (n = await retention.DeleteExecutionsAsync(Defaults, 100, Ct)) > 0;) total += n;
            return total;
        }, Ct)).ToArray();
        var totals = await Task.WhenAll(replicas);

        Assert.Equal(3_001, totals.Sum());
        Assert.Equal(0, await Db.ScalarAsync<long>("select count(*) from executions where tenant_id = $1", tenant));
    }
}

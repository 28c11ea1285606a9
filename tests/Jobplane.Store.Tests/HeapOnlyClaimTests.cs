using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;
using Npgsql;

namespace Jobplane.Store.Tests;

/// <summary>
/// Migrations 0019 and 0020: no index of executions refers to a column the claim writes (so the
/// claim's update is heap-only), running executions are their open attempts, on every path in and out
/// of RUNNING and on data an older schema left; an execution's queue row, attempts and events go with
/// it when it is deleted, by a trigger instead of foreign keys checked at every insert.
/// </summary>
public sealed class HeapOnlyClaimTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    // What the claim's update of executions sets: an index naming any of them (as a key, in an
    // expression or in a predicate) would make every claim write an entry into every index again.
    private static readonly string[] ClaimWrites = ["status", "attempt", "started_at", "completed_at", "worker_id", "lease_token", "lease_expires_at"];

    [Fact]
    public async Task No_index_of_executions_refers_to_a_column_the_claim_writes()
    {
        var offending = new List<string>();
        await using (var cmd = Db.DataSource.CreateCommand("""
            select pg_get_indexdef(i.indexrelid) from pg_index i where i.indrelid = 'executions'::regclass
            """))
        await using (var reader = await cmd.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                var definition = reader.GetString(0);
                // Whole words only: finished_status is not status.
                if (ClaimWrites.Any(c => System.Text.RegularExpressions.Regex.IsMatch(definition, $@"(?<![\w]){c}(?![\w])")))
                    offending.Add(definition);
            }
        }
        Assert.Empty(offending);
    }

    [Fact]
    public async Task Running_executions_are_exactly_the_open_attempts_on_every_path()
    {
        var (tenant, job) = await TenantWithJobAsync(maxAttempts: 2);
        for (var i = 0; i < 8; i++) await SubmitAsync(tenant, job);
        var claimed = await ClaimAsync(tenant, limit: 8);
        Assert.Equal(8, claimed.Count);
        await AssertRunningMatchesOpenAttemptsAsync(tenant, 8);

        await SucceedAsync(claimed[0]);                                   // finished
        await FailAsync(claimed[1]);                                      // retrying
        await FailAsync(claimed[2], retryable: false);                    // dead-lettered
        await ExpireLeaseAsync(claimed[3].ExecutionId);                   // lost, ready again
        Assert.Equal(1, await Queue.RescueExpiredAsync(10, Ct));
        Assert.Equal(LeaseCheck.Accepted, await Queue.ReleaseAsync(claimed[4].ExecutionId, claimed[4].LeaseToken, "draining", Ct));
        await Executions.CancelAsync(tenant, claimed[5].ExecutionId, Ct); // cancel requested: still running
        await AssertRunningMatchesOpenAttemptsAsync(tenant, 3);

        // The tenant's count, the stats and the fleet page read the same number.
        Assert.Equal(3, (await Tenants.GetAsync(tenant, Ct))!.Running);
        var stats = await new QueueStatsStore(Db.DataSource).ReadAsync(Ct);
        Assert.Equal(3, stats.Depths.Where(d => d.TenantId == tenant && d.State == "running").Sum(d => d.Count));
        Assert.Equal(1, stats.Depths.Where(d => d.TenantId == tenant && d.State == "retrying").Sum(d => d.Count));

        // The lost and the handed-back ones run again; the rest finish.
        var again = await ClaimAsync(tenant, limit: 8);
        Assert.Equal(2, again.Count);
        await AssertRunningMatchesOpenAttemptsAsync(tenant, 5);
        foreach (var c in again.Concat(claimed.Skip(5))) await SucceedAsync(c);
        await AssertRunningMatchesOpenAttemptsAsync(tenant, 0);
    }

    [Fact]
    public async Task Waiting_and_finished_executions_are_indexed_by_their_generated_columns()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var later = await SubmitAsync(tenant, job, scheduledAt: DateTimeOffset.UtcNow.AddHours(1));
        var now = await SubmitAsync(tenant, job);
        Assert.True(await Db.ScalarAsync<bool>("select due_at = scheduled_at from executions where id = $1", later));
        Assert.True(await Db.ScalarAsync<bool>("select due_at is null and finished_at is null from executions where id = $1", now));

        var c = await ClaimOneAsync(tenant);
        await SucceedAsync(c);
        Assert.True(await Db.ScalarAsync<bool>(
            "select finished_status = 'SUCCEEDED' and finished_at = completed_at from executions where id = $1", now));

        // A scheduled run still becomes due through its index.
        await MakeDueAsync(later);
        Assert.True(await Queue.PromoteDueAsync(10, Ct) >= 1);
        Assert.Equal("PENDING", await StatusAsync(later));
        Assert.True(await Db.ScalarAsync<bool>("select due_at is null from executions where id = $1", later));
    }

    [Fact]
    public async Task An_executions_queue_row_attempts_and_events_go_with_it_when_it_is_deleted()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var finished = await SubmitAsync(tenant, job);
        await SucceedAsync(await ClaimOneAsync(tenant));
        var queued = await SubmitAsync(tenant, job);
        var other = await SubmitAsync(tenant, job);
        Assert.True(await InReadyQueueAsync(queued));

        await ExecAsync("delete from executions where id = any($1)", new[] { finished, queued });

        foreach (var table in new[] { "ready_queue", "execution_attempts", "execution_events" })
            Assert.Equal(0L, await Db.ScalarAsync<long>($"select count(*) from {table} where execution_id = any($1)", new[] { finished, queued }));
        // Another execution's rows stay.
        Assert.True(await InReadyQueueAsync(other));
        Assert.Equal(1L, await Db.ScalarAsync<long>("select count(*) from execution_events where execution_id = $1", other));
    }

    [Fact]
    public async Task Migrating_an_older_schema_backfills_the_attempts_and_ends_stray_ones()
    {
        var name = $"jobplane_mig_{Guid.NewGuid():N}"[..40];
        await AdminAsync($"create database \"{name}\"");
        var source = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(TestDatabase.ServerConnectionString) { Database = name }.ConnectionString);
        try
        {
            await new Migrator(source).MigrateAsync(Ct, upTo: 18);
            // What 0018's schema held: a running execution with its open attempt, a finished one whose
            // attempt was (wrongly) left open, a retrying one, a scheduled one.
            await using (var cmd = source.CreateCommand("""
                insert into tenants (id, name) values ('00000000-0000-0000-0000-00000000000a', 'old');
                insert into jobs (id, tenant_id, name, image, command, timeout_seconds, priority, max_attempts)
                values ('00000000-0000-0000-0000-00000000000b', '00000000-0000-0000-0000-00000000000a', 'j', 'alpine:3', '{true}', 60, 50, 3);
                insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, attempt, max_attempts, scheduled_at,
                                        started_at, completed_at, worker_id, lease_token, lease_expires_at)
                values ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000b',
                        'RUNNING', 50, 60, 1, 3, now(), now(), null, 'w', '00000000-0000-0000-0000-0000000000f1', now() - interval '1 second'),
                       ('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000b',
                        'SUCCEEDED', 50, 60, 1, 3, now(), now(), now(), 'w', null, null),
                       ('00000000-0000-0000-0000-000000000003', '00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000b',
                        'RETRYING', 50, 60, 1, 3, now() + interval '1 hour', now(), null, null, null, null),
                       ('00000000-0000-0000-0000-000000000004', '00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000b',
                        'SCHEDULED', 50, 60, 0, 3, now() + interval '1 day', null, null, null, null, null);
                insert into execution_attempts (execution_id, attempt, worker_id, lease_token, started_at, ended_at, outcome)
                values ('00000000-0000-0000-0000-000000000001', 1, 'w', '00000000-0000-0000-0000-0000000000f1', now(), null, null),
                       ('00000000-0000-0000-0000-000000000002', 1, 'w', '00000000-0000-0000-0000-0000000000f2', now(), null, null),
                       ('00000000-0000-0000-0000-000000000003', 1, 'w', '00000000-0000-0000-0000-0000000000f3', now(), now(), 'failed');
                """))
            {
                await cmd.ExecuteNonQueryAsync(Ct);
            }

            Assert.Equal([19], (await new Migrator(source).MigrateAsync(Ct)).Where(v => v == 19));

            await using var check = source.CreateCommand("""
                select (select count(*) from execution_attempts where tenant_id = '00000000-0000-0000-0000-00000000000a'),
                       (select count(*) from execution_attempts where ended_at is null),
                       (select outcome from execution_attempts where execution_id = '00000000-0000-0000-0000-000000000002'),
                       (select count(*) from executions where due_at is not null),
                       (select finished_status from executions where id = '00000000-0000-0000-0000-000000000002')
                """);
            await using (var reader = await check.ExecuteReaderAsync(Ct))
            {
                Assert.True(await reader.ReadAsync(Ct));
                Assert.Equal(3, reader.GetInt64(0));       // every attempt knows its tenant
                Assert.Equal(1, reader.GetInt64(1));       // only the running execution's attempt is open
                Assert.Equal("lease_expired", reader.GetString(2));
                Assert.Equal(2, reader.GetInt64(3));       // the retrying and the scheduled one wait by due_at
                Assert.Equal("SUCCEEDED", reader.GetString(4));
            }
            // The running execution's expired lease is found through its open attempt.
            Assert.Equal(1, await new QueueStore(source).RescueExpiredAsync(10, Ct));
        }
        finally
        {
            await source.DisposeAsync();
            NpgsqlConnection.ClearAllPools();
            await AdminAsync($"drop database if exists \"{name}\" with (force)");
        }
    }

    private async Task AssertRunningMatchesOpenAttemptsAsync(Guid tenant, long expected)
    {
        Assert.Equal(expected, await Db.ScalarAsync<long>("select count(*) from executions where tenant_id = $1 and status = 'RUNNING'", tenant));
        // Each open attempt is the current attempt of a RUNNING execution, and each RUNNING execution has one.
        Assert.Equal(expected, await Db.ScalarAsync<long>("""
            select count(*) from execution_attempts a join executions e on e.id = a.execution_id and e.attempt = a.attempt
            where a.tenant_id = $1 and a.ended_at is null and e.status = 'RUNNING'
            """, tenant));
        Assert.Equal(expected, await Db.ScalarAsync<long>("select count(*) from execution_attempts where tenant_id = $1 and ended_at is null", tenant));
    }

    private static async Task AdminAsync(string sql)
    {
        await using var conn = new NpgsqlConnection(TestDatabase.ServerConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }
}

using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;
using Npgsql;

namespace Jobplane.Store.Tests;

/// <summary>The schema admits exactly the words the code writes, and spells lock keys as LockKeys does.</summary>
public sealed class SchemaConstraintTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    [Fact]
    public async Task The_ready_trigger_takes_the_queue_lock_key_of_LockKeys()
    {
        var source = await Db.ScalarAsync<string>("select pg_get_functiondef('jobplane_ready_inserted'::regproc)");

        Assert.Contains($"pg_advisory_xact_lock_shared({LockKeys.Queue}, hashtext(", source);
    }

    [Fact]
    public async Task An_execution_belongs_to_its_jobs_tenant_and_goes_with_the_tenant()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var (other, _) = await TenantWithJobAsync();
        var id = await SubmitAsync(tenant, job);

        // Another tenant's execution of this job: refused by the schema itself, not only by the writers.
        var e = await Assert.ThrowsAsync<PostgresException>(() => Db.ScalarAsync<object>("""
            insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, max_attempts, scheduled_at)
            values ($1, $2, $3, 'PENDING', 50, 60, 1, now())
            """, Guid.CreateVersion7(), other, job));
        Assert.Equal(PostgresErrorCodes.ForeignKeyViolation, e.SqlState);
        var moved = await Assert.ThrowsAsync<PostgresException>(() => Db.ScalarAsync<object>(
            "update executions set tenant_id = $2 where id = $1", id, other));
        Assert.Equal(PostgresErrorCodes.ForeignKeyViolation, moved.SqlState);
        Assert.Equal(tenant, await Db.ScalarAsync<Guid>("select tenant_id from executions where id = $1", id));

        // Deleting the tenant takes its jobs, their executions and the executions' queue rows.
        await Db.ScalarAsync<object>("delete from tenants where id = $1", tenant);
        Assert.Equal(0L, await Db.ScalarAsync<long>("select count(*) from executions where id = $1", id));
        Assert.Equal(0L, await Db.ScalarAsync<long>("select count(*) from ready_queue where execution_id = $1", id));
        Assert.Equal(0L, await Db.ScalarAsync<long>("select count(*) from execution_events where execution_id = $1", id));
    }

    [Fact]
    public async Task An_unknown_execution_status_is_refused()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var id = await SubmitAsync(tenant, job);

        var e = await Assert.ThrowsAsync<PostgresException>(() =>
            Db.ScalarAsync<object>("update executions set status = 'DONE' where id = $1", id));
        Assert.Equal(PostgresErrorCodes.CheckViolation, e.SqlState);
        // Every word the code knows is admitted.
        foreach (var status in ExecutionStatus.All)
            await Db.ScalarAsync<object>("update executions set status = $2 where id = $1", id, status);
    }

    [Fact]
    public async Task An_unknown_attempt_outcome_is_refused()
    {
        var (_, _, claim) = await RunningAsync();

        var e = await Assert.ThrowsAsync<PostgresException>(() => Db.ScalarAsync<object>(
            "update execution_attempts set outcome = 'timed_out' where execution_id = $1", claim.ExecutionId));
        Assert.Equal(PostgresErrorCodes.CheckViolation, e.SqlState);
        foreach (var outcome in AttemptOutcome.All)
            await Db.ScalarAsync<object>("update execution_attempts set outcome = $2 where execution_id = $1", claim.ExecutionId, outcome);
    }

    [Fact]
    public async Task Execution_events_admit_only_known_kinds_and_are_never_updated()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var id = await SubmitAsync(tenant, job);

        var unknown = await Assert.ThrowsAsync<PostgresException>(() => Db.ScalarAsync<object>("""
            insert into execution_events (execution_id, tenant_id, to_status, kind, attempt) values ($1, $2, 'PENDING', 'teleported', 0)
            """, id, tenant));
        Assert.Equal(PostgresErrorCodes.CheckViolation, unknown.SqlState);
        foreach (var kind in EventKinds.All)
        {
            await Db.ScalarAsync<object>("""
                insert into execution_events (execution_id, tenant_id, to_status, kind, attempt) values ($1, $2, 'PENDING', $3, 0)
                """, id, tenant, kind);
        }
        await Assert.ThrowsAsync<PostgresException>(() =>
            Db.ScalarAsync<object>("update execution_events set reason = 'rewritten' where execution_id = $1", id));
    }
}

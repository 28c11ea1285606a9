using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

/// <summary>
/// Retention: what is old (by the database clock) goes, with what belongs to it; what is young or not
/// finished stays; a tenant's retention_days replaces the operator's; a dead letter never points to a
/// deleted execution. Rows are made old by moving their timestamps back in SQL. Other tests in this
/// class share the database, so each looks only at its own tenant's rows and deletes until nothing
/// old is left rather than counting what one call deleted.
/// </summary>
public sealed class RetentionTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private static readonly RetentionPolicy Defaults = new(TimeSpan.FromDays(30), TimeSpan.FromDays(30), TimeSpan.FromDays(365));

    private RetentionStore Retention => new(Db.DataSource);

    /// <summary>Deletes in batches until nothing of any class is old any more, as maintenance does.</summary>
    private async Task RetainAllAsync(RetentionPolicy policy, int batchSize = 1000)
    {
        while (await Retention.DeleteDeadLettersAsync(policy, batchSize, Ct) + await Retention.DeleteExecutionsAsync(policy, batchSize, Ct)
               + await Retention.DeleteAuditAsync(policy, batchSize, Ct) > 0)
        {
        }
    }

    /// <summary>Runs one execution of the job to success with a log line, then makes it finish <paramref name="daysAgo"/> days ago.</summary>
    private async Task<Guid> FinishedAsync(Guid tenant, Guid job, double daysAgo, bool succeed = true)
    {
        var id = await SubmitAsync(tenant, job);
        var claim = await ClaimOneAsync(tenant);
        Assert.Equal(id, claim.ExecutionId);
        Assert.Equal(LeaseCheck.Accepted, await Queue.AppendLogsAsync(id, claim.LeaseToken, [new NewLogLine("hello", "stdout")], Ct));
        if (succeed)
        {
            Assert.Equal(ExecutionStatus.Succeeded, (await SucceedAsync(claim)).Status);
        }
        else
        {
            // Cancelled while running: the worker's report then ends it CANCELLED.
            Assert.NotNull(await Executions.CancelAsync(tenant, id, Ct));
            var stopped = await Queue.CompleteAsync(id, claim.LeaseToken, new AttemptResult(null, "stopped", null, true), LongBackoff, Ct);
            Assert.Equal(ExecutionStatus.Cancelled, stopped.Status);
        }
        await AgeAsync(id, daysAgo);
        return id;
    }

    /// <summary>Moves every timestamp of the execution (and its dead letter) back by the given number of days.</summary>
    private async Task AgeAsync(Guid id, double days)
    {
        await ExecAsync("""
            update executions set created_at = created_at - make_interval(secs => $2), scheduled_at = scheduled_at - make_interval(secs => $2),
                started_at = started_at - make_interval(secs => $2), completed_at = completed_at - make_interval(secs => $2)
            where id = $1
            """, id, days * 86400);
        await ExecAsync("update dead_letters set failed_at = failed_at - make_interval(secs => $2) where execution_id = $1", id, days * 86400);
    }

    private async Task<(long Executions, long Logs, long Attempts)> RowsAsync(Guid id) => (
        await Db.ScalarAsync<long>("select count(*) from executions where id = $1", id),
        await Db.ScalarAsync<long>("select count(*) from execution_logs where execution_id = $1", id),
        await Db.ScalarAsync<long>("select count(*) from execution_attempts where execution_id = $1", id));

    private async Task<bool> ExistsAsync(Guid executionId) =>
        await Db.ScalarAsync<long>("select count(*) from executions where id = $1", executionId) == 1;

    private async Task<bool> DeadLetterExistsAsync(Guid executionId) =>
        await Db.ScalarAsync<long>("select count(*) from dead_letters where execution_id = $1", executionId) == 1;

    [Fact]
    public async Task Old_finished_executions_go_with_their_logs_and_attempts_while_young_and_unfinished_ones_stay()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var oldSucceeded = await FinishedAsync(tenant, job, 31);
        var oldCancelled = await FinishedAsync(tenant, job, 45, succeed: false);
        var young = await FinishedAsync(tenant, job, 29);
        Assert.Equal((1, 1, 1), await RowsAsync(oldSucceeded));

        // Unfinished, however old: a queued run, a scheduled one, a running one (even with a stale
        // completed_at from an earlier attempt), and a retry waiting for its time.
        var pending = await SubmitAsync(tenant, job);
        await AgeAsync(pending, 400);
        var scheduled = await SubmitAsync(tenant, job, scheduledAt: DateTimeOffset.UtcNow.AddDays(1));
        await AgeAsync(scheduled, 400);
        var otherTenant = await NewTenantAsync();
        var otherJob = await NewJobAsync(otherTenant, maxAttempts: 3);
        var running = await SubmitAsync(otherTenant, otherJob);
        var runningClaim = await ClaimOneAsync(otherTenant);
        await ExecAsync("update executions set completed_at = now() where id = $1", running);
        await AgeAsync(running, 400);
        var retrying = await SubmitAsync(otherTenant, otherJob);
        var retryClaim = await ClaimOneAsync(otherTenant);
        Assert.Equal(ExecutionStatus.Retrying, (await FailAsync(retryClaim)).Status);
        await ExecAsync("update executions set completed_at = now() where id = $1", retrying);
        await AgeAsync(retrying, 400);

        await RetainAllAsync(Defaults);

        Assert.Equal((0, 0, 0), await RowsAsync(oldSucceeded));
        Assert.Equal((0, 0, 0), await RowsAsync(oldCancelled));
        Assert.Equal((1, 1, 1), await RowsAsync(young));
        Assert.Equal("PENDING", await StatusAsync(pending));
        Assert.True(await InReadyQueueAsync(pending));
        Assert.Equal("SCHEDULED", await StatusAsync(scheduled));
        Assert.Equal("RUNNING", await StatusAsync(running));
        Assert.Equal("RETRYING", await StatusAsync(retrying));
        // The running attempt is untouched: its worker can still finish it.
        Assert.Equal(ExecutionStatus.Succeeded, (await SucceedAsync(runningClaim)).Status);
        // The job itself is not history: it stays, and runs again.
        Assert.NotNull(await Jobs.GetAsync(tenant, job, Ct));
    }

    [Fact]
    public async Task Nothing_is_deleted_while_a_class_is_off()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var old = await FinishedAsync(tenant, job, 3650);
        var (_, _, dead) = await DeadLetteredAsync(tenant);
        await AgeAsync(dead, 3650);

        await RetainAllAsync(RetentionPolicy.KeepEverything);

        Assert.True(await ExistsAsync(old));
        Assert.True(await DeadLetterExistsAsync(dead));
        Assert.True(await ExistsAsync(dead));
    }

    [Fact]
    public async Task A_tenants_retention_days_replaces_the_operators_retention_in_both_directions()
    {
        var shortTenant = await NewTenantAsync();
        var longTenant = await NewTenantAsync();
        var defaultTenant = await NewTenantAsync();
        Assert.True(await Tenants.UpdateAsync(shortTenant, new TenantSettings { RetentionDays = 7 }, Ct));
        Assert.True(await Tenants.UpdateAsync(longTenant, new TenantSettings { RetentionDays = 90 }, Ct));
        Assert.Equal(7, (await Tenants.GetAsync(shortTenant, Ct))!.RetentionDays);
        Assert.Null((await Tenants.GetAsync(defaultTenant, Ct))!.RetentionDays);

        var shortOld = await FinishedAsync(shortTenant, await NewJobAsync(shortTenant), 8);
        var shortYoung = await FinishedAsync(shortTenant, await NewJobAsync(shortTenant), 6);
        var longKept = await FinishedAsync(longTenant, await NewJobAsync(longTenant), 60);
        var longOld = await FinishedAsync(longTenant, await NewJobAsync(longTenant), 91);
        var defaultOld = await FinishedAsync(defaultTenant, await NewJobAsync(defaultTenant), 40);
        var (_, _, shortDead) = await DeadLetteredAsync(shortTenant);
        await AgeAsync(shortDead, 8);
        var (_, _, longDead) = await DeadLetteredAsync(longTenant);
        await AgeAsync(longDead, 60);

        await RetainAllAsync(Defaults);

        Assert.False(await ExistsAsync(shortOld));
        Assert.True(await ExistsAsync(shortYoung));
        Assert.True(await ExistsAsync(longKept));
        Assert.False(await ExistsAsync(longOld));
        Assert.False(await ExistsAsync(defaultOld));
        Assert.False(await DeadLetterExistsAsync(shortDead));
        Assert.False(await ExistsAsync(shortDead));
        Assert.True(await DeadLetterExistsAsync(longDead));
        Assert.True(await ExistsAsync(longDead));

        // The override also holds where the operator keeps everything.
        var shortKeepAll = await FinishedAsync(shortTenant, await NewJobAsync(shortTenant), 8);
        await RetainAllAsync(RetentionPolicy.KeepEverything);
        Assert.False(await ExistsAsync(shortKeepAll));

        // 0 returns the tenant to the operator's retention.
        Assert.True(await Tenants.UpdateAsync(longTenant, new TenantSettings { RetentionDays = 0 }, Ct));
        Assert.Null((await Tenants.GetAsync(longTenant, Ct))!.RetentionDays);
        await RetainAllAsync(Defaults);
        Assert.False(await ExistsAsync(longKept));
        Assert.False(await DeadLetterExistsAsync(longDead));
        Assert.False(await ExistsAsync(longDead));
    }

    [Fact]
    public async Task A_dead_letter_never_points_to_a_deleted_execution()
    {
        var tenant = await NewTenantAsync();
        var (_, _, dead) = await DeadLetteredAsync(tenant);
        await AgeAsync(dead, 45);

        // Dead letters kept longer than executions: the failed execution stays with its dead letter.
        var dlqLonger = Defaults with { DeadLetters = TimeSpan.FromDays(60) };
        await RetainAllAsync(dlqLonger);
        Assert.True(await DeadLetterExistsAsync(dead));
        Assert.True(await ExistsAsync(dead));
        Assert.Single(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));

        // Dead letters off: failed executions are then kept too, while succeeded ones go.
        var succeeded = await FinishedAsync(tenant, await NewJobAsync(tenant), 45);
        await RetainAllAsync(Defaults with { DeadLetters = null });
        Assert.True(await ExistsAsync(dead));
        Assert.False(await ExistsAsync(succeeded));

        // A dead letter that outlived its execution's completion (written later than it): the
        // execution waits for the dead letter, whatever its own age.
        var (_, _, late) = await DeadLetteredAsync(tenant);
        await ExecAsync("update executions set completed_at = now() - interval '400 days' where id = $1", late);
        await RetainAllAsync(Defaults);
        Assert.True(await DeadLetterExistsAsync(late));
        Assert.True(await ExistsAsync(late));

        // With equal retentions the first dead letter (45 days old) went in that pass, and its
        // execution with it, logs and attempts included.
        Assert.False(await DeadLetterExistsAsync(dead));
        Assert.Equal((0, 0, 0), await RowsAsync(dead));
        // Once the late dead letter is old enough, both go.
        await ExecAsync("update dead_letters set failed_at = now() - interval '31 days' where execution_id = $1", late);
        await RetainAllAsync(Defaults);
        Assert.False(await DeadLetterExistsAsync(late));
        Assert.False(await ExistsAsync(late));
    }

    [Fact]
    public async Task A_retried_dead_letter_goes_by_its_age_and_the_retry_keeps_running()
    {
        var tenant = await NewTenantAsync();
        var (_, _, dead) = await DeadLetteredAsync(tenant);
        var retry = await Executions.RetryDeadLetterAsync(tenant, dead, Ct);
        Assert.NotNull(retry);
        await AgeAsync(dead, 31);

        await RetainAllAsync(Defaults);

        Assert.False(await DeadLetterExistsAsync(dead));
        Assert.False(await ExistsAsync(dead));
        Assert.Equal("PENDING", await StatusAsync(retry.Value));
        Assert.Equal(retry.Value, (await ClaimOneAsync(tenant)).ExecutionId);
    }

    [Fact]
    public async Task Old_audit_records_go_and_young_ones_stay()
    {
        var tenant = await NewTenantAsync();
        Assert.True(await Tenants.UpdateAsync(tenant, new TenantSettings { Weight = 2 }, Ct));
        Assert.True(await Tenants.UpdateAsync(tenant, new TenantSettings { Weight = 3 }, Ct));
        var audit = new AuditLog(Db.DataSource);
        var entries = (await audit.ListAsync(tenant, null, 10, Ct)).Entries;
        Assert.Equal(4, entries.Count);  // tenant.create, api_key.create, two updates
        var oldest = entries.Skip(1).Select(e => e.Id).ToArray();
        await ExecAsync("update audit_log set at = now() - interval '366 days' where id = any($1)", oldest);

        await RetainAllAsync(Defaults with { Audit = null });
        Assert.Equal(4, (await audit.ListAsync(tenant, null, 10, Ct)).Entries.Count);

        await RetainAllAsync(Defaults);
        var left = (await audit.ListAsync(tenant, null, 10, Ct)).Entries;
        Assert.Equal(entries[0].Id, Assert.Single(left).Id);
    }

    [Fact]
    public async Task An_idempotency_key_goes_with_its_execution()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var first = await Executions.RunAsync(tenant, job, new RunOptions(null, null, null), "order-1", Ct);
        var claim = await ClaimOneAsync(tenant);
        Assert.Equal(first!.ExecutionId, claim.ExecutionId);
        await SucceedAsync(claim);
        await AgeAsync(first.ExecutionId, 31);

        await RetainAllAsync(Defaults);

        Assert.False(await ExistsAsync(first.ExecutionId));
        Assert.Equal(0, await Db.ScalarAsync<long>("select count(*) from idempotency_keys where tenant_id = $1", tenant));
    }
}

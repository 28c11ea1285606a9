using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;
using Npgsql;

namespace Jobplane.Store.Tests;

/// <summary>
/// Single runs written in groups (<see cref="ExecutionStore.RunGroupAsync"/>, <see cref="RunGroupCommitter"/>):
/// one transaction for many runs, and each run's answer what it would have been alone.
/// </summary>
public sealed class RunGroupTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private static readonly RunOptions Now = new(null, null, null);

    private static string NewKey() => $"key-{Guid.NewGuid():N}";

    private static RunRequest Run(Guid tenant, Guid job, string? key = null, Guid? verifyKeyId = null) => new(tenant, job, Now, key, verifyKeyId);

    private Task<long> ExecutionCountAsync(Guid job) => Db.ScalarAsync<long>("select count(*) from executions where job_id = $1", job);

    /// <summary>How many transactions created the job's executions (each row's xmin is the transaction that inserted it).</summary>
    private Task<long> TransactionsAsync(Guid job) =>
        Db.ScalarAsync<long>("select count(distinct xmin::text) from executions where job_id = $1", job);

    private static SubmittedRun Created(GroupedRun answer)
    {
        Assert.Null(answer.Error);
        Assert.NotNull(answer.Run);
        Assert.False(answer.Run.Replayed);
        return answer.Run;
    }

    [Fact]
    public async Task A_group_of_runs_of_two_tenants_is_one_transaction_with_an_execution_each()
    {
        var (tenantA, jobA) = await TenantWithJobAsync();
        var (tenantB, jobB) = await TenantWithJobAsync();
        var runs = Enumerable.Range(0, 40).Select(i => i % 2 == 0 ? Run(tenantA, jobA) : Run(tenantB, jobB)).ToList();

        var answers = await Executions.RunGroupAsync(runs);

        var ids = answers.Select(a => Created(a).ExecutionId).ToList();
        Assert.Equal(40, ids.Distinct().Count());
        Assert.All(answers, a => Assert.Equal(ExecutionStatus.Pending, a.Run!.Status));
        Assert.Equal(20L, await ExecutionCountAsync(jobA));
        Assert.Equal(20L, await ExecutionCountAsync(jobB));
        Assert.Equal(1L, await Db.ScalarAsync<long>(
            "select count(distinct xmin::text) from executions where job_id = any($1)", new[] { jobA, jobB }));
        // Each answer names an execution of its own run's tenant and job, and each is ready.
        for (var i = 0; i < runs.Count; i++)
        {
            var view = await Executions.GetAsync(runs[i].TenantId, ids[i], Ct);
            Assert.Equal(runs[i].JobId, view!.JobId);
            Assert.True(await InReadyQueueAsync(ids[i]));
        }
    }

    [Fact]
    public async Task Each_run_of_a_group_keeps_its_own_options_as_a_single_run_would()
    {
        var (tenant, job) = await TenantWithJobAsync(priority: 50);
        var later = DateTimeOffset.UtcNow.AddHours(1);
        var runs = new List<RunRequest>
        {
            new(tenant, job, new RunOptions(null, null, null) { TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }),
            new(tenant, job, new RunOptions(later, 30, new Priority(90))),
            new(tenant, job, new RunOptions(DateTimeOffset.UtcNow.AddHours(-1), null, new Priority(0))),
            new(tenant, job, new RunOptions(later, null, null), NewKey()),
        };

        var answers = await Executions.RunGroupAsync(runs);

        var ids = answers.Select(a => Created(a).ExecutionId).ToList();
        Assert.Equal([ExecutionStatus.Pending, ExecutionStatus.Scheduled, ExecutionStatus.Pending, ExecutionStatus.Scheduled],
            answers.Select(a => a.Run!.Status));
        var views = new List<ExecutionRecord>();
        foreach (var id in ids) views.Add((await Executions.GetAsync(tenant, id, Ct))!);
        Assert.Equal([50, 90, 0, 50], views.Select(v => v.Priority.Value));
        Assert.Equal([60, 30, 60, 60], views.Select(v => v.TimeoutSeconds));
        Assert.Equal(later.ToUnixTimeMilliseconds(), views[1].ScheduledAt.ToUnixTimeMilliseconds());
        var ready = await Task.WhenAll(ids.Select(InReadyQueueAsync));
        Assert.Equal([true, false, true, false], ready);
        Assert.Equal("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            await Db.ScalarAsync<string>("select trace_parent from executions where id = $1", ids[0]));
        Assert.Equal(4L, await Db.ScalarAsync<long>(
            "select count(*) from execution_events where execution_id = any($1) and kind = 'submitted'", ids.ToArray()));
    }

    [Fact]
    public async Task A_key_repeated_in_a_group_creates_one_execution_and_the_repeats_replay_it()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var key = NewKey();

        var answers = await Executions.RunGroupAsync([Run(tenant, job), Run(tenant, job, key), Run(tenant, job), Run(tenant, job, key), Run(tenant, job, key)]);

        var first = Created(answers[1]);
        foreach (var repeat in new[] { answers[3], answers[4] })
        {
            Assert.Null(repeat.Error);
            Assert.Equal(first.ExecutionId, repeat.Run!.ExecutionId);
            Assert.True(repeat.Run.Replayed);
            Assert.Equal(ExecutionStatus.Pending, repeat.Run.Status);
        }
        Created(answers[0]);
        Created(answers[2]);
        Assert.Equal(3L, await ExecutionCountAsync(job));
        Assert.Equal(1L, await TransactionsAsync(job));
        // And the key replays it afterwards too.
        var later = await Executions.RunAsync(tenant, job, Now, key, Ct);
        Assert.Equal(first.ExecutionId, later!.ExecutionId);
        Assert.True(later.Replayed);
    }

    [Fact]
    public async Task A_key_used_for_another_job_is_a_conflict_for_that_run_only()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var otherJob = await NewJobAsync(tenant);
        var key = NewKey();
        var original = await Executions.RunAsync(tenant, otherJob, Now, key, Ct);

        var answers = await Executions.RunGroupAsync([Run(tenant, job), Run(tenant, job, key), Run(tenant, job)]);

        var conflict = Assert.IsType<StoreConflictException>(answers[1].Error);
        Assert.Contains(key, conflict.Message, StringComparison.Ordinal);
        Assert.Null(answers[1].Run);
        Created(answers[0]);
        Created(answers[2]);
        Assert.Equal(2L, await ExecutionCountAsync(job));
        Assert.Equal(1L, await TransactionsAsync(job));
        Assert.Equal(1L, await ExecutionCountAsync(otherJob));
        Assert.Equal(original!.ExecutionId, (await Executions.RunAsync(tenant, otherJob, Now, key, Ct))!.ExecutionId);
    }

    [Fact]
    public async Task Another_tenants_job_in_a_group_creates_nothing_and_takes_no_key()
    {
        var (owner, job) = await TenantWithJobAsync();
        var (stranger, strangersJob) = await TenantWithJobAsync();
        var key = NewKey();

        var answers = await Executions.RunGroupAsync([Run(stranger, strangersJob), Run(stranger, job), Run(stranger, job, key), Run(owner, job)]);

        Created(answers[0]);
        Assert.Equal(default, answers[1]);
        Assert.Equal(default, answers[2]);
        Created(answers[3]);
        Assert.Equal(1L, await ExecutionCountAsync(job));
        Assert.Equal(0L, await Db.ScalarAsync<long>("select count(*) from executions where tenant_id = $1 and job_id = $2", stranger, job));
        Assert.Equal(0L, await Db.ScalarAsync<long>("select count(*) from idempotency_keys where tenant_id = $1", stranger));
    }

    [Fact]
    public async Task A_revoked_key_to_verify_creates_nothing_for_its_run_only()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var live = await Tenants.CreateKeyAsync(tenant, "live", "test", Ct);
        var revoked = await Tenants.CreateKeyAsync(tenant, "revoked", "test", Ct);
        Assert.True(await Tenants.RevokeKeyAsync(tenant, revoked!.Id, "test", Ct));

        var answers = await Executions.RunGroupAsync([Run(tenant, job, verifyKeyId: live!.Id), Run(tenant, job, verifyKeyId: revoked.Id)]);

        Created(answers[0]);
        Assert.Equal(default, answers[1]);
        Assert.Equal(1L, await ExecutionCountAsync(job));
    }

    /// <summary>
    /// Test-only triggers on executions, for the jobs listed in fail_jobs: one that refuses the row in
    /// its statement (a check violation, as a constraint would), one deferred to the commit.
    /// </summary>
    private async Task FailJobAsync(Guid job, bool atCommit)
    {
        await ExecAsync("""
            create table if not exists fail_jobs (job_id uuid primary key, at_commit boolean not null);
            create or replace function fail_jobs_check() returns trigger language plpgsql as $$
            begin
                if exists (select 1 from fail_jobs where job_id = new.job_id and at_commit = (tg_when = 'AFTER')) then
                    raise exception 'test refuses job %', new.job_id using errcode = case when tg_when = 'AFTER' then 'P0001' else '23514' end;
                end if;
                return new;
            end $$;
            do $$ begin
                if not exists (select 1 from pg_trigger where tgname = 'fail_jobs_in_statement') then
                    create trigger fail_jobs_in_statement before insert on executions for each row execute function fail_jobs_check();
                    create constraint trigger fail_jobs_at_commit after insert on executions deferrable initially deferred
                        for each row execute function fail_jobs_check();
                end if;
            end $$;
            """);
        await ExecAsync("insert into fail_jobs values ($1, $2)", job, atCommit);
    }

    [Fact]
    public async Task A_run_whose_statement_fails_gets_its_error_and_the_others_their_executions()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var refused = await NewJobAsync(tenant);
        await FailJobAsync(refused, atCommit: false);
        var key = NewKey();

        var answers = await Executions.RunGroupAsync([Run(tenant, job), Run(tenant, job, key), Run(tenant, refused), Run(tenant, job), Run(tenant, job, key)]);

        var error = Assert.IsType<PostgresException>(answers[2].Error);
        Assert.Equal(PostgresErrorCodes.CheckViolation, error.SqlState);
        var ids = new[] { 0, 1, 3 }.Select(i => Created(answers[i]).ExecutionId).ToList();
        Assert.Equal(3, ids.Distinct().Count());
        Assert.True(answers[4].Run!.Replayed);
        Assert.Equal(answers[1].Run!.ExecutionId, answers[4].Run!.ExecutionId);
        // Written again one by one: each exactly once, in a transaction of its own.
        Assert.Equal(3L, await ExecutionCountAsync(job));
        Assert.Equal(3L, await TransactionsAsync(job));
        Assert.Equal(0L, await ExecutionCountAsync(refused));
    }

    [Fact]
    public async Task When_the_commit_fails_no_run_of_the_group_is_answered_as_created_and_none_exists()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var failing = await NewJobAsync(tenant);
        await FailJobAsync(failing, atCommit: true);
        var key = NewKey();

        var answers = await Executions.RunGroupAsync([Run(tenant, job), Run(tenant, job, key), Run(tenant, failing), Run(tenant, job)]);

        Assert.All(answers, a =>
        {
            Assert.Null(a.Run);
            Assert.Equal(PostgresErrorCodes.RaiseException, Assert.IsType<PostgresException>(a.Error).SqlState);
        });
        Assert.Equal(0L, await ExecutionCountAsync(job));
        Assert.Equal(0L, await ExecutionCountAsync(failing));
        Assert.Equal(0L, await Db.ScalarAsync<long>("select count(*) from idempotency_keys where tenant_id = $1", tenant));
        Assert.Equal(0L, await Db.ScalarAsync<long>("select count(*) from ready_queue where tenant_id = $1", tenant));
    }

    [Fact]
    public async Task Two_hundred_concurrent_runs_through_the_committer_each_get_their_own_execution_in_fewer_transactions()
    {
        var (tenantA, jobA) = await TenantWithJobAsync();
        var (tenantB, jobB) = await TenantWithJobAsync();
        var committer = new RunGroupCommitter(Executions);

        var answers = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(() =>
            committer.RunAsync(i % 2 == 0 ? Run(tenantA, jobA) : Run(tenantB, jobB), Ct))));

        Assert.All(answers, a => Assert.False(a!.Replayed));
        Assert.Equal(200, answers.Select(a => a!.ExecutionId).Distinct().Count());
        Assert.Equal(100L, await ExecutionCountAsync(jobA));
        Assert.Equal(100L, await ExecutionCountAsync(jobB));
        var transactions = await Db.ScalarAsync<long>("select count(distinct xmin::text) from executions where job_id = any($1)", new[] { jobA, jobB });
        Assert.True(transactions < 200, $"{transactions} transactions for 200 runs");
    }

    /// <summary>
    /// An open transaction holding an idempotency key (naming an execution of its own, created here),
    /// so that a run with that key waits for it.
    /// </summary>
    private async Task<(NpgsqlConnection Conn, NpgsqlTransaction Tx, Guid Execution)> HoldKeyAsync(Guid tenant, Guid job, string key)
    {
        var existing = await SubmitAsync(tenant, job);
        var conn = await Db.DataSource.OpenConnectionAsync(Ct);
        var tx = await conn.BeginTransactionAsync(Ct);
        await using var cmd = new NpgsqlCommand("insert into idempotency_keys (tenant_id, key, job_id, execution_id) values ($1, $2, $3, $4)", conn, tx);
        cmd.Parameters.Add(new NpgsqlParameter { Value = tenant });
        cmd.Parameters.Add(new NpgsqlParameter { Value = key });
        cmd.Parameters.Add(new NpgsqlParameter { Value = job });
        cmd.Parameters.Add(new NpgsqlParameter { Value = existing });
        await cmd.ExecuteNonQueryAsync(Ct);
        return (conn, tx, existing);
    }

    /// <summary>Waits until a statement of this database waits for a lock the backend <paramref name="holder"/> holds.</summary>
    private async Task WaitUntilBlockedByAsync(NpgsqlConnection holder)
    {
        while (await Db.ScalarAsync<long>(
                   "select count(*) from pg_stat_activity where datname = current_database() and $1 = any(pg_blocking_pids(pid))", holder.ProcessID) == 0)
            await Task.Delay(20, Ct);
    }

    [Fact]
    public async Task Runs_are_answered_only_after_their_group_commits_and_a_caller_giving_up_does_not_stop_the_group()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var first = NewKey();
        var second = NewKey();
        // One writer, so that the runs below queue behind the first.
        var committer = new RunGroupCommitter(Executions, maxWriting: 1);
        var (conn1, tx1, held1) = await HoldKeyAsync(tenant, job, first);
        var (conn2, tx2, held2) = await HoldKeyAsync(tenant, job, second);
        await using var c1 = conn1;
        await using var c2 = conn2;

        // Written alone at once, and held up by the first key.
        var blocker = committer.RunAsync(Run(tenant, job, first), Ct);
        await WaitUntilBlockedByAsync(conn1);
        using var giveUp = new CancellationTokenSource();
        var abandoned = committer.RunAsync(Run(tenant, job), giveUp.Token);
        var plain = committer.RunAsync(Run(tenant, job), Ct);
        var keyed = committer.RunAsync(Run(tenant, job, second), Ct);
        await tx1.RollbackAsync(Ct);
        var blocked = await blocker;
        Assert.False(blocked!.Replayed);

        // The three are one group now, held up by the second key after the plain runs' statements ran:
        // none is answered before the commit.
        await WaitUntilBlockedByAsync(conn2);
        await Task.Delay(200, Ct);
        Assert.False(plain.IsCompleted);
        Assert.False(abandoned.IsCompleted);
        Assert.Equal(3L, await ExecutionCountAsync(job));
        // Its caller gives up; the group goes on.
        giveUp.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        await tx2.RollbackAsync(Ct);

        var plainRun = await plain;
        var keyedRun = await keyed;
        Assert.False(plainRun!.Replayed);
        Assert.False(keyedRun!.Replayed);
        // All three committed together, the abandoned run with them.
        Assert.Equal(6L, await ExecutionCountAsync(job));
        var group = new[] { held1, held2, blocked.ExecutionId };
        Assert.Equal(3L, await Db.ScalarAsync<long>("select count(*) from executions where job_id = $1 and id <> all($2)", job, group));
        Assert.Equal(1L, await Db.ScalarAsync<long>("select count(distinct xmin::text) from executions where job_id = $1 and id <> all($2)", job, group));
    }

    [Fact]
    public async Task A_group_stuck_behind_a_lock_does_not_hold_up_the_runs_after_it()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var key = NewKey();
        var committer = new RunGroupCommitter(Executions);
        var (conn, tx, _) = await HoldKeyAsync(tenant, job, key);
        await using var c = conn;

        var stuck = committer.RunAsync(Run(tenant, job, key), Ct);
        await WaitUntilBlockedByAsync(conn);
        await Task.Delay(RunGroupCommitter.StallAfter * 2, Ct);
        // A second writer takes the runs arriving now; the stuck group waits on.
        var behind = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => committer.RunAsync(Run(tenant, job), Ct)));

        Assert.Equal(5, behind.Select(r => r!.ExecutionId).Distinct().Count());
        Assert.False(stuck.IsCompleted);
        await tx.RollbackAsync(Ct);
        Assert.False((await stuck)!.Replayed);
    }

    [Fact]
    public async Task A_run_whose_caller_gave_up_before_its_group_started_is_not_written()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var idle = await NewJobAsync(tenant);
        var key = NewKey();
        var committer = new RunGroupCommitter(Executions, maxWriting: 1);
        var (conn, tx, _) = await HoldKeyAsync(tenant, job, key);
        await using var c = conn;

        var blocker = committer.RunAsync(Run(tenant, job, key), Ct);
        await WaitUntilBlockedByAsync(conn);
        using var giveUp = new CancellationTokenSource();
        var abandoned = committer.RunAsync(Run(tenant, idle), giveUp.Token);
        giveUp.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        await tx.RollbackAsync(Ct);
        await blocker;
        // The writer has moved on past the abandoned run: a later run is written and answered.
        Assert.NotNull(await committer.RunAsync(Run(tenant, job), Ct));

        Assert.Equal(0L, await ExecutionCountAsync(idle));
    }
}

using Npgsql;

namespace Jobplane.Store;

/// <summary>One single run, as <see cref="ExecutionStore.RunAsync"/> takes it: what a group of runs is made of.</summary>
public sealed record RunRequest(Guid TenantId, Guid JobId, RunOptions Options, string? IdempotencyKey = null, Guid? VerifyKeyId = null);

/// <summary>
/// What one run of a group came to, as <see cref="ExecutionStore.RunAsync"/> would have answered it
/// alone: its run (null: nothing created, the job is not the tenant's or the key to verify is no
/// longer live), or the exception it would have thrown.
/// </summary>
public readonly record struct GroupedRun(SubmittedRun? Run, Exception? Error);

public sealed partial class ExecutionStore
{
    /// <summary>
    /// Writes single runs of any tenants in one transaction, so the whole group costs one WAL flush:
    /// the runs without an idempotency key in one set-based statement, each run with a key in the
    /// statement <see cref="RunAsync"/> sends (its own tenant, key check and idempotency key), all in
    /// one batch, then one commit. Returns only after that commit, one answer per run in the order
    /// given; a run's answer is what <see cref="RunAsync"/> would have given it, as if the runs had
    /// been sent one after another in that order (a key repeated in the group creates one execution,
    /// and the later runs replay it).
    /// <para>An error that belongs to one run (a value it cannot store, a constraint, a deadlock) undoes
    /// the whole transaction; the runs are then written again one by one, each with its own answer.
    /// Any other failure (the connection, the database, a commit whose outcome is unknown) is every
    /// run's answer, as it would have been each one's alone: no run is answered as created unless its
    /// group's commit succeeded. Not cancellable: callers that stop waiting leave the group to finish.</para>
    /// </summary>
    public async Task<GroupedRun[]> RunGroupAsync(IReadOnlyList<RunRequest> runs)
    {
        var answers = new GroupedRun[runs.Count];
        if (runs.Count == 0) return answers;
        // Alone, a run is one autocommitted statement: one round trip, as at low load it always was.
        if (runs.Count == 1) return [await RunAloneAsync(runs[0])];
        var created = new SubmittedRun?[runs.Count];
        try
        {
            await WriteGroupAsync(runs, created);
        }
        catch (Exception e) when (BelongsToOneRun(e))
        {
            // Nothing of the group was committed: each run again on its own, in the same order.
            for (var i = 0; i < runs.Count; i++) answers[i] = await RunAloneAsync(runs[i]);
            return answers;
        }
        catch (Exception e)
        {
            Array.Fill(answers, new GroupedRun(null, e));
            return answers;
        }

        // Committed. Runs with a key that created nothing replay what their key names (an earlier
        // run of this group, or another request's), read now that every execution they can name is committed.
        var replays = new List<int>();
        for (var i = 0; i < runs.Count; i++)
        {
            if (created[i] is not null || runs[i].IdempotencyKey is null) answers[i] = new GroupedRun(created[i], null);
            else replays.Add(i);
        }
        if (replays.Count > 0) await ReadReplaysAsync(runs, replays, answers);
        return answers;
    }

    private async Task<GroupedRun> RunAloneAsync(RunRequest run)
    {
        try
        {
            return new GroupedRun(await RunAsync(run.TenantId, run.JobId, run.Options, run.IdempotencyKey, CancellationToken.None, run.VerifyKeyId), null);
        }
        catch (Exception e)
        {
            return new GroupedRun(null, e);
        }
    }

    private async Task WriteGroupAsync(IReadOnlyList<RunRequest> runs, SubmittedRun?[] created)
    {
        // Runs without an idempotency key are independent of each other: one set-based statement
        // creates them all (one plan, one pass of the ready_queue trigger), which is most of what a
        // group saves PostgreSQL beyond the commit.
        var plain = Enumerable.Range(0, runs.Count).Where(i => runs[i].IdempotencyKey is null).ToList();
        // Runs with a key keep the single statement, in this order: each takes its key (the key's unique
        // index entry) until the commit, and taken in one order (tenant, then key) by every group of
        // every replica, two groups that share keys wait for each other instead of deadlocking. The
        // sort is stable, so a repeated key's runs stay in arrival order and the first one creates.
        var keyed = Enumerable.Range(0, runs.Count).Where(i => runs[i].IdempotencyKey is not null)
            .OrderBy(i => runs[i].TenantId).ThenBy(i => runs[i].IdempotencyKey, StringComparer.Ordinal).ToList();
        var plainIds = plain.Select(i => (Id: Guid.CreateVersion7(), Index: i)).ToList();
        var plainById = plainIds.ToDictionary(p => p.Id, p => p.Index);

        await using var conn = await db.OpenConnectionAsync(CancellationToken.None);
        await using var tx = await conn.BeginTransactionAsync(CancellationToken.None);
        await using (var batch = new NpgsqlBatch(conn, tx))
        {
            if (plain.Count > 0) batch.BatchCommands.Add(Sql.BatchCommand(SubmitManySql, SubmitManyParameters(runs, plainIds)));
            foreach (var i in keyed) batch.BatchCommands.Add(Sql.BatchCommand(SubmitSql, SubmitParameters(runs[i])));
            await using var reader = await batch.ExecuteReaderAsync(CancellationToken.None);
            if (plain.Count > 0)
            {
                while (await reader.ReadAsync(CancellationToken.None))
                    created[plainById[reader.GetGuid(0)]] = new SubmittedRun(reader.GetGuid(0), reader.GetString(1));
                await reader.NextResultAsync(CancellationToken.None);
            }
            foreach (var i in keyed)
            {
                if (await reader.ReadAsync(CancellationToken.None)) created[i] = new SubmittedRun(reader.GetGuid(0), reader.GetString(1));
                await reader.NextResultAsync(CancellationToken.None);
            }
        }
        await tx.CommitAsync(CancellationToken.None);
    }

    private static NpgsqlParameter[] SubmitManyParameters(IReadOnlyList<RunRequest> all, List<(Guid Id, int Index)> rows)
    {
        var runs = rows.Select(r => all[r.Index]).ToList();
        return
        [
            Sql.P(rows.Select(r => r.Id).ToArray()),
            Sql.P(runs.Select(r => r.JobId).ToArray()),
            Sql.P(runs.Select(r => r.TenantId).ToArray()),
            new NpgsqlParameter<DateTime?[]> { TypedValue = [.. runs.Select(r => r.Options.ScheduledAt?.UtcDateTime)] },
            new NpgsqlParameter<int?[]> { TypedValue = [.. runs.Select(r => r.Options.Priority?.Value)] },
            new NpgsqlParameter<int?[]> { TypedValue = [.. runs.Select(r => r.Options.TimeoutSeconds)] },
            new NpgsqlParameter<string?[]> { TypedValue = [.. runs.Select(r => r.Options.TraceParent)] },
            new NpgsqlParameter<Guid?[]> { TypedValue = [.. runs.Select(r => r.VerifyKeyId)] },
            Sql.P(EventKind.Submitted.Word()),
        ];
    }

    // Runs without an idempotency key, of any tenants and jobs, in one statement: for each row, what
    // SubmitSql does for a run without a key (the job must be the row's tenant's, the row's API key
    // live when given; else that row creates nothing). Returns the created rows' ids and statuses.
    // $1 new ids, $2 jobs, $3 tenants, $4 scheduled_at?, $5 priority?, $6 timeout?, $7 traceparent?,
    // $8 API key to verify?, $9 the first event's kind. Each job is found by its primary key.
    private static readonly string SubmitManySql = $"""
        with run as (
            select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::int[], $6::int[], $7::text[], $8::uuid[])
                with ordinality as r(id, job_id, tenant_id, scheduled_at, priority, timeout_seconds, trace_parent, verify_key_id, ord)
        ), ins as (
            {TransitionWriter.InsertExecutions}
            select r.id, j.tenant_id, j.id, {DueStatus("r.scheduled_at")},
                   coalesce(r.priority, j.priority), coalesce(r.timeout_seconds, j.timeout_seconds), j.max_attempts,
                   greatest(coalesce(r.scheduled_at, now()), now()), r.trace_parent
            from run r join jobs j on j.id = r.job_id and j.tenant_id = r.tenant_id
            where {LiveKey("r.verify_key_id", "r.tenant_id")}
            order by r.ord
            {TransitionWriter.CreatedColumns}
        ), {TransitionWriter.Created("ins", "$9::text")}
        select id, status from ins
        """;

    /// <summary>
    /// Errors of one run's statement rather than of the connection or the database: the value it
    /// sends, a constraint it breaks, or a deadlock its keys met. Retrying the group's runs one by one
    /// gives that run its own error and the others their executions.
    /// </summary>
    private static bool BelongsToOneRun(Exception e) =>
        StoreErrors.IsUnstorableValue(e)
        || e is PostgresException pg && (pg.SqlState.StartsWith("22", StringComparison.Ordinal) || pg.SqlState.StartsWith("23", StringComparison.Ordinal)
            || pg.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure);

    /// <summary>The replay of each run in <paramref name="replays"/>, read in one batch (outside any transaction: reads only).</summary>
    private async Task ReadReplaysAsync(IReadOnlyList<RunRequest> runs, List<int> replays, GroupedRun[] answers)
    {
        var read = 0;
        try
        {
            await using var batch = db.CreateBatch();
            foreach (var i in replays) batch.BatchCommands.Add(Sql.BatchCommand(ReplaySql, ReplayParameters(runs[i])));
            await using var reader = await batch.ExecuteReaderAsync(CancellationToken.None);
            for (var n = 0; n < replays.Count; n++)
            {
                if (n > 0) await reader.NextResultAsync(CancellationToken.None);
                var i = replays[n];
                try
                {
                    answers[i] = new GroupedRun(await ReadReplayAsync(reader, runs[i], CancellationToken.None), null);
                }
                catch (StoreConflictException conflict)
                {
                    answers[i] = new GroupedRun(null, conflict);
                }
                read++;
            }
        }
        catch (Exception e)
        {
            // The executions are committed; only these answers are lost, as a single run's would be
            // when its lookup failed. Runs already answered keep their answers.
            foreach (var i in replays.Skip(read)) answers[i] = new GroupedRun(null, e);
        }
    }
}

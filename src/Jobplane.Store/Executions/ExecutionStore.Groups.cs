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
    /// Writes single runs of any tenants in one transaction: each run's own submit statement (the one
    /// <see cref="RunAsync"/> sends, with its own tenant, key check and idempotency key) in one batch,
    /// then one commit, so the whole group costs one WAL flush. Returns only after that commit, one
    /// answer per run in the order given; a run's answer is what <see cref="RunAsync"/> would have
    /// given it, as if the runs had been sent one after another in that order (a key repeated in the
    /// group creates one execution, and the later runs replay it).
    /// <para>An error that belongs to one run (a value it cannot store, a constraint, a deadlock) undoes
    /// the whole transaction; the runs are then written again one by one, each with its own answer.
    /// Any other failure (the connection, the database, the commit itself) is every run's answer, as
    /// it would have been each one's alone: nothing of the group is answered as created unless its
    /// commit succeeded. Not cancellable: callers that stop waiting leave the group to finish.</para>
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
        // Statements taking idempotency keys lock them (the key's unique index entry) until the commit.
        // Taken in one order (tenant, then key) by every group of every replica, two groups that share
        // keys wait for each other instead of deadlocking; a stable sort keeps a repeated key's runs
        // in arrival order, so the first of them is the one that creates.
        var order = Enumerable.Range(0, runs.Count)
            .OrderBy(i => runs[i].IdempotencyKey is null ? 0 : 1)
            .ThenBy(i => runs[i].IdempotencyKey is null ? Guid.Empty : runs[i].TenantId)
            .ThenBy(i => runs[i].IdempotencyKey ?? "", StringComparer.Ordinal)
            .ToArray();
        await using var conn = await db.OpenConnectionAsync(CancellationToken.None);
        await using var tx = await conn.BeginTransactionAsync(CancellationToken.None);
        await using (var batch = new NpgsqlBatch(conn, tx))
        {
            foreach (var i in order) batch.BatchCommands.Add(Sql.BatchCommand(SubmitSql, SubmitParameters(runs[i])));
            await using var reader = await batch.ExecuteReaderAsync(CancellationToken.None);
            for (var n = 0; n < order.Length; n++)
            {
                if (n > 0) await reader.NextResultAsync(CancellationToken.None);
                if (await reader.ReadAsync(CancellationToken.None)) created[order[n]] = new SubmittedRun(reader.GetGuid(0), reader.GetString(1));
            }
        }
        await tx.CommitAsync(CancellationToken.None);
    }

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

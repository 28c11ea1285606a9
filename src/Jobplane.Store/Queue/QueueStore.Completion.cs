using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store;

public sealed partial class QueueStore
{
    /// <summary>
    /// Records an attempt's outcome if its token still holds the lease. Success is SUCCEEDED (even if
    /// a cancel was requested meanwhile: the work was done). Otherwise: CANCELLED when a cancel was
    /// requested; FAILED into the DLQ at once for an exit code the job lists as permanent or a
    /// non-retryable failure; RETRYING after the job's backoff while attempts remain; else FAILED into
    /// the DLQ (<see cref="ExecutionTransitions"/>).
    /// </summary>
    public async Task<CompletionOutcome> CompleteAsync(
        Guid executionId, Guid leaseToken, AttemptResult result, BackoffPolicy backoff, CancellationToken ct) =>
        (await CompleteManyAsync([new Completion(executionId, leaseToken, result)], backoff, ct))[0];

    /// <summary>
    /// Records many attempts' outcomes in one transaction and two statements, whatever their number:
    /// lock the executions still held by their tokens (in id order, so concurrent batches cannot
    /// deadlock), decide each one's next status, then one <see cref="TransitionWriter"/> statement.
    /// Each report is answered on its own, in order: a lost lease or a missing execution writes
    /// nothing for that report and does not hold back the others. A value that cannot be stored (a
    /// result jsonb refuses, text that is not valid UTF-8: see <see cref="StoreErrors.IsUnstorableValue"/>)
    /// fails the statement for the whole batch: the batch is then written report by report, so only
    /// the offending report is refused.
    /// <paramref name="tenantIds"/>, when given, restricts the batch to those tenants' executions:
    /// any other is answered NotFound.
    /// </summary>
    public async Task<IReadOnlyList<CompletionOutcome>> CompleteManyAsync(
        IReadOnlyList<Completion> completions, BackoffPolicy backoff, CancellationToken ct, Guid[]? tenantIds = null)
    {
        if (completions.Count == 0) return [];
        try
        {
            return await CompleteInOneTransactionAsync(completions, backoff, tenantIds, ct);
        }
        catch (Exception e) when (StoreErrors.IsUnstorableValue(e))
        {
            if (completions.Count == 1) return [new CompletionOutcome(LeaseCheck.Refused, Refused: StoreErrors.DescribeUnstorable(e))];
            var outcomes = new CompletionOutcome[completions.Count];
            for (var i = 0; i < completions.Count; i++)
                outcomes[i] = (await CompleteManyAsync([completions[i]], backoff, ct, tenantIds))[0];
            return outcomes;
        }
    }

    private async Task<IReadOnlyList<CompletionOutcome>> CompleteInOneTransactionAsync(
        IReadOnlyList<Completion> completions, BackoffPolicy backoff, Guid[]? tenantIds, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var held = new Dictionary<Guid, HeldAttempt>(completions.Count);
        // This transaction's statements (the lock below, the transition writer's, the lookup of
        // unheard reports) find each report's rows by primary key, so one generic plan per connection
        // serves every batch (at most Limits.MaxResultsPerBatch reports a request). Planned per call, as
        // the connection otherwise does, planning was a fifth of their time in a no-op drain and more
        // than half with the small batches of an exec drain (bench/RESULTS.md).
        await using (var batch = new NpgsqlBatch(conn, tx))
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(Sql.GenericPlans));
            batch.BatchCommands.Add(Sql.BatchCommand($"""
            select e.id, e.attempt, e.attempt - e.free_attempts, e.max_attempts, e.worker_id,
                   e.cancel_requested_at is not null, j.retry_backoff_base_seconds, j.retry_backoff_max_seconds,
                   j.non_retryable_exit_codes
            from unnest($1::uuid[], $2::uuid[]) as r(id, token)
            join executions e on e.id = r.id and e.lease_token = r.token
            join jobs j on j.id = e.job_id
            where e.status = '{ExecutionStatus.Running}' and ($3::uuid[] is null or e.tenant_id = any($3))
            order by e.id
            for update of e
            """, Sql.P(completions.Select(c => c.ExecutionId).ToArray()), Sql.P(completions.Select(c => c.LeaseToken).ToArray()),
            Sql.P(tenantIds)));
            await using var reader = await batch.ExecuteReaderAsync(ct);
            while (reader.FieldCount == 0 && await reader.NextResultAsync(ct)) { }
            while (await reader.ReadAsync(ct))
            {
                held[reader.GetGuid(0)] = new HeldAttempt(
                    Attempt: reader.GetInt32(1),
                    State: new ExecutionState(ExecutionStatus.Running, reader.GetInt32(2), reader.GetInt32(3), reader.GetBoolean(5)),
                    Worker: reader.GetStringOrNull(4),
                    BackoffBase: reader.IsDBNull(6) ? null : reader.GetDouble(6),
                    BackoffMax: reader.IsDBNull(7) ? null : reader.GetDouble(7),
                    PermanentCodes: reader.GetFieldValue<int[]>(8));
            }
        }

        var outcomes = new CompletionOutcome[completions.Count];
        var transitions = new List<Transition>(held.Count);
        for (var i = 0; i < completions.Count; i++)
        {
            var c = completions[i];
            // A report named twice in one batch is heard once: the first one holds the lease.
            if (!held.Remove(c.ExecutionId, out var h)) continue;
            var transition = Decide(c, h, backoff);
            transitions.Add(transition);
            outcomes[i] = new CompletionOutcome(LeaseCheck.Accepted, transition.Decision.To);
        }
        await TransitionWriter.ApplyAsync(conn, tx, transitions, ct);

        // Reports not heard: tell a lost lease from an execution that does not exist (or that this
        // credential may not see). Rare, so it costs a statement only when it happens.
        var unheard = Enumerable.Range(0, completions.Count).Where(i => outcomes[i] is null).ToList();
        if (unheard.Count > 0)
        {
            var exists = new HashSet<Guid>();
            await using (var cmd = conn.Command("""
                select id from executions where id = any($1) and ($2::uuid[] is null or tenant_id = any($2))
                """, tx, Sql.P(unheard.Select(i => completions[i].ExecutionId).ToArray()), Sql.P(tenantIds)))
            await using (var reader = await cmd.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct)) exists.Add(reader.GetGuid(0));
            }
            foreach (var i in unheard)
                outcomes[i] = new CompletionOutcome(exists.Contains(completions[i].ExecutionId) ? LeaseCheck.LeaseLost : LeaseCheck.NotFound);
        }
        await tx.CommitAsync(ct);
        return outcomes;
    }

    private static Transition Decide(Completion c, HeldAttempt h, BackoffPolicy backoff)
    {
        var result = c.Result;
        var succeeded = result.ExitCode == 0 && result.Error is null;
        var error = succeeded ? null : result.Error ?? $"exit code {result.ExitCode}";
        var permanent = !succeeded && result.ExitCode is { } code && h.PermanentCodes.Contains(code);
        if (permanent) error += $" (exit code {result.ExitCode} is listed as permanent: not retried)";
        var decision = ExecutionTransitions.Decide(h.State,
            new ExecutionEvent(succeeded ? EventKind.Succeeded : EventKind.Failed, Retryable: result.Retryable && !permanent));
        if (decision.To == ExecutionStatus.Cancelled) error = $"cancelled while running ({error})";
        return new Transition(c.ExecutionId, decision, h.Attempt, h.Worker)
        {
            Error = error,
            AttemptError = error,
            ExitCode = result.ExitCode,
            ResultJson = result.ResultJson,
            BackoffSeconds = decision.Backoff ? backoff(h.State.Charged, h.BackoffBase, h.BackoffMax).TotalSeconds : 0,
        };
    }

    private sealed record HeldAttempt(int Attempt, ExecutionState State, string? Worker, double? BackoffBase, double? BackoffMax,
        int[] PermanentCodes);
}

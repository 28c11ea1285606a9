using Npgsql;

namespace Jobplane.Faults;

public sealed record AttemptRow(
    int Attempt, string WorkerId, DateTimeOffset StartedAt, DateTimeOffset? EndedAt, int? ExitCode, string? Error, string? Outcome);

public sealed record ExecutionRow(Guid Id, string Status, int Attempt, DateTimeOffset CreatedAt, IReadOnlyList<AttemptRow> Attempts);

/// <summary>The run's executions and every attempt of each, as the database holds them once everything has stopped.</summary>
public sealed class FinalState
{
    private FinalState(IReadOnlyDictionary<Guid, ExecutionRow> executions, int deadLetters)
    {
        Executions = executions;
        DeadLetters = deadLetters;
    }

    public IReadOnlyDictionary<Guid, ExecutionRow> Executions { get; }
    public int DeadLetters { get; }

    public static async Task<FinalState> ReadAsync(NpgsqlDataSource db, Guid jobId, CancellationToken ct)
    {
        var attempts = new Dictionary<Guid, List<AttemptRow>>();
        await using (var cmd = db.CreateCommand("""
            select a.execution_id, a.attempt, a.worker_id, a.started_at, a.ended_at, a.exit_code, a.error, a.outcome
            from execution_attempts a join executions e on e.id = a.execution_id
            where e.job_id = $1
            order by a.execution_id, a.attempt
            """))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = jobId });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var id = reader.GetGuid(0);
                if (!attempts.TryGetValue(id, out var list)) attempts[id] = list = [];
                list.Add(new AttemptRow(reader.GetInt32(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3),
                    reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4),
                    reader.IsDBNull(5) ? null : reader.GetInt32(5),
                    reader.IsDBNull(6) ? null : reader.GetString(6),
                    reader.IsDBNull(7) ? null : reader.GetString(7)));
            }
        }

        var executions = new Dictionary<Guid, ExecutionRow>();
        await using (var cmd = db.CreateCommand("select id, status, attempt, created_at from executions where job_id = $1"))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = jobId });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var id = reader.GetGuid(0);
                executions[id] = new ExecutionRow(id, reader.GetString(1), reader.GetInt32(2), reader.GetFieldValue<DateTimeOffset>(3),
                    attempts.TryGetValue(id, out var list) ? list : []);
            }
        }

        await using var dlq = db.CreateCommand("select count(*) from dead_letters where job_id = $1");
        dlq.Parameters.Add(new NpgsqlParameter { Value = jobId });
        var deadLetters = (int)(long)(await dlq.ExecuteScalarAsync(ct))!;
        return new FinalState(executions, deadLetters);
    }
}

using Jobplane.Api;
using Npgsql;

namespace Jobplane.Faults;

/// <summary>Where the run's executions stand right now.</summary>
public sealed record QueueCounts(int Total, int Open, int Succeeded, int Failed, int AcknowledgedOpen);

/// <summary>
/// Reads progress straight from the private database (the suite's own connection, not the API):
/// it must keep answering questions about the platform while the platform is being broken.
/// </summary>
public sealed class QueueWatch(NpgsqlDataSource db, Guid jobId)
{
    /// <summary>The counts, or null while the database cannot answer (it is being crashed).</summary>
    public async Task<QueueCounts?> ReadAsync(Guid[] acknowledged, CancellationToken ct)
    {
        try
        {
            await using var cmd = db.CreateCommand("""
                select count(*),
                       count(*) filter (where status not in ($3, $4, $5)),
                       count(*) filter (where status = $3),
                       count(*) filter (where status = $4),
                       count(*) filter (where a.id is not null and status not in ($3, $4, $5)),
                       count(a.id)
                from executions e left join unnest($2::uuid[]) as a(id) on a.id = e.id
                where e.job_id = $1
                """);
            cmd.Parameters.Add(new NpgsqlParameter { Value = jobId });
            cmd.Parameters.Add(new NpgsqlParameter { Value = acknowledged });
            cmd.Parameters.Add(new NpgsqlParameter { Value = ExecutionStatus.Succeeded });
            cmd.Parameters.Add(new NpgsqlParameter { Value = ExecutionStatus.Failed });
            cmd.Parameters.Add(new NpgsqlParameter { Value = ExecutionStatus.Cancelled });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            await reader.ReadAsync(ct);
            // An acknowledged id the database does not show is open as far as we can tell (it is lost
            // if it never shows up; the final checks say so).
            var unseen = acknowledged.Length - (int)reader.GetInt64(5);
            return new QueueCounts((int)reader.GetInt64(0), (int)reader.GetInt64(1), (int)reader.GetInt64(2),
                (int)reader.GetInt64(3), (int)reader.GetInt64(4) + unseen);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException)
        {
            return null;
        }
    }
}

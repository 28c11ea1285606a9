using Npgsql;

namespace Jobplane.Bench;

/// <summary>
/// Inserts executions of one tenant's job straight into the real schema, in chunks, with time-ordered
/// ids like the platform's own (UUIDv7), due times spread over the past hour and three priorities;
/// PENDING ones also go into ready_queue (whose trigger activates the tenant). Far faster than the
/// API, and the rows are exactly what a submission leaves.
/// </summary>
public sealed class BacklogSeeder(BenchDatabase db, Guid tenantId, Guid jobId)
{
    /// <summary>Rows inserted so far: the next id's sequence number.</summary>
    public long Inserted { get; private set; }

    public async Task InsertAsync(long count, string status)
    {
        const int Chunk = 100_000;
        for (long done = 0; done < count;)
        {
            var n = (int)Math.Min(Chunk, count - done);
            await using var cmd = db.DataSource.CreateCommand("""
                /* bench */ with ins as (
                    insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, max_attempts, scheduled_at)
                    select (lpad(to_hex((extract(epoch from now()) * 1000)::bigint), 12, '0') || '7'
                            || lpad(to_hex($4 + g), 15, '0') || substr(md5(g::text), 1, 4))::uuid,
                           $1, $2, $5, (g % 3) * 25 + 25, 3600, 3,
                           case when $3 > 1000 then now() - interval '1 hour' * random() else now() end
                    from generate_series(1, $3) g
                    returning id, tenant_id, job_id, priority, scheduled_at, status
                )
                insert into ready_queue (execution_id, tenant_id, priority, ready_at,
                                         runtime_class, network, run_as_root, memory_mib, cpus, pids)
                select ins.id, ins.tenant_id, ins.priority, ins.scheduled_at,
                       case when j.image = 'exec' then 'exec' else 'container' end, j.network, j.run_as_root,
                       (j.memory_limit_bytes >> 20)::integer, j.cpu_limit, j.pids_limit::integer
                from ins join jobs j on j.id = ins.job_id where ins.status = 'PENDING'
                """);
            cmd.CommandTimeout = 0;
            cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = tenantId });
            cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = jobId });
            cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = n });
            cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = Inserted });
            cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = status });
            await cmd.ExecuteNonQueryAsync();
            done += n;
            Inserted += n;
        }
    }
}

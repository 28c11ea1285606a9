using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store;

/// <summary>A validated job definition, ready to store.</summary>
public sealed record JobSpec(string Name, string Image, string[] Command, int TimeoutSeconds, Priority Priority, int MaxAttempts)
{
    public double? RetryBackoffBaseSeconds { get; init; }
    public double? RetryBackoffMaxSeconds { get; init; }
    public int[] NonRetryableExitCodes { get; init; } = [];
    /// <summary>Container limits the job asks for; null fields take the worker's defaults.</summary>
    public long? MemoryLimitBytes { get; init; }
    public double? CpuLimit { get; init; }
    public long? PidsLimit { get; init; }
    /// <summary>The job asks for network access; its tenant must allow network.</summary>
    public bool Network { get; init; }
    /// <summary>The job asks to run as root; the worker's operator decides whether it may.</summary>
    public bool RunAsRoot { get; init; }
}

/// <summary>Job definitions. Every query is scoped by tenant_id in SQL.</summary>
public sealed class JobStore(NpgsqlDataSource db)
{
    internal const string Columns = """
        id, name, image, command, timeout_seconds, priority, max_attempts, created_at, updated_at,
        retry_backoff_base_seconds, retry_backoff_max_seconds, non_retryable_exit_codes,
        memory_limit_bytes, cpu_limit, pids_limit, network, run_as_root
        """;

    /// <summary>
    /// Creates the job, or updates the tenant's job of the same name (served by jobs_tenant_name_key).
    /// Returns the id and whether it was newly created. A job asking for network is written only if
    /// its tenant allows network (checked in the same statement); otherwise nothing is written and
    /// <see cref="NetworkNotAllowedException"/> is thrown. Likewise a job of image exec is written only
    /// if its tenant's allowed_runtimes admit exec (<see cref="RuntimeNotAllowedException"/>). The
    /// claim checks both permissions again, so a later revocation still takes effect.
    /// </summary>
    public async Task<(Guid JobId, bool Created)> UpsertAsync(Guid tenantId, JobSpec spec, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            insert into jobs (id, tenant_id, name, image, command, timeout_seconds, priority, max_attempts,
                              retry_backoff_base_seconds, retry_backoff_max_seconds, non_retryable_exit_codes,
                              memory_limit_bytes, cpu_limit, pids_limit, network, run_as_root)
            select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16
            where (not $15 or exists (select 1 from tenants t where t.id = $2 and t.allow_network))
              and ($4 <> 'exec' or exists (select 1 from tenants t
                   where t.id = $2 and (t.allowed_runtimes is null or 'exec' = any(t.allowed_runtimes))))
            on conflict (tenant_id, name) do update set
                image = excluded.image, command = excluded.command, timeout_seconds = excluded.timeout_seconds,
                priority = excluded.priority, max_attempts = excluded.max_attempts,
                retry_backoff_base_seconds = excluded.retry_backoff_base_seconds,
                retry_backoff_max_seconds = excluded.retry_backoff_max_seconds,
                non_retryable_exit_codes = excluded.non_retryable_exit_codes,
                memory_limit_bytes = excluded.memory_limit_bytes, cpu_limit = excluded.cpu_limit,
                pids_limit = excluded.pids_limit, network = excluded.network,
                run_as_root = excluded.run_as_root, updated_at = now()
            returning id, (xmax = 0) as created
            """,
            Sql.P(Guid.CreateVersion7()), Sql.P(tenantId), Sql.P(spec.Name), Sql.P(spec.Image), Sql.P(spec.Command),
            Sql.P(spec.TimeoutSeconds), Sql.P(spec.Priority.Value), Sql.P(spec.MaxAttempts),
            Sql.P(spec.RetryBackoffBaseSeconds), Sql.P(spec.RetryBackoffMaxSeconds), Sql.P(spec.NonRetryableExitCodes),
            Sql.P(spec.MemoryLimitBytes), Sql.P(spec.CpuLimit), Sql.P(spec.PidsLimit), Sql.P(spec.Network),
            Sql.P(spec.RunAsRoot));
        // The reader (and with it the pooled connection) is given back once, when this block ends.
        // Never dispose it a second time: Npgsql reuses one reader object per connection, so a late
        // second dispose would close the reader of whoever holds the connection next.
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            if (await reader.ReadAsync(ct)) return (reader.GetGuid(0), reader.GetBoolean(1));
        }
        // Nothing was written: tell which permission is missing (rare, so a second statement only then).
        await using var why = db.Command("""
            select coalesce(bool_or(t.allowed_runtimes is null or 'exec' = any(t.allowed_runtimes)), false)
            from tenants t where t.id = $1
            """, Sql.P(tenantId));
        var execAllowed = (bool)(await why.ExecuteScalarAsync(ct))!;
        if (spec.Image == RuntimeClasses.ExecImage && !execAllowed) throw new RuntimeNotAllowedException();
        throw new NetworkNotAllowedException();
    }

    public async Task<JobRecord?> GetAsync(Guid tenantId, Guid jobId, CancellationToken ct)
    {
        await using var cmd = db.Command($"select {Columns} from jobs where id = $1 and tenant_id = $2",
            Sql.P(jobId), Sql.P(tenantId));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    /// <summary>
    /// Newest first, by (created_at, id) descending; served by jobs_tenant_created_idx. A command
    /// (up to 1 MiB) is cut in the database to its first <paramref name="commandChars"/> characters
    /// (arguments kept in order, the one crossing the budget cut, later ones left out) and marked
    /// CommandTruncated, so a page costs the controller at most limit times that budget;
    /// <see cref="GetAsync"/> answers the whole command.
    /// </summary>
    /// <summary>The id of the tenant's job of this name; null when it has none.</summary>
    public async Task<Guid?> FindIdAsync(Guid tenantId, string name, CancellationToken ct)
    {
        await using var cmd = db.Command("select id from jobs where tenant_id = $1 and name = $2", Sql.P(tenantId), Sql.P(name));
        return await cmd.ExecuteScalarAsync(ct) is Guid id ? id : null;
    }

    public async Task<Page<JobRecord>> ListPageAsync(Guid tenantId, PageRequest page, int commandChars, CancellationToken ct)
    {
        List<NpgsqlParameter> ps = [Sql.P(tenantId), Sql.P(page.Limit + 1), Sql.P(page.Offset), Sql.P(commandChars)];
        var after = Paging.After(page, ps, "created_at", "id", newestFirst: true);
        await using var cmd = db.Command($"""
            select id, name, image,
                   case when size.chars <= $4 then command else (
                       select coalesce(array_agg(left(a, ($4 - (cum - length(a)))::int) order by ord), array[]::text[])
                       from (select a, ord, sum(length(a)) over (order by ord) as cum
                             from unnest(command) with ordinality u(a, ord)) s
                       where cum - length(a) < $4) end,
                   timeout_seconds, priority, max_attempts, created_at, updated_at,
                   retry_backoff_base_seconds, retry_backoff_max_seconds, non_retryable_exit_codes,
                   memory_limit_bytes, cpu_limit, pids_limit, network, run_as_root,
                   size.chars > $4
            from jobs
            cross join lateral (select coalesce(sum(length(a)), 0) as chars from unnest(command) a) size
            where tenant_id = $1 and {after}
            order by created_at desc, id desc limit $2 offset $3
            """, [.. ps]);
        return await Paging.ReadAsync(cmd, page.Limit, r => Read(r) with { CommandTruncated = r.GetBoolean(17) }, ct);
    }

    /// <summary>A job from the 17 columns of <see cref="Columns"/>, in that order, from column 0.</summary>
    internal static JobRecord Read(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetFieldValue<string[]>(3), r.GetInt32(4),
        new Priority(r.GetInt16(5)), r.GetInt32(6), r.GetTimestamp(7), r.GetTimestamp(8))
    {
        RetryBackoffBaseSeconds = r.IsDBNull(9) ? null : r.GetDouble(9),
        RetryBackoffMaxSeconds = r.IsDBNull(10) ? null : r.GetDouble(10),
        NonRetryableExitCodes = r.GetFieldValue<int[]>(11),
        Resources = ReadResources(r, 12),
        Network = r.GetBoolean(15),
        RunAsRoot = r.GetBoolean(16),
    };

    /// <summary>memory_limit_bytes, cpu_limit, pids_limit from column <paramref name="first"/> on; null when all are null.</summary>
    internal static ResourceRequest? ReadResources(NpgsqlDataReader r, int first) =>
        r.IsDBNull(first) && r.IsDBNull(first + 1) && r.IsDBNull(first + 2) ? null : new ResourceRequest(
            // Whole MiB: the API takes memory in MiB, so what is stored always divides evenly.
            MemoryMib: r.IsDBNull(first) ? null : (int)(r.GetInt64(first) >> 20),
            Cpus: r.IsDBNull(first + 1) ? null : r.GetDouble(first + 1),
            Pids: r.IsDBNull(first + 2) ? null : (int)r.GetInt64(first + 2));
}

using Npgsql;

namespace Jobplane.Store;

/// <summary>What a presented worker credential resolves to. TenantIds null: the worker may serve every tenant.</summary>
public sealed record WorkerCredential(Guid Id, string Prefix, Guid[]? TenantIds, DateTimeOffset? LastUsedAt);

/// <summary>
/// Worker credentials issued and revoked by the administrator: <c>jpw_&lt;prefix&gt;_&lt;secret&gt;</c>,
/// only the secret's SHA-256 stored, optionally restricted to some tenants. Checked against the
/// database on every request, so a revoked credential stops working at once on every replica.
/// </summary>
public sealed class WorkerCredentialStore(NpgsqlDataSource db)
{
    public async Task<CreatedWorkerCredential> CreateAsync(string name, Guid[]? tenantIds, string actor, CancellationToken ct)
    {
        var key = ApiKeys.Generate(ApiKeys.WorkerScheme);
        var id = Guid.CreateVersion7();
        await using var cmd = db.Command("""
            with created as (
                insert into worker_credentials (id, name, prefix, secret_hash, tenant_ids)
                values ($1, $2, $3, $4, $5)
                returning created_at, prefix
            ), audit as (
                -- One record per tenant a restricted credential serves, so each tenant's audit shows it.
                insert into audit_log (actor, action, tenant_id, target, details)
                select $6, 'worker_credential.create', t, prefix,
                       jsonb_build_object('name', $2::text, 'tenant_ids', to_jsonb($5::uuid[]))
                from created, unnest(coalesce($5::uuid[], array[null::uuid])) as t
            )
            select created_at from created
            """, Sql.P(id), Sql.P(name), Sql.P(key.Prefix), Sql.P(key.SecretHash), Sql.P(tenantIds), Sql.P(actor));
        var createdAt = (DateTime)(await cmd.ExecuteScalarAsync(ct))!;
        return new CreatedWorkerCredential(id, name, key.Prefix, key.Key, tenantIds,
            new DateTimeOffset(DateTime.SpecifyKind(createdAt, DateTimeKind.Utc)));
    }

    /// <summary>Oldest first by (created_at, id); served by worker_credentials_created_idx.</summary>
    public async Task<Page<WorkerCredentialRecord>> ListPageAsync(PageRequest page, CancellationToken ct)
    {
        List<NpgsqlParameter> ps = [Sql.P(page.Limit + 1), Sql.P(page.Offset)];
        var after = Paging.After(page, ps, "created_at", "id", newestFirst: false);
        await using var cmd = db.Command($"""
            select id, name, prefix, tenant_ids, created_at, last_used_at, revoked_at
            from worker_credentials where {after}
            order by created_at, id limit $1 offset $2
            """, [.. ps]);
        return await Paging.ReadAsync(cmd, page.Limit, reader => new WorkerCredentialRecord(reader.GetGuid(0), reader.GetString(1), reader.GetString(2),
            reader.IsDBNull(3) ? null : reader.GetFieldValue<Guid[]>(3), reader.GetTimestamp(4),
            reader.GetTimestampOrNull(5), reader.GetTimestampOrNull(6)), ct);
    }

    /// <summary>False when there is no such credential; revoking twice is not an error.</summary>
    public async Task<bool> RevokeAsync(Guid id, string actor, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            with revoked as (
                update worker_credentials set revoked_at = now() where id = $1 and revoked_at is null returning prefix, tenant_ids
            ), audit as (
                insert into audit_log (actor, action, tenant_id, target)
                select $2, 'worker_credential.revoke', t, prefix
                from revoked, unnest(coalesce(revoked.tenant_ids, array[null::uuid])) as t
            )
            select exists (select 1 from worker_credentials where id = $1)
            """, Sql.P(id), Sql.P(actor));
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Resolves a presented worker credential, or null. Served by worker_credentials_prefix_key.</summary>
    public async Task<WorkerCredential?> FindAsync(string presented, CancellationToken ct)
    {
        if (!ApiKeys.TryParse(presented, out var prefix, out var secret, ApiKeys.WorkerScheme)) return null;
        await using var cmd = db.Command("""
            select id, secret_hash, tenant_ids, last_used_at from worker_credentials where prefix = $1 and revoked_at is null
            """, Sql.P(prefix));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct) || !ApiKeys.Matches(secret, reader.GetFieldValue<byte[]>(1))) return null;
        return new WorkerCredential(reader.GetGuid(0), prefix, reader.IsDBNull(2) ? null : reader.GetFieldValue<Guid[]>(2),
            reader.GetTimestampOrNull(3));
    }

    public async Task TouchAsync(Guid id, CancellationToken ct)
    {
        await using var cmd = db.Command("update worker_credentials set last_used_at = now() where id = $1", Sql.P(id));
        await cmd.ExecuteNonQueryAsync(ct);
    }
}

using Npgsql;

namespace Jobplane.Store.Dashboard;

/// <summary>Who a dashboard session belongs to, as read back on each request.</summary>
public sealed record SessionRecord
{
    /// <summary>Null: the administrator.</summary>
    public Guid? TenantId { get; init; }
    public Guid? ApiKeyId { get; init; }
    public string? KeyPrefix { get; init; }
    public string? TenantName { get; init; }
    public bool TenantSuspended { get; init; }
    public bool ReadOnly { get; init; }
    /// <summary>For an administrator session: the proof the current administrator secret must reproduce.</summary>
    public byte[]? AdminProof { get; init; }
    public required string CsrfToken { get; init; }
    public required DateTimeOffset ExpiresAt { get; init; }
}

/// <summary>
/// Dashboard sign-in sessions (ui_sessions). Only a SHA-256 of the cookie's token is stored. A
/// tenant session is read through its API key, so it stops with the key (revoked or expired) on the
/// next request, on every replica; an administrator session carries a proof of the secret it was
/// made with (checked by the caller). Each key holds at most a bounded number of sessions: signing
/// in again past it ends the oldest, so no one can make the platform store sessions without bound.
/// </summary>
public sealed class SessionStore(NpgsqlDataSource db)
{
    /// <summary>Sign-ins with one key closer together than this are audited once.</summary>
    public static readonly TimeSpan SignInAuditInterval = TimeSpan.FromMinutes(1);

    public async Task CreateAsync(byte[] tokenHash, Guid? tenantId, Guid? apiKeyId, byte[]? adminProof, string csrfToken,
        TimeSpan lifetime, int maxPerKey, string actor, CancellationToken ct)
    {
        await using var batch = db.CreateBatch();
        // The sign-in is audited unless the same key (or the administrator) already began a session
        // within the last minute: the log still says who signed in and when, and a loop of sign-ins
        // adds at most one row a minute per key. Checked before this session's own row is added;
        // the check is served by ui_sessions_key_idx, and an administrator has at most maxPerKey rows.
        var sameSigner = apiKeyId is not null ? "api_key_id = $4" : "tenant_id is null";
        batch.BatchCommands.Add(Sql.BatchCommand($"""
            insert into audit_log (actor, action, tenant_id) select $1, 'dashboard.sign_in', $2
            where not exists (select 1 from ui_sessions where {sameSigner} and created_at > now() - make_interval(secs => $3))
            """, [Sql.P(actor), Sql.P(tenantId), Sql.P(SignInAuditInterval.TotalSeconds), .. apiKeyId is not null ? [Sql.P(apiKeyId)] : Array.Empty<NpgsqlParameter>()]));
        batch.BatchCommands.Add(Sql.BatchCommand("""
            insert into ui_sessions (token_hash, tenant_id, api_key_id, admin_proof, csrf_token, expires_at)
            values ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
            """, Sql.P(tokenHash), Sql.P(tenantId), Sql.P(apiKeyId), Sql.BytesOrNull(adminProof),
            Sql.P(csrfToken), Sql.P(lifetime.TotalSeconds)));
        if (apiKeyId is not null)
        {
            // The oldest sessions of this key beyond the cap (served by ui_sessions_key_idx).
            batch.BatchCommands.Add(Sql.BatchCommand("""
                delete from ui_sessions where token_hash in (
                    select token_hash from ui_sessions where api_key_id = $1
                    order by created_at desc offset $2)
                """, Sql.P(apiKeyId), Sql.P(maxPerKey)));
        }
        else
        {
            batch.BatchCommands.Add(Sql.BatchCommand("""
                delete from ui_sessions where token_hash in (
                    select token_hash from ui_sessions where tenant_id is null
                    order by created_at desc offset $1)
                """, Sql.P(maxPerKey)));
        }
        // Sessions are only made here, so expired ones are cleared here too, a bounded number at a time.
        batch.BatchCommands.Add(Sql.BatchCommand("""
            delete from ui_sessions where token_hash in (
                select token_hash from ui_sessions where expires_at <= now() order by expires_at limit 100)
            """));
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The live session with this token hash, or null (unknown, expired, or its key revoked or expired).</summary>
    public async Task<SessionRecord?> FindAsync(byte[] tokenHash, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            select s.tenant_id, s.api_key_id, k.prefix, t.name, t.suspended_at is not null, coalesce(k.read_only, false),
                   s.admin_proof, s.csrf_token, s.expires_at, k.id is not null
            from ui_sessions s
            left join api_keys k on k.id = s.api_key_id and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())
            left join tenants t on t.id = s.tenant_id
            where s.token_hash = $1 and s.expires_at > now()
            """, Sql.P(tokenHash));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        var tenantId = reader.IsDBNull(0) ? (Guid?)null : reader.GetGuid(0);
        // A tenant session whose key no longer works has ended.
        if (tenantId is not null && !reader.GetBoolean(9)) return null;
        return new SessionRecord
        {
            TenantId = tenantId,
            ApiKeyId = reader.IsDBNull(1) ? null : reader.GetGuid(1),
            KeyPrefix = reader.GetStringOrNull(2),
            TenantName = reader.GetStringOrNull(3),
            TenantSuspended = reader.GetBoolean(4),
            ReadOnly = reader.GetBoolean(5),
            AdminProof = reader.IsDBNull(6) ? null : reader.GetFieldValue<byte[]>(6),
            CsrfToken = reader.GetString(7),
            ExpiresAt = reader.GetTimestamp(8),
        };
    }

    public async Task DeleteAsync(byte[] tokenHash, CancellationToken ct)
    {
        await using var cmd = db.Command("delete from ui_sessions where token_hash = $1", Sql.P(tokenHash));
        await cmd.ExecuteNonQueryAsync(ct);
    }
}

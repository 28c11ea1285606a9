using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store.Webhooks;

/// <summary>
/// A tenant's webhook endpoints: every statement is scoped by the tenant, each change writes an
/// audit record in its transaction, and a tenant holds at most a bounded number of endpoints.
/// </summary>
public sealed class WebhookStore(NpgsqlDataSource db)
{
    private const string Columns = """
        id, tenant_id, url, description, events, job_ids, job_names, enabled, disabled_reason, secret,
        previous_secret, previous_secret_expires_at, failing_since, created_at, updated_at
        """;

    public async Task<(WebhookEndpointRecord? Created, WebhookRefusal Refusal)> CreateAsync(Guid tenantId, WebhookEndpointSpec spec, string secret,
        string actor, int maxPerTenant, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // The tenant's row, locked: two creates at once cannot both pass the cap.
        await using (var cmd = conn.Command("""
            select (select count(*) from webhook_endpoints where tenant_id = $1) from tenants where id = $1 for no key update
            """, tx, Sql.P(tenantId)))
        {
            if (await cmd.ExecuteScalarAsync(ct) is not long count) return (null, WebhookRefusal.NotFound);
            if (count >= maxPerTenant) return (null, WebhookRefusal.TooMany);
        }
        var id = Guid.CreateVersion7();
        await using (var cmd = conn.Command($"""
            insert into webhook_endpoints (id, tenant_id, url, description, events, job_ids, job_names, enabled, secret)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            """, tx, Sql.P(id), Sql.P(tenantId), Sql.P(spec.Url), Sql.P(spec.Description), Sql.P(spec.Events!.ToArray()),
            Sql.P(spec.JobIds?.ToArray()), Sql.TextArrayOrNull(spec.JobNames?.ToArray()), Sql.P(spec.Enabled ?? true), Sql.P(secret)))
        {
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await AuditAsync(conn, tx, actor, "webhook.create", tenantId, id, spec.Url, ct);
        await tx.CommitAsync(ct);
        return (await GetAsync(tenantId, id, ct), WebhookRefusal.None);
    }

    public async Task<WebhookEndpointRecord?> GetAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        await using var cmd = db.Command($"select {Columns} from webhook_endpoints where tenant_id = $1 and id = $2", Sql.P(tenantId), Sql.P(id));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    /// <summary>All of the tenant's endpoints, oldest first (a tenant holds a bounded number).</summary>
    public async Task<IReadOnlyList<WebhookEndpointRecord>> ListAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = db.Command($"select {Columns} from webhook_endpoints where tenant_id = $1 order by created_at, id", Sql.P(tenantId));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<WebhookEndpointRecord>();
        while (await reader.ReadAsync(ct)) list.Add(Read(reader));
        return list;
    }

    /// <summary>Changes the fields given; enabling clears the reason it was disabled for. Null when it is not the tenant's.</summary>
    public async Task<WebhookEndpointRecord?> UpdateAsync(Guid tenantId, Guid id, WebhookEndpointSpec change, string actor, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = conn.Command("""
            update webhook_endpoints set
                url = coalesce($3, url),
                description = coalesce($4, description),
                events = coalesce($5, events),
                job_ids = case when $8 then null else coalesce($6, job_ids) end,
                job_names = case when $9 then null else coalesce($7, job_names) end,
                enabled = coalesce($10, enabled),
                disabled_reason = case when $10 then null else disabled_reason end,
                failing_since = case when $10 then null else failing_since end,
                updated_at = now()
            where tenant_id = $1 and id = $2
            """, tx, Sql.P(tenantId), Sql.P(id), Sql.P(change.Url), Sql.P(change.Description), Sql.TextArrayOrNull(change.Events?.ToArray()),
            Sql.P(change.JobIds?.ToArray()), Sql.TextArrayOrNull(change.JobNames?.ToArray()), Sql.P(change.ClearJobIds), Sql.P(change.ClearJobNames),
            Sql.P(change.Enabled)))
        {
            if (await cmd.ExecuteNonQueryAsync(ct) == 0) return null;
        }
        await AuditAsync(conn, tx, actor, "webhook.update", tenantId, id, change.Url, ct);
        await tx.CommitAsync(ct);
        return await GetAsync(tenantId, id, ct);
    }

    public async Task<bool> DeleteAsync(Guid tenantId, Guid id, string actor, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = conn.Command("delete from webhook_endpoints where tenant_id = $1 and id = $2", tx, Sql.P(tenantId), Sql.P(id)))
        {
            if (await cmd.ExecuteNonQueryAsync(ct) == 0) return false;
        }
        await AuditAsync(conn, tx, actor, "webhook.delete", tenantId, id, null, ct);
        await tx.CommitAsync(ct);
        return true;
    }

    /// <summary>
    /// A new signing secret; the current one goes on signing (as a second signature) for
    /// <paramref name="overlap"/>, so receivers can switch without losing a delivery. Null when it is not the tenant's.
    /// </summary>
    public async Task<WebhookEndpointRecord?> RotateSecretAsync(Guid tenantId, Guid id, string secret, TimeSpan overlap, string actor, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = conn.Command("""
            update webhook_endpoints set previous_secret = secret, previous_secret_expires_at = now() + make_interval(secs => $4),
                                         secret = $3, updated_at = now()
            where tenant_id = $1 and id = $2
            """, tx, Sql.P(tenantId), Sql.P(id), Sql.P(secret), Sql.P(overlap.TotalSeconds)))
        {
            if (await cmd.ExecuteNonQueryAsync(ct) == 0) return null;
        }
        await AuditAsync(conn, tx, actor, "webhook.rotate_secret", tenantId, id, null, ct);
        await tx.CommitAsync(ct);
        return await GetAsync(tenantId, id, ct);
    }

    private static async Task AuditAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string actor, string action, Guid tenantId, Guid id, string? url,
        CancellationToken ct)
    {
        await using var cmd = conn.Command("insert into audit_log (actor, action, tenant_id, target, details) values ($1, $2, $3, $4, $5)", tx,
            Sql.P(actor), Sql.P(action), Sql.P(tenantId), Sql.P($"webhook:{id}"),
            Sql.Json(url is null ? null : System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string> { ["url"] = url })));
        await cmd.ExecuteNonQueryAsync(ct);
    }

    internal static WebhookEndpointRecord Read(NpgsqlDataReader r) => new()
    {
        Id = r.GetGuid(0),
        TenantId = r.GetGuid(1),
        Url = r.GetString(2),
        Description = r.GetStringOrNull(3),
        Events = r.GetFieldValue<string[]>(4),
        JobIds = r.IsDBNull(5) ? null : r.GetFieldValue<Guid[]>(5),
        JobNames = r.IsDBNull(6) ? null : r.GetFieldValue<string[]>(6),
        Enabled = r.GetBoolean(7),
        DisabledReason = r.GetStringOrNull(8),
        Secret = r.GetString(9),
        PreviousSecret = r.GetStringOrNull(10),
        PreviousSecretExpiresAt = r.GetTimestampOrNull(11),
        FailingSince = r.GetTimestampOrNull(12),
        CreatedAt = r.GetTimestamp(13),
        UpdatedAt = r.GetTimestamp(14),
    };
}

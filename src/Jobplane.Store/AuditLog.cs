using System.Text.Json;
using Npgsql;

namespace Jobplane.Store;

/// <summary>Who made an administrative or credential change, as recorded in the audit log.</summary>
public static class Actors
{
    public const string Administrator = "administrator";

    public static string TenantKey(string keyPrefix) => $"api_key:{keyPrefix}";
}

/// <summary>
/// The audit log: one row per administrative or credential change, written in the same
/// transaction as the change itself, so there is never a change without its record or the reverse.
/// </summary>
public sealed class AuditLog(NpgsqlDataSource db)
{
    /// <summary>The insert to add to the batch that makes the change.</summary>
    internal static NpgsqlBatchCommand Record(string actor, string action, Guid? tenantId, string? target, string? detailsJson = null) =>
        Sql.BatchCommand("insert into audit_log (actor, action, tenant_id, target, details) values ($1, $2, $3, $4, $5)",
            Sql.P(actor), Sql.P(action), Sql.P(tenantId), Sql.P(target), Sql.Json(detailsJson));

    /// <summary>Newest first, optionally one tenant's, before an id (keyset pagination).</summary>
    public async Task<AuditRecordPage> ListAsync(Guid? tenantId, long? beforeId, int limit, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            select id, at, actor, action, tenant_id, target, details
            from audit_log
            where ($1::uuid is null or tenant_id = $1) and ($2::bigint is null or id < $2)
            order by id desc
            limit $3
            """, Sql.P(tenantId), Sql.P(beforeId),
            Sql.P(limit + 1));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var entries = new List<AuditRecord>();
        while (await reader.ReadAsync(ct))
        {
            JsonElement? details = reader.IsDBNull(6) ? null : JsonDocument.Parse(reader.GetString(6)).RootElement.Clone();
            entries.Add(new AuditRecord(reader.GetInt64(0), reader.GetTimestamp(1), reader.GetString(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetGuid(4), reader.GetStringOrNull(5), details));
        }
        var more = entries.Count > limit;
        if (more) entries.RemoveAt(entries.Count - 1);
        return new AuditRecordPage(entries, more ? entries[^1].Id : null);
    }
}

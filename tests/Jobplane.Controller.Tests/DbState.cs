using Jobplane.Testing;
using Npgsql;

namespace Jobplane.Controller.Tests;

/// <summary>
/// A fingerprint (row count and a hash of the rows) of every table a request could change, for
/// asserting that refused requests changed nothing. last_used_at is left out: authentication
/// records it off the request path, at most once a minute, whatever the request's outcome.
/// </summary>
internal static class DbState
{
    private static readonly (string Table, string TenantScope)[] Tables =
    [
        ("tenants", "id = $1"),
        ("api_keys", "tenant_id = $1"),
        ("jobs", "tenant_id = $1"),
        ("executions", "tenant_id = $1"),
        ("ready_queue", "tenant_id = $1"),
        ("execution_attempts", "execution_id in (select id from executions where tenant_id = $1)"),
        ("execution_logs", "execution_id in (select id from executions where tenant_id = $1)"),
        ("dead_letters", "tenant_id = $1"),
        ("idempotency_keys", "tenant_id = $1"),
        ("audit_log", "tenant_id = $1"),
        ("schedules", "tenant_id = $1"),
        ("schedule_fires", "tenant_id = $1"),
        ("webhook_endpoints", "tenant_id = $1"),
        ("webhook_deliveries", "tenant_id = $1"),
        ("worker_credentials", "true"),
    ];

    /// <summary>Table name to "count:md5"; all rows, or only one tenant's.</summary>
    public static async Task<IReadOnlyDictionary<string, string>> SnapshotAsync(ControllerHost host, Guid? tenantId = null)
    {
        var sql = string.Join("\nunion all\n", Tables.Select(t => t.Table == "execution_logs"
            // Append-only and possibly large: the count, the last id and the total size say enough.
            ? $"select '{t.Table}', count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(sum(length(content)), 0) " +
              $"from execution_logs where {(tenantId is null ? "true" : t.TenantScope)}"
            : $"select '{t.Table}', count(*) || ':' || coalesce(md5(string_agg(r, '|' order by r)), '') " +
              $"from (select (to_jsonb(x) - 'last_used_at')::text as r from {t.Table} x where {(tenantId is null ? "true" : t.TenantScope)}) rows"));
        await using var cmd = host.Database.DataSource.CreateCommand(sql);
        if (tenantId is { } id) cmd.Parameters.Add(new NpgsqlParameter { Value = id });
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) result[reader.GetString(0)] = reader.GetString(1);
        return result;
    }

    /// <summary>The tables whose fingerprint differs, or an empty string.</summary>
    public static string Diff(IReadOnlyDictionary<string, string> before, IReadOnlyDictionary<string, string> after) =>
        string.Join(", ", before.Where(b => after[b.Key] != b.Value).Select(b => $"{b.Key} ({b.Value} -> {after[b.Key]})"));
}

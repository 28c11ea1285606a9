using Npgsql;

namespace Jobplane.Store.Dashboard;

/// <summary>What the administration pages read besides the stores the API uses: tenant names for the ids they show.</summary>
public sealed class AdminQueries(NpgsqlDataSource db)
{
    /// <summary>The names of the tenants among <paramref name="ids"/> that exist (primary-key probes, one per id).</summary>
    public async Task<IReadOnlyDictionary<Guid, string>> TenantNamesAsync(IEnumerable<Guid> ids, CancellationToken ct)
    {
        var distinct = ids.Distinct().ToArray();
        var names = new Dictionary<Guid, string>();
        if (distinct.Length == 0) return names;
        await using var cmd = db.Command("select id, name from tenants where id = any($1)", Sql.P(distinct));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) names[reader.GetGuid(0)] = reader.GetString(1);
        return names;
    }
}

using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store;

/// <summary>Tenants and their API keys (administrator operations and key lookup for authentication).</summary>
public sealed class TenantStore(NpgsqlDataSource db)
{
    public async Task<CreateTenantResponse> CreateAsync(TenantRequest request, CancellationToken ct)
    {
        var tenantId = Guid.CreateVersion7();
        var key = ApiKeys.Generate();
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(Sql.BatchCommand("""
            insert into tenants (id, name, rate_limit, rate_limit_burst, max_concurrent_executions)
            values ($1, $2, $3, $4, coalesce($5, 0))
            """, Sql.P(tenantId), Sql.P(request.Name), Sql.P(request.RateLimit),
            Sql.P(request.RateLimitBurst), Sql.P(request.MaxConcurrentExecutions)));
        batch.BatchCommands.Add(Sql.BatchCommand(
            "insert into api_keys (id, tenant_id, prefix, secret_hash) values ($1, $2, $3, $4)",
            Sql.P(Guid.CreateVersion7()), Sql.P(tenantId), Sql.P(key.Prefix), Sql.P(key.SecretHash)));
        try
        {
            // A batch of several statements runs in one implicit transaction.
            await batch.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new StoreConflictException($"a tenant named '{request.Name}' already exists");
        }
        return new CreateTenantResponse(tenantId, request.Name!, key.Key);
    }

    /// <summary>Updates the given fields; false when the tenant does not exist.</summary>
    public async Task<bool> UpdateAsync(Guid tenantId, TenantRequest request, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            update tenants set
                name = coalesce($2, name),
                rate_limit = coalesce($3, rate_limit),
                rate_limit_burst = coalesce($4, rate_limit_burst),
                max_concurrent_executions = coalesce($5, max_concurrent_executions),
                updated_at = now()
            where id = $1
            """, Sql.P(tenantId), Sql.P(request.Name), Sql.P(request.RateLimit),
            Sql.P(request.RateLimitBurst), Sql.P(request.MaxConcurrentExecutions));
        try
        {
            return await cmd.ExecuteNonQueryAsync(ct) == 1;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new StoreConflictException($"a tenant named '{request.Name}' already exists");
        }
    }

    /// <summary>Resolves a presented API key to its tenant, or null. Served by api_keys_prefix_key.</summary>
    public async Task<Guid?> AuthenticateAsync(string presentedKey, CancellationToken ct)
    {
        if (!ApiKeys.TryParse(presentedKey, out var prefix, out var secret)) return null;
        await using var cmd = db.Command("""
            select k.tenant_id, k.secret_hash
            from api_keys k
            where k.prefix = $1 and k.revoked_at is null
            """, Sql.P(prefix));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        var tenantId = reader.GetGuid(0);
        var hash = reader.GetFieldValue<byte[]>(1);
        return ApiKeys.Matches(secret, hash) ? tenantId : null;
    }
}

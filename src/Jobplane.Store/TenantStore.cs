using System.Text.Json;
using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store;

/// <summary>What a presented tenant API key resolves to: its tenant, and what every request needs to know about it.</summary>
public sealed record TenantKey(Guid TenantId, Guid KeyId, string Prefix, double? RateLimit, int? RateLimitBurst, bool Suspended,
    DateTimeOffset? LastUsedAt)
{
    /// <summary>How long the key had left when it was verified, by the database clock; null when it does not expire.</summary>
    public TimeSpan? TimeLeft { get; init; }
    /// <summary>The tenant's own cap on followed log streams per replica; null: the operator's.</summary>
    public int? LogFollowMax { get; init; }
    /// <summary>The key may read and change nothing (every route that is not a read refuses it).</summary>
    public bool ReadOnly { get; init; }
}

/// <summary>A key to create: who asks, on behalf of which key (if any), when it should expire, and how many live keys the tenant may hold.</summary>
public sealed record NewApiKey(string Name, string Actor)
{
    /// <summary>The key making this one: revoking it revokes this one too.</summary>
    public Guid? ParentKeyId { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    public long? ExpiresInSeconds { get; init; }
    public int MaxLiveKeys { get; init; } = int.MaxValue;
    /// <summary>Viewing only. A key made by a read-only key is read-only too (the store makes it so).</summary>
    public bool ReadOnly { get; init; }
}

/// <summary>Why a key was not created.</summary>
public enum KeyRefusal
{
    TenantNotFound,
    /// <summary>The tenant holds MaxLiveKeys live (unrevoked, unexpired) keys already.</summary>
    TooManyKeys,
    /// <summary>expires_at is not in the future by the database clock.</summary>
    ExpiryPassed,
    /// <summary>The key asking was revoked or expired meanwhile: it may not mint another.</summary>
    ParentNotLive,
}

/// <summary>The key created, or why not (with the tenant's live key count at that moment).</summary>
public sealed record KeyCreation(CreatedApiKey? Key, KeyRefusal? Refusal, long LiveKeys);

/// <summary>
/// Tenants and their API keys: administrator operations, tenants managing their own keys, and key
/// lookup for authentication. Every change is written together with its audit record.
/// </summary>
public sealed class TenantStore(NpgsqlDataSource db)
{
    public async Task<CreatedTenant> CreateAsync(TenantSettings settings, CancellationToken ct, string actor = Actors.Administrator)
    {
        var tenantId = Guid.CreateVersion7();
        var key = ApiKeys.Generate();
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(Sql.BatchCommand("""
            insert into tenants (id, name, rate_limit, rate_limit_burst, max_concurrent_executions, weight, allowed_runtimes, allow_network,
                                 retention_days,
                                 log_max_bytes_per_execution, log_follow_max, max_fleet_share)
            values ($1, $2, $3, $4, coalesce($5, 0), coalesce($6, 1), $7, $8, nullif($9, 0),
                    nullif($10, 0), nullif($11, 0), $12)
            """, Sql.P(tenantId), Sql.P(settings.Name), Sql.P(settings.RateLimit),
            Sql.P(settings.RateLimitBurst), Sql.P(settings.MaxConcurrentExecutions), Sql.P(settings.Weight),
            Sql.TextArrayOrNull(RuntimesOrNull(settings.AllowedRuntimes)), Sql.P(settings.AllowNetwork ?? false),
            Sql.P(settings.RetentionDays),
            Sql.P(settings.LogMaxBytesPerExecution), Sql.P(settings.LogFollowMax), Sql.P(settings.MaxFleetShare)));
        batch.BatchCommands.Add(Sql.BatchCommand(
            "insert into api_keys (id, tenant_id, prefix, secret_hash) values ($1, $2, $3, $4)",
            Sql.P(Guid.CreateVersion7()), Sql.P(tenantId), Sql.P(key.Prefix), Sql.P(key.SecretHash)));
        batch.BatchCommands.Add(AuditLog.Record(actor, "tenant.create", tenantId, settings.Name, Details(settings)));
        batch.BatchCommands.Add(AuditLog.Record(actor, "api_key.create", tenantId, key.Prefix, """{"name":"default"}"""));
        try
        {
            // A batch of several statements runs in one implicit transaction.
            await batch.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new StoreConflictException($"a tenant named '{settings.Name}' already exists");
        }
        return new CreatedTenant(tenantId, settings.Name!, key.Key);
    }

    /// <summary>
    /// Updates the given fields; false when the tenant does not exist. A rate_limit of 0 removes the
    /// limit; an empty allowed_runtimes list lifts the restriction; a retention_days, log_max_bytes_per_execution
    /// or log_follow_max of 0 returns the tenant to the operator's setting. Only a real change is written and
    /// audited: an update that leaves every field as it was changes nothing, not even updated_at.
    /// </summary>
    public async Task<bool> UpdateAsync(Guid tenantId, TenantSettings settings, CancellationToken ct, string actor = Actors.Administrator)
    {
        // The new values, written once and used twice: to set them, and to see whether anything changes.
        const string updated = """
            coalesce($2, name),
            case when $3::float8 is null then rate_limit when $3 = 0 then null else $3 end,
            coalesce($4, rate_limit_burst),
            coalesce($5, max_concurrent_executions),
            coalesce($6, weight),
            case when $7::text[] is null then allowed_runtimes when cardinality($7) = 0 then null else $7 end,
            coalesce($8, allow_network),
            case when $11::int is null then retention_days when $11 = 0 then null else $11 end,
            case when $12::bigint is null then log_max_bytes_per_execution when $12 = 0 then null else $12 end,
            case when $13::int is null then log_follow_max when $13 = 0 then null else $13 end,
            coalesce($14, max_fleet_share)
            """;
        const string columns = "name, rate_limit, rate_limit_burst, max_concurrent_executions, weight, allowed_runtimes, allow_network, retention_days, "
            + "log_max_bytes_per_execution, log_follow_max, max_fleet_share";
        await using var cmd = db.Command($"""
            with changed as (
                update tenants set ({columns}) = ({updated}), updated_at = now()
                where id = $1 and ({columns}) is distinct from ({updated})
                returning id
            ), audit as (
                insert into audit_log (actor, action, tenant_id, details) select $9, 'tenant.update', id, $10 from changed
            )
            select exists (select 1 from tenants where id = $1)
            """, Sql.P(tenantId), Sql.P(settings.Name), Sql.P(settings.RateLimit), Sql.P(settings.RateLimitBurst),
            Sql.P(settings.MaxConcurrentExecutions), Sql.P(settings.Weight),
            Sql.TextArrayOrNull(settings.AllowedRuntimes?.Distinct().ToArray()), Sql.P(settings.AllowNetwork),
            Sql.P(actor), Sql.Json(Details(settings)), Sql.P(settings.RetentionDays),
            Sql.P(settings.LogMaxBytesPerExecution), Sql.P(settings.LogFollowMax), Sql.P(settings.MaxFleetShare));
        try
        {
            // One statement: the update and its audit record (written only if something changed).
            return (bool)(await cmd.ExecuteScalarAsync(ct))!;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new StoreConflictException($"a tenant named '{settings.Name}' already exists");
        }
    }

    /// <summary>
    /// Suspends (nothing new of the tenant's runs; its queued work stays) or resumes a tenant.
    /// Resuming does not let the tenant bank the time it was suspended as scheduling credit.
    /// </summary>
    public async Task<TenantRecord?> SetSuspendedAsync(Guid tenantId, bool suspended, CancellationToken ct, string actor = Actors.Administrator)
    {
        // Only a change of state is written and audited: suspending a suspended tenant changes nothing.
        await using var cmd = db.Command("""
            with changed as (
                update tenants set suspended_at = case when $2 then now() end, updated_at = now()
                where id = $1 and (suspended_at is not null) <> $2
                returning id
            ), unbanked as (
                update tenant_sched set vtime = greatest(vtime, (select vclock from scheduler_clock))
                where tenant_id in (select id from changed) and not $2
            )
            insert into audit_log (actor, action, tenant_id) select $3, $4, id from changed
            """, Sql.P(tenantId), Sql.P(suspended), Sql.P(actor), Sql.P(suspended ? "tenant.suspend" : "tenant.resume"));
        await cmd.ExecuteNonQueryAsync(ct);
        return await GetAsync(tenantId, ct);
    }

    private const string TenantColumns = $"""
        t.id, t.name, t.rate_limit, t.rate_limit_burst, t.max_concurrent_executions, t.weight, t.allowed_runtimes,
        t.suspended_at, t.created_at, t.updated_at,
        (select count(*) from execution_attempts a where a.tenant_id = t.id and a.ended_at is null)::int,
        (select count(*) from ready_queue q where q.tenant_id = t.id)::int,
        t.allow_network, t.retention_days,
        t.log_max_bytes_per_execution, t.log_follow_max, t.max_fleet_share
        """;

    public async Task<TenantRecord?> GetAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = db.Command($"select {TenantColumns} from tenants t where t.id = $1", Sql.P(tenantId));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadTenant(reader) : null;
    }

    /// <summary>
    /// Tenants by name, after <paramref name="afterName"/> when given (keyset on the unique
    /// tenants_name_key). Running and ready counts are exact: a page costs two index counts per tenant.
    /// </summary>
    public async Task<Page<TenantRecord>> ListPageAsync(int limit, int offset, string? afterName, CancellationToken ct)
    {
        await using var cmd = db.Command($"""
            select {TenantColumns} from tenants t
            where ($3::text is null or t.name > $3)
            order by t.name limit $1 offset $2
            """, Sql.P(limit + 1), Sql.P(offset), Sql.P(afterName));
        return await Paging.ReadAsync(cmd, limit, ReadTenant, ct);
    }

    private static TenantRecord ReadTenant(NpgsqlDataReader r) => new()
    {
        Id = r.GetGuid(0),
        Name = r.GetString(1),
        RateLimit = r.IsDBNull(2) ? null : r.GetDouble(2),
        RateLimitBurst = r.GetInt32OrNull(3),
        MaxConcurrentExecutions = r.GetInt32(4),
        Weight = r.GetInt32(5),
        AllowedRuntimes = r.IsDBNull(6) ? null : r.GetFieldValue<string[]>(6),
        SuspendedAt = r.GetTimestampOrNull(7),
        CreatedAt = r.GetTimestamp(8),
        UpdatedAt = r.GetTimestamp(9),
        Running = r.GetInt32(10),
        Ready = r.GetInt32(11),
        AllowNetwork = r.GetBoolean(12),
        RetentionDays = r.GetInt32OrNull(13),
        LogMaxBytesPerExecution = r.IsDBNull(14) ? null : r.GetInt64(14),
        LogFollowMax = r.GetInt32OrNull(15),
        MaxFleetShare = r.IsDBNull(16) ? null : r.GetDouble(16),
    };

    /// <summary>A new key for the tenant, shown once; null when the tenant does not exist.</summary>
    public async Task<CreatedApiKey?> CreateKeyAsync(Guid tenantId, string name, string actor, CancellationToken ct) =>
        (await CreateKeyAsync(tenantId, new NewApiKey(name, actor), ct)).Key;

    /// <summary>
    /// A new key for the tenant, shown once, unless the tenant already holds <see cref="NewApiKey.MaxLiveKeys"/>
    /// live keys, the expiry is not in the future, or the key asking is no longer live. The tenant's
    /// row is locked first (as revocation does), so concurrent creations cannot together pass the cap,
    /// and a key cannot mint a child while it is being revoked: either the child exists before the
    /// revocation looks for descendants, or the parent is already revoked when the child would be made.
    /// Expiry is computed and judged by the database clock.
    /// </summary>
    public async Task<KeyCreation> CreateKeyAsync(Guid tenantId, NewApiKey request, CancellationToken ct)
    {
        var key = ApiKeys.Generate();
        var id = Guid.CreateVersion7();
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        if (!await LockTenantAsync(conn, tx, tenantId, ct)) return new KeyCreation(null, KeyRefusal.TenantNotFound, 0);
        await using var cmd = new NpgsqlCommand("""
            with live as (
                select count(*) as n from api_keys
                where tenant_id = $2 and revoked_at is null and (expires_at is null or expires_at > now())
            ), expiry as (
                select coalesce($7::timestamptz, now() + make_interval(secs => $8::double precision)) as at
            ), parent as (
                select $9::uuid is null
                    or exists (select 1 from api_keys where id = $9 and tenant_id = $2 and revoked_at is null
                               and (expires_at is null or expires_at > now())) as ok
            ), created as (
                insert into api_keys (id, tenant_id, prefix, secret_hash, name, expires_at, parent_key_id, read_only)
                select $1, $2, $3, $4, $5, expiry.at, $9,
                       $11 or coalesce((select read_only from api_keys where id = $9), false)
                from live, expiry, parent
                where live.n < $10 and (expiry.at is null or expiry.at > now()) and parent.ok
                returning created_at, tenant_id, prefix, expires_at, read_only
            ), audit as (
                insert into audit_log (actor, action, tenant_id, target, details)
                select $6, 'api_key.create', tenant_id, prefix,
                       jsonb_strip_nulls(jsonb_build_object('name', $5::text, 'expires_at', expires_at,
                           'parent_prefix', (select prefix from api_keys where id = $9),
                           'read_only', case when read_only then true end))
                from created
            )
            select (select n from live), (select at is null or at > now() from expiry), (select ok from parent),
                   (select created_at from created), (select expires_at from created), (select read_only from created)
            """, conn, tx)
        {
            Parameters =
            {
                Sql.P(id), Sql.P(tenantId), Sql.P(key.Prefix), Sql.P(key.SecretHash), Sql.P(request.Name), Sql.P(request.Actor),
                Sql.P(request.ExpiresAt), Sql.P(request.ExpiresInSeconds is { } s ? (double?)s : null), Sql.P(request.ParentKeyId),
                Sql.P((long)request.MaxLiveKeys), Sql.P(request.ReadOnly),
            },
        };
        KeyCreation outcome;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            await reader.ReadAsync(ct);
            var live = reader.GetInt64(0);
            if (!reader.IsDBNull(3))
            {
                outcome = new KeyCreation(new CreatedApiKey(id, request.Name, key.Prefix, key.Key, reader.GetTimestamp(3))
                {
                    ExpiresAt = reader.GetTimestampOrNull(4),
                    ParentKeyId = request.ParentKeyId,
                    ReadOnly = reader.GetBoolean(5),
                }, null, live + 1);
            }
            else if (!reader.GetBoolean(2)) outcome = new KeyCreation(null, KeyRefusal.ParentNotLive, live);
            else if (!reader.GetBoolean(1)) outcome = new KeyCreation(null, KeyRefusal.ExpiryPassed, live);
            else outcome = new KeyCreation(null, KeyRefusal.TooManyKeys, live);
        }
        await tx.CommitAsync(ct);
        return outcome;
    }

    /// <summary>
    /// Serialises key creation and revocation per tenant: both lock the tenant's row first, and their
    /// next statement then sees everything the other committed. False when there is no such tenant.
    /// </summary>
    private static async Task<bool> LockTenantAsync(NpgsqlConnection conn, NpgsqlTransaction tx, Guid tenantId, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("select 1 from tenants where id = $1 for no key update", conn, tx) { Parameters = { Sql.P(tenantId) } };
        return await cmd.ExecuteScalarAsync(ct) is not null;
    }

    /// <summary>The tenant's keys, oldest first by (created_at, id); served by api_keys_tenant_idx.</summary>
    public async Task<Page<ApiKeyRecord>> ListKeysPageAsync(Guid tenantId, PageRequest page, CancellationToken ct)
    {
        List<NpgsqlParameter> ps = [Sql.P(tenantId), Sql.P(page.Limit + 1), Sql.P(page.Offset)];
        var after = Paging.After(page, ps, "created_at", "id", newestFirst: false);
        await using var cmd = db.Command($"""
            select id, name, prefix, created_at, last_used_at, revoked_at, expires_at, expires_at <= now(), parent_key_id, read_only
            from api_keys where tenant_id = $1 and {after}
            order by created_at, id limit $2 offset $3
            """, [.. ps]);
        return await Paging.ReadAsync(cmd, page.Limit, reader => new ApiKeyRecord(reader.GetGuid(0), reader.GetString(1), reader.GetString(2),
            reader.GetTimestamp(3), reader.GetTimestampOrNull(4), reader.GetTimestampOrNull(5))
        {
            ExpiresAt = reader.GetTimestampOrNull(6),
            Expired = !reader.IsDBNull(7) && reader.GetBoolean(7),
            ParentKeyId = reader.IsDBNull(8) ? null : reader.GetGuid(8),
            ReadOnly = reader.GetBoolean(9),
        }, ct);
    }

    /// <summary>
    /// Revokes one of the tenant's keys and every key minted from it, however deep (a leaked key
    /// cannot live on through keys it made): every replica refuses them from the next request on,
    /// since keys are checked against the database on every request. Each key revoked gets its own
    /// audit record; those revoked through the cascade name the key whose revocation took them.
    /// False when the tenant has no such key; revoking a revoked key again revokes whatever
    /// descendant is still live and is not an error.
    /// </summary>
    public async Task<bool> RevokeKeyAsync(Guid tenantId, Guid keyId, string actor, CancellationToken ct) =>
        (await RevokeKeyTreeAsync(tenantId, keyId, actor, ct)) is not null;

    /// <summary>As <see cref="RevokeKeyAsync"/>; the number of descendants revoked with the key, or null when there is no such key.</summary>
    public async Task<long?> RevokeKeyTreeAsync(Guid tenantId, Guid keyId, string actor, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        if (!await LockTenantAsync(conn, tx, tenantId, ct)) return null;
        // Served by api_keys_parent_idx for each level of the descent.
        await using var cmd = new NpgsqlCommand("""
            with recursive tree as (
                select id, 0 as depth from api_keys where id = $1 and tenant_id = $2
                union all
                select k.id, tree.depth + 1 from api_keys k join tree on k.parent_key_id = tree.id
                where k.tenant_id = $2
            ), revoked as (
                update api_keys k set revoked_at = now()
                from tree
                where k.id = tree.id and k.revoked_at is null
                returning k.tenant_id, k.prefix, tree.depth
            ), audit as (
                insert into audit_log (actor, action, tenant_id, target, details)
                select $3, 'api_key.revoke', tenant_id, prefix,
                       case when depth > 0 then jsonb_build_object('cascade_from', (select prefix from api_keys where id = $1)) end
                from revoked
            )
            select exists (select 1 from tree), (select count(*) from revoked where depth > 0)
            """, conn, tx) { Parameters = { Sql.P(keyId), Sql.P(tenantId), Sql.P(actor) } };
        bool found;
        long cascaded;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            await reader.ReadAsync(ct);
            found = reader.GetBoolean(0);
            cascaded = reader.GetInt64(1);
        }
        await tx.CommitAsync(ct);
        return found ? cascaded : null;
    }

    /// <summary>
    /// Resolves a presented API key to its tenant, or null: unknown, revoked, or expired (by the
    /// database clock). Served by api_keys_prefix_key.
    /// </summary>
    public async Task<TenantKey?> FindKeyAsync(string presentedKey, CancellationToken ct)
    {
        if (!ApiKeys.TryParse(presentedKey, out var prefix, out var secret)) return null;
        await using var cmd = db.Command("""
            select k.tenant_id, k.secret_hash, k.id, t.rate_limit, t.rate_limit_burst, t.suspended_at is not null, k.last_used_at,
                   extract(epoch from k.expires_at - now())::double precision,
                   t.log_follow_max, k.read_only
            from api_keys k join tenants t on t.id = k.tenant_id
            where k.prefix = $1 and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())
            """, Sql.P(prefix));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        var hash = reader.GetFieldValue<byte[]>(1);
        if (!ApiKeys.Matches(secret, hash)) return null;
        return new TenantKey(reader.GetGuid(0), reader.GetGuid(2), prefix, reader.IsDBNull(3) ? null : reader.GetDouble(3),
            reader.GetInt32OrNull(4), reader.GetBoolean(5), reader.GetTimestampOrNull(6))
        {
            TimeLeft = reader.IsDBNull(7) ? null : TimeSpan.FromSeconds(reader.GetDouble(7)),
            LogFollowMax = reader.GetInt32OrNull(8),
            ReadOnly = reader.GetBoolean(9),
        };
    }

    public async Task<Guid?> AuthenticateAsync(string presentedKey, CancellationToken ct) =>
        (await FindKeyAsync(presentedKey, ct))?.TenantId;

    /// <summary>Records that a key was used; callers throttle this (last_used_at is precise to about a minute).</summary>
    public async Task TouchKeyAsync(Guid keyId, CancellationToken ct)
    {
        await using var cmd = db.Command("update api_keys set last_used_at = now() where id = $1", Sql.P(keyId));
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static string[]? RuntimesOrNull(IReadOnlyList<string>? runtimes) =>
        runtimes is null || runtimes.Count == 0 ? null : runtimes.Distinct().ToArray();

    private static string Details(TenantSettings settings) =>
        JsonSerializer.Serialize(settings, TenantSettingsJson.Default.TenantSettings);
}

using System.Text.Json;

namespace Jobplane.Api;

// Administration and credentials: tenants' limits and state, API keys, worker credentials and the
// audit log. Routes under /tenants, /worker-credentials and /audit need the administrator secret;
// /api-keys is a tenant managing its own keys.

/// <summary>A tenant as the administrator sees it.</summary>
public sealed record TenantView
{
    public required Guid Id { get; init; }
    public required string Name { get; init; }
    /// <summary>Requests per second, shared by every controller replica; null: unlimited.</summary>
    public double? RateLimit { get; init; }
    public int? RateLimitBurst { get; init; }
    /// <summary>Executions running at once across all workers; 0: unlimited.</summary>
    public required int MaxConcurrentExecutions { get; init; }
    /// <summary>Share of scarce workers relative to other tenants with ready work (1..1000).</summary>
    public required int Weight { get; init; }
    /// <summary>Runtimes this tenant's executions may run on; null: any.</summary>
    public IReadOnlyList<string>? AllowedRuntimes { get; init; }
    /// <summary>Whether the tenant's jobs may ask for network access.</summary>
    public bool AllowNetwork { get; init; }
    /// <summary>Days the tenant's finished executions and dead letters are kept; null: the operator's defaults (RETENTION_*).</summary>
    public int? RetentionDays { get; init; }
    /// <summary>Log bytes stored per execution of the tenant; null: the operator's LOG_MAX_BYTES_PER_EXECUTION.</summary>
    public long? LogMaxBytesPerExecution { get; init; }
    /// <summary>Followed log streams the tenant may hold at once on one replica; null: the operator's LOG_FOLLOW_MAX_PER_TENANT.</summary>
    public int? LogFollowMax { get; init; }
    /// <summary>The most of the fleet's slots it may hold while another tenant has ready work (0..1]; null: the operator's FAIR_SHARE_MAX_FRACTION.</summary>
    public double? MaxFleetShare { get; init; }
    public required bool Suspended { get; init; }
    public DateTimeOffset? SuspendedAt { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    /// <summary>Executions of this tenant running now and ready to run now.</summary>
    public int Running { get; init; }
    public int Ready { get; init; }
}

/// <summary>A page; pass NextCursor as cursor for the next page (absent: the last page).</summary>
public sealed record TenantList(IReadOnlyList<TenantView> Tenants, int Limit, int Offset)
{
    public string? NextCursor { get; init; }
}

/// <summary>POST /api-keys and POST /tenants/{id}/api-keys.</summary>
public sealed record CreateApiKeyRequest
{
    public string? Name { get; init; }
    /// <summary>When the key stops working (RFC 3339, in the future by the database clock); at most one of this and ExpiresIn.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }
    /// <summary>Seconds from now (the database's now) until the key stops working.</summary>
    public long? ExpiresIn { get; init; }
    /// <summary>True: the key may read, and change nothing (403 read_only_key on every other route). A key made by a read-only key is read-only.</summary>
    public bool? ReadOnly { get; init; }
}

/// <summary>A key as listed: never its secret.</summary>
public sealed record ApiKeyView(
    Guid Id,
    string Name,
    string Prefix,
    DateTimeOffset CreatedAt,
    DateTimeOffset? LastUsedAt,
    DateTimeOffset? RevokedAt)
{
    /// <summary>When the key stops (or stopped) working; absent for a key that does not expire.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }
    /// <summary>True once ExpiresAt has passed (by the database clock); absent otherwise.</summary>
    public bool? Expired { get; init; }
    /// <summary>The key that created this one; revoking it revokes this one too. Absent for keys the administrator made.</summary>
    public Guid? ParentKeyId { get; init; }
    /// <summary>True for a read-only key; absent otherwise.</summary>
    public bool? ReadOnly { get; init; }
}

/// <summary>The answer to creating a key: the key itself is shown here once and never again.</summary>
public sealed record CreateApiKeyResponse(Guid Id, string Name, string Prefix, string ApiKey, DateTimeOffset CreatedAt)
{
    public DateTimeOffset? ExpiresAt { get; init; }
    public Guid? ParentKeyId { get; init; }
    /// <summary>True for a read-only key; absent otherwise.</summary>
    public bool? ReadOnly { get; init; }
}

/// <summary>A page; pass NextCursor as cursor for the next page (absent: the last page).</summary>
public sealed record ApiKeyList(IReadOnlyList<ApiKeyView> ApiKeys)
{
    public string? NextCursor { get; init; }
}

/// <summary>POST /worker-credentials: a credential for workers, optionally restricted to some tenants.</summary>
public sealed record CreateWorkerCredentialRequest
{
    public string? Name { get; init; }
    /// <summary>The tenants whose executions workers with this credential may claim; null or empty: all.</summary>
    public IReadOnlyList<Guid>? TenantIds { get; init; }
}

public sealed record WorkerCredentialView(
    Guid Id,
    string Name,
    string Prefix,
    IReadOnlyList<Guid>? TenantIds,
    DateTimeOffset CreatedAt,
    DateTimeOffset? LastUsedAt,
    DateTimeOffset? RevokedAt);

/// <summary>The answer to creating a worker credential: the token (WORKER_TOKEN for the worker) is shown once.</summary>
public sealed record CreateWorkerCredentialResponse(Guid Id, string Name, string Prefix, string Token,
    IReadOnlyList<Guid>? TenantIds, DateTimeOffset CreatedAt);

/// <summary>A page; pass NextCursor as cursor for the next page (absent: the last page).</summary>
public sealed record WorkerCredentialList(IReadOnlyList<WorkerCredentialView> WorkerCredentials)
{
    public string? NextCursor { get; init; }
}

/// <summary>One administrative or credential change: who, what, on which tenant, when.</summary>
public sealed record AuditEntry(
    long Id,
    DateTimeOffset At,
    string Actor,
    string Action,
    Guid? TenantId,
    string? Target,
    JsonElement? Details);

/// <summary>Newest first; pass NextBeforeId as before_id for the next page (null: no more).</summary>
public sealed record AuditPage(IReadOnlyList<AuditEntry> Entries, long? NextBeforeId);

/// <summary>POST /jobs/{id}/runs: many executions of one job in one request.</summary>
public sealed record BatchRunRequest
{
    /// <summary>How many executions to create (1..10000).</summary>
    public int? Count { get; init; }
    public DateTimeOffset? ScheduledAt { get; init; }
    public int? Timeout { get; init; }
    public Priority? Priority { get; init; }
}

public sealed record BatchRunResponse(IReadOnlyList<Guid> ExecutionIds, string Status);

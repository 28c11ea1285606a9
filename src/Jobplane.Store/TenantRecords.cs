using System.Text.Json.Serialization;

namespace Jobplane.Store;

/// <summary>
/// A tenant's settings to create it with, or to change (null: leave as it is). Written into the audit
/// log as they were given, under the names the API gives them (<see cref="TenantSettingsJson"/>).
/// </summary>
public sealed record TenantSettings
{
    public string? Name { get; init; }
    /// <summary>Requests per second; on update, 0 removes the limit.</summary>
    public double? RateLimit { get; init; }
    public int? RateLimitBurst { get; init; }
    public int? MaxConcurrentExecutions { get; init; }
    public int? Weight { get; init; }
    /// <summary>An empty list lifts the restriction.</summary>
    public IReadOnlyList<string>? AllowedRuntimes { get; init; }
    public bool? AllowNetwork { get; init; }
    /// <summary>0 returns the tenant to the operator's default; so do the two log settings.</summary>
    public int? RetentionDays { get; init; }
    public long? LogMaxBytesPerExecution { get; init; }
    public int? LogFollowMax { get; init; }
    public double? MaxFleetShare { get; init; }
}

/// <summary>
/// How <see cref="TenantSettings"/> are written into audit_log.details: snake_case names, absent
/// settings left out, as the API spells a tenant request, so the audit log reads the same as the
/// request that made the change.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TenantSettings))]
internal sealed partial class TenantSettingsJson : JsonSerializerContext;

/// <summary>A new tenant and its first API key, the only time the key is shown.</summary>
public sealed record CreatedTenant(Guid TenantId, string Name, string ApiKey);

/// <summary>A tenant as stored, with its running and ready executions counted.</summary>
public sealed record TenantRecord
{
    public required Guid Id { get; init; }
    public required string Name { get; init; }
    public double? RateLimit { get; init; }
    public int? RateLimitBurst { get; init; }
    public required int MaxConcurrentExecutions { get; init; }
    public required int Weight { get; init; }
    /// <summary>Null: any runtime.</summary>
    public IReadOnlyList<string>? AllowedRuntimes { get; init; }
    public required bool AllowNetwork { get; init; }
    /// <summary>Null in each of these: the operator's setting.</summary>
    public int? RetentionDays { get; init; }
    public long? LogMaxBytesPerExecution { get; init; }
    public int? LogFollowMax { get; init; }
    public double? MaxFleetShare { get; init; }
    public DateTimeOffset? SuspendedAt { get; init; }
    public bool Suspended => SuspendedAt is not null;
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    public required int Running { get; init; }
    public required int Ready { get; init; }
}

/// <summary>A new API key, the only time its secret is shown.</summary>
public sealed record CreatedApiKey(Guid Id, string Name, string Prefix, string ApiKey, DateTimeOffset CreatedAt)
{
    public DateTimeOffset? ExpiresAt { get; init; }
    /// <summary>The key that made this one; null for keys the administrator made.</summary>
    public Guid? ParentKeyId { get; init; }
    public bool ReadOnly { get; init; }
}

/// <summary>An API key as listed: never its secret.</summary>
public sealed record ApiKeyRecord(
    Guid Id,
    string Name,
    string Prefix,
    DateTimeOffset CreatedAt,
    DateTimeOffset? LastUsedAt,
    DateTimeOffset? RevokedAt)
{
    public DateTimeOffset? ExpiresAt { get; init; }
    /// <summary>ExpiresAt has passed, by the database clock.</summary>
    public bool Expired { get; init; }
    public Guid? ParentKeyId { get; init; }
    public bool ReadOnly { get; init; }
}

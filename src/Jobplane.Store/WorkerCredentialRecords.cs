namespace Jobplane.Store;

/// <summary>A new worker credential, the only time its token is shown. TenantIds null: every tenant.</summary>
public sealed record CreatedWorkerCredential(Guid Id, string Name, string Prefix, string Token,
    IReadOnlyList<Guid>? TenantIds, DateTimeOffset CreatedAt);

/// <summary>A worker credential as listed: never its secret. TenantIds null: every tenant.</summary>
public sealed record WorkerCredentialRecord(
    Guid Id,
    string Name,
    string Prefix,
    IReadOnlyList<Guid>? TenantIds,
    DateTimeOffset CreatedAt,
    DateTimeOffset? LastUsedAt,
    DateTimeOffset? RevokedAt);

using Npgsql;

namespace Jobplane.Store;

/// <summary>A write that conflicts with existing state (duplicate name, already retried...).</summary>
public sealed class StoreConflictException(string message) : Exception(message);

/// <summary>A job asks for network access, and its tenant is not allowed network: nothing was written.</summary>
public sealed class NetworkNotAllowedException() : Exception(
    "this job asks for network access (network: true), and its tenant is not allowed network: an administrator must allow network for the tenant (allow_network)");

/// <summary>A job runs on the exec runtime (image exec), and its tenant is not allowed exec: nothing was written.</summary>
public sealed class RuntimeNotAllowedException() : Exception(
    "this job runs on the exec runtime (image: exec), and its tenant is not allowed the exec runtime: an administrator must add exec to the tenant's allowed_runtimes");

/// <summary>The outcome of a call made by a worker about an attempt it believes it is running.</summary>
public enum LeaseCheck
{
    Accepted,
    /// <summary>No such execution.</summary>
    NotFound,
    /// <summary>The execution exists but this lease token no longer holds it (expired and rescued, or finished).</summary>
    LeaseLost,
    /// <summary>The lease holds, but the report cannot be stored as sent (a result jsonb refuses): nothing was written.</summary>
    Refused,
}

public static class StoreErrors
{
    /// <summary>
    /// Valid JSON that jsonb still refuses: \u0000, unpaired surrogates, numbers beyond numeric's range.
    /// Job output, so the job's fault rather than the platform's.
    /// </summary>
    public static bool IsUnstorableJson(PostgresException pg) => pg.SqlState is
        PostgresErrorCodes.UntranslatableCharacter or PostgresErrorCodes.InvalidTextRepresentation
        or PostgresErrorCodes.NumericValueOutOfRange;
}

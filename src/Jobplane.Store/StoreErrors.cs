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

    /// <summary>
    /// A value this one statement cannot store, whatever the database's state: text UTF-8 cannot
    /// encode (a lone surrogate: Npgsql refuses it before sending), text PostgreSQL refuses (NUL,
    /// bytes invalid in its encoding), or JSON jsonb refuses. Retrying the same values can never
    /// succeed, so such a write is refused on its own instead of answered as a server fault.
    /// <see cref="Jobplane.Api.StorableText"/> keeps these out; this is the net for what it misses.
    /// </summary>
    public static bool IsUnstorableValue(Exception e) => e switch
    {
        PostgresException pg => IsUnstorableJson(pg) || pg.SqlState is
            // 22021: NUL or bytes invalid in UTF-8; 22001: longer than a bounded column.
            PostgresErrorCodes.CharacterNotInRepertoire or PostgresErrorCodes.StringDataRightTruncation,
        System.Text.EncoderFallbackException or System.Text.DecoderFallbackException => true,
        _ => e.InnerException is { } inner && IsUnstorableValue(inner),
    };

    /// <summary>What a refused value's error says: the problem, without our internals.</summary>
    public static string DescribeUnstorable(Exception e) => e switch
    {
        PostgresException pg when IsUnstorableJson(pg) =>
            $"result cannot be stored as JSONB ({pg.MessageText}): it must not contain \\u0000, unpaired surrogates or numbers beyond PostgreSQL's numeric range",
        PostgresException pg => $"the report has text PostgreSQL cannot store ({pg.MessageText})",
        System.Text.EncoderFallbackException or System.Text.DecoderFallbackException =>
            "the report has text that is not valid Unicode (an unpaired surrogate) and cannot be stored as UTF-8",
        _ when e.InnerException is { } inner => DescribeUnstorable(inner),
        _ => "the report cannot be stored",
    };
}

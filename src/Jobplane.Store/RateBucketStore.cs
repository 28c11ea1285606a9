using Npgsql;

namespace Jobplane.Store;

/// <summary>What one take from a tenant's shared bucket gave: tokens granted, and what is left in the bucket.</summary>
public readonly record struct TokenGrant(int Granted, double Left);

/// <summary>
/// Per-tenant token buckets shared by every controller replica (rate_buckets). A take refills the
/// bucket for the time since the last take (by the database clock), grants up to the tokens asked
/// for, and records the rest, in one statement under the row's lock: however many replicas take
/// concurrently, the grants add up to at most burst + rate × elapsed time.
/// </summary>
public sealed class RateBucketStore(NpgsqlDataSource db)
{
    public async Task<TokenGrant> TakeAsync(Guid tenantId, double rate, int burst, int want, CancellationToken ct)
    {
        // now() is the statement's start; a take that waited for the row lock behind a later one
        // sees refilled_at ahead of its now(): greatest(0, ...) refills nothing rather than a negative amount.
        await using var cmd = db.Command("""
            insert into rate_buckets as b (tenant_id, tokens, refilled_at, last_granted)
            values ($1, $3 - least($4, floor($3)), now(), least($4, floor($3)))
            on conflict (tenant_id) do update set
                last_granted = least($4, floor(least($3, b.tokens + $2 * greatest(0, extract(epoch from now() - b.refilled_at)::float8)))),
                tokens = least($3, b.tokens + $2 * greatest(0, extract(epoch from now() - b.refilled_at)::float8))
                         - least($4, floor(least($3, b.tokens + $2 * greatest(0, extract(epoch from now() - b.refilled_at)::float8)))),
                refilled_at = greatest(b.refilled_at, now())
            returning last_granted, tokens
            """, Sql.P(tenantId), Sql.P(rate), Sql.P((double)burst), Sql.P(want));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new TokenGrant(reader.GetInt32(0), reader.GetDouble(1));
    }
}

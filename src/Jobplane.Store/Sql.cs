using Npgsql;
using NpgsqlTypes;

namespace Jobplane.Store;

/// <summary>Typed positional parameters, so nulls are sent with their type and plans stay stable.</summary>
internal static class Sql
{
    public static NpgsqlParameter P(Guid v) => new NpgsqlParameter<Guid> { TypedValue = v };
    public static NpgsqlParameter P(Guid? v) => Nullable(v, NpgsqlDbType.Uuid);
    public static NpgsqlParameter P(int v) => new NpgsqlParameter<int> { TypedValue = v };
    public static NpgsqlParameter P(int? v) => Nullable(v, NpgsqlDbType.Integer);
    public static NpgsqlParameter P(long v) => new NpgsqlParameter<long> { TypedValue = v };
    public static NpgsqlParameter P(long? v) => Nullable(v, NpgsqlDbType.Bigint);
    public static NpgsqlParameter P(bool v) => new NpgsqlParameter<bool> { TypedValue = v };
    public static NpgsqlParameter P(bool? v) => Nullable(v, NpgsqlDbType.Boolean);
    /// <summary>A text[] that may be null (P(string[]) sends a value always).</summary>
    public static NpgsqlParameter TextArrayOrNull(string[]? v) => Nullable(v, NpgsqlDbType.Array | NpgsqlDbType.Text);
    public static NpgsqlParameter P(double v) => new NpgsqlParameter<double> { TypedValue = v };
    public static NpgsqlParameter P(double? v) => Nullable(v, NpgsqlDbType.Double);
    public static NpgsqlParameter P(string? v) => Nullable(v, NpgsqlDbType.Text);
    public static NpgsqlParameter P(byte[] v) => new NpgsqlParameter<byte[]> { TypedValue = v };
    public static NpgsqlParameter BytesOrNull(byte[]? v) => Nullable(v, NpgsqlDbType.Bytea);
    public static NpgsqlParameter P(DateTimeOffset? v) => Nullable(v?.UtcDateTime, NpgsqlDbType.TimestampTz);
    public static NpgsqlParameter P(string[] v) => new NpgsqlParameter<string[]> { TypedValue = v };
    public static NpgsqlParameter P(int[] v) => new NpgsqlParameter<int[]> { TypedValue = v };
    public static NpgsqlParameter P(bool[] v) => new NpgsqlParameter<bool[]> { TypedValue = v };
    public static NpgsqlParameter P(Guid[]? v) => Nullable(v, NpgsqlDbType.Array | NpgsqlDbType.Uuid);
    /// <summary>One column of a set-based statement (unnest), elements possibly null.</summary>
    public static NpgsqlParameter Column<T>(List<T> v) => new NpgsqlParameter<T[]> { TypedValue = [.. v] };
    public static NpgsqlParameter Json(string? v) => Nullable(v, NpgsqlDbType.Jsonb);

    private static NpgsqlParameter Nullable(object? v, NpgsqlDbType type) =>
        new() { Value = v ?? DBNull.Value, NpgsqlDbType = type };

    public static NpgsqlCommand Command(this NpgsqlDataSource db, string sql, params NpgsqlParameter[] ps)
    {
        var cmd = db.CreateCommand(sql);
        cmd.Parameters.AddRange(ps);
        return cmd;
    }

    public static NpgsqlCommand Command(this NpgsqlConnection conn, string sql, NpgsqlTransaction? tx, params NpgsqlParameter[] ps)
    {
        var cmd = new NpgsqlCommand(sql, conn, tx);
        cmd.Parameters.AddRange(ps);
        return cmd;
    }

    /// <summary>
    /// For the rest of the transaction: one plan per prepared statement, made once per connection,
    /// instead of PostgreSQL's own choice (<see cref="StoreDataSource"/>). For statements whose best
    /// plan does not depend on their parameters (rows found by primary key from arrays), planning each
    /// call is pure cost.
    /// </summary>
    public const string GenericPlans = "set local plan_cache_mode = force_generic_plan";

    /// <summary>
    /// For the rest of the transaction: every call planned for its own parameters. For the claim,
    /// whose best plan depends on the batch size and on which tenants have work: PostgreSQL's own
    /// choice may switch a prepared statement to its generic plan after five calls, and the claim's
    /// generic plan reads ready_queue in proportion to the backlog (bench/RESULTS.md).
    /// </summary>
    public const string CustomPlans = "set local plan_cache_mode = force_custom_plan";

    /// <summary>
    /// Moves a batch's reader to the next result that has columns: past commands such as
    /// <see cref="CustomPlans"/> that return none.
    /// </summary>
    public static async Task NextRowsAsync(NpgsqlDataReader reader, CancellationToken ct)
    {
        while (await reader.NextResultAsync(ct) && reader.FieldCount == 0) { }
    }

    public static NpgsqlBatchCommand BatchCommand(string sql, params NpgsqlParameter[] ps)
    {
        var cmd = new NpgsqlBatchCommand(sql);
        cmd.Parameters.AddRange(ps);
        return cmd;
    }

    public static DateTimeOffset GetTimestamp(this NpgsqlDataReader r, int i) =>
        new(DateTime.SpecifyKind(r.GetDateTime(i), DateTimeKind.Utc));

    public static DateTimeOffset? GetTimestampOrNull(this NpgsqlDataReader r, int i) =>
        r.IsDBNull(i) ? null : r.GetTimestamp(i);

    public static int? GetInt32OrNull(this NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetInt32(i);

    public static string? GetStringOrNull(this NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
}

using Npgsql;

namespace Jobplane.Store;

/// <summary>
/// A position in a list ordered by (timestamp, id): the sort key of the last row a client saw.
/// Lists resume strictly after it (keyset paging), so rows inserted while a client pages never
/// shift the rows it has not seen yet, and each deeper page costs what the first one does.
/// </summary>
public sealed record PagePosition(DateTimeOffset At, Guid Id);

/// <summary>What a list request asks for: at most <paramref name="Limit"/> rows, after a position or after skipping rows.</summary>
public sealed record PageRequest(int Limit, int Offset = 0, PagePosition? After = null);

/// <summary>One page of rows, and whether more rows follow it.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, bool More);

internal static class Paging
{
    /// <summary>
    /// The keyset condition of a list ordered by (<paramref name="at"/>, <paramref name="id"/>):
    /// rows strictly after the request's position, in the list's direction. Adds the position's two
    /// parameters to <paramref name="ps"/> and names them by their place there; "true" when the
    /// request starts at the beginning. One row comparison, so the list's index serves it as a range.
    /// </summary>
    public static string After(PageRequest page, List<NpgsqlParameter> ps, string at, string id, bool newestFirst)
    {
        if (page.After is not { } position) return "true";
        ps.Add(Sql.P((DateTimeOffset?)position.At));
        ps.Add(Sql.P(position.Id));
        return $"({at}, {id}) {(newestFirst ? "<" : ">")} (${ps.Count - 1}, ${ps.Count})";
    }

    /// <summary>
    /// Reads up to <paramref name="limit"/> rows from a command that asked for one more: the extra
    /// row only tells that another page exists and is not returned.
    /// </summary>
    public static async Task<Page<T>> ReadAsync<T>(NpgsqlCommand cmd, int limit, Func<NpgsqlDataReader, T> read, CancellationToken ct)
    {
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<T>(Math.Min(limit, 256));
        var more = false;
        while (await reader.ReadAsync(ct))
        {
            if (list.Count == limit)
            {
                more = true;
                break;
            }
            list.Add(read(reader));
        }
        return new Page<T>(list, more);
    }
}

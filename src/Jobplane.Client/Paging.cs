using System.Runtime.CompilerServices;
using Jobplane.Api;

namespace Jobplane.Client;

/// <summary>
/// Cursor iteration over the API's paged lists: every item of every page, fetched a page at a time.
/// Lists with a body say where the next page starts in <c>next_cursor</c>; the dead-letter list is a
/// bare array and says it in the X-Next-Cursor header (<see cref="ApiResponse{T}.NextCursor"/>).
/// </summary>
public static class Paging
{
    /// <summary>Every item, following the cursor each page names until a page names none.</summary>
    /// <param name="fetch">One page, given the cursor to start at (null: the first page).</param>
    /// <param name="items">The page's items.</param>
    /// <param name="next">The cursor of the page after this one; null on the last page.</param>
    public static async IAsyncEnumerable<TItem> AllAsync<TPage, TItem>(
        Func<string?, CancellationToken, Task<ApiResponse<TPage>>> fetch,
        Func<TPage, IEnumerable<TItem>> items,
        Func<ApiResponse<TPage>, string?> next,
        [EnumeratorCancellation] CancellationToken ct = default)
    {
        string? cursor = null;
        while (true)
        {
            var page = await fetch(cursor, ct);
            foreach (var item in items(page.Value))
                yield return item;
            var following = next(page);
            // A page that names itself as the next one would repeat forever.
            if (following is null || following == cursor)
                yield break;
            cursor = following;
        }
    }

    /// <summary>Every job of the tenant, newest first.</summary>
    public static IAsyncEnumerable<JobView> AllJobsAsync(this JobplaneClient client, int? limit = null, CancellationToken ct = default) =>
        AllAsync((cursor, c) => client.ListJobsAsync(limit, null, cursor, c), page => page.Jobs, page => page.Value.NextCursor, ct);

    /// <summary>Every execution of the tenant (optionally of one status or one job), newest first.</summary>
    public static IAsyncEnumerable<ExecutionView> AllExecutionsAsync(this JobplaneClient client, string? status = null, Guid? jobId = null,
        int? limit = null, CancellationToken ct = default) =>
        AllAsync((cursor, c) => client.ListExecutionsAsync(status, jobId, limit, null, cursor, c), page => page.Executions,
            page => page.Value.NextCursor, ct);

    /// <summary>Every dead letter of the tenant, newest first (the cursor comes in a header).</summary>
    public static IAsyncEnumerable<DlqEntry> AllDeadLettersAsync(this JobplaneClient client, int? limit = null, CancellationToken ct = default) =>
        AllAsync((cursor, c) => client.ListDlqAsync(limit, null, cursor, c), page => page, page => page.NextCursor, ct);

    /// <summary>Every tenant (administrator).</summary>
    public static IAsyncEnumerable<TenantView> AllTenantsAsync(this JobplaneClient client, int? limit = null, CancellationToken ct = default) =>
        AllAsync((cursor, c) => client.ListTenantsAsync(limit, null, cursor, c), page => page.Tenants, page => page.Value.NextCursor, ct);
}

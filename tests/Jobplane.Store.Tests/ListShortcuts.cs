using Jobplane.Api;
using Jobplane.Store;

namespace Jobplane.Store.Tests;

/// <summary>
/// Whole pages as plain lists, for assertions. The stores answer only bounded pages (a limit, a
/// position, whether more follow); these shortcuts read one page and keep its rows.
/// </summary>
internal static class ListShortcuts
{
    public static async Task<IReadOnlyList<ExecutionRecord>> ListAsync(
        this ExecutionStore store, Guid tenantId, string? status, Guid? jobId, int limit, int offset, CancellationToken ct) =>
        (await store.ListPageAsync(tenantId, status, jobId, new PageRequest(limit, offset), ct)).Items;

    public static async Task<IReadOnlyList<DeadLetterRecord>> ListDeadLettersAsync(
        this ExecutionStore store, Guid tenantId, int limit, int offset, CancellationToken ct) =>
        (await store.ListDeadLettersPageAsync(tenantId, new PageRequest(limit, offset), ct)).Items;

    /// <summary>Commands in full: no cut applies.</summary>
    public static async Task<IReadOnlyList<JobRecord>> ListAsync(this JobStore store, Guid tenantId, int limit, int offset, CancellationToken ct) =>
        (await store.ListPageAsync(tenantId, new PageRequest(limit, offset), int.MaxValue, ct)).Items;

    /// <summary>The tenant's first 100 keys (tests make a handful).</summary>
    public static async Task<IReadOnlyList<ApiKeyRecord>> ListKeysAsync(this TenantStore store, Guid tenantId, CancellationToken ct) =>
        (await store.ListKeysPageAsync(tenantId, new PageRequest(100), ct)).Items;

    /// <summary>The first 1,000 credentials (the test database is shared by the tests that make them).</summary>
    public static async Task<IReadOnlyList<WorkerCredentialRecord>> ListAsync(this WorkerCredentialStore store, CancellationToken ct) =>
        (await store.ListPageAsync(new PageRequest(1000), ct)).Items;
}

using Jobplane.Api;

namespace Jobplane.Store;

/// <summary>The answer to a log append: whether the lease held, bytes stored of this batch, and whether the execution's log is now full (cut at its cap).</summary>
public sealed record LogAppend(LeaseCheck Check, long StoredBytes, bool LogFull);

/// <summary>
/// The cap on an execution's stored log: the operator's <paramref name="OperatorBytes"/>, unless the
/// execution's tenant has its own (tenants.log_max_bytes_per_execution). Each has its marker line, the
/// last line of a cut log; in <paramref name="TenantMarker"/>, <see cref="LimitPlaceholder"/> stands
/// for the tenant's limit, written as <see cref="ByteSizes.Format"/> writes it.
/// </summary>
public sealed record LogCap(long OperatorBytes, string OperatorMarker, string TenantMarker)
{
    public const string LimitPlaceholder = "{limit}";

    /// <summary>No operator cap (a tenant's own still applies), no markers: tests of other things.</summary>
    public static readonly LogCap None = new(long.MaxValue, "", "");

    /// <summary>
    /// <see cref="ByteSizes.Format"/> in SQL, of the bigint expression <paramref name="bytes"/>: the
    /// marker is written by the statement that finds the tenant's limit, so it is formatted there.
    /// </summary>
    public static string FormatSizeSql(string bytes) => $"""
        case when {bytes} % 1073741824 = 0 then ({bytes} / 1073741824)::text || ' GiB'
             when {bytes} % 1048576 = 0 then ({bytes} / 1048576)::text || ' MiB'
             when {bytes} % 1024 = 0 then ({bytes} / 1024)::text || ' KiB'
             else {bytes}::text || ' bytes' end
        """;
}

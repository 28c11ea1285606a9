using System.Text.Json;

namespace Jobplane.Store;

/// <summary>One audit log row: who changed what, on which tenant, when, and the change's details (JSON).</summary>
public sealed record AuditRecord(
    long Id,
    DateTimeOffset At,
    string Actor,
    string Action,
    Guid? TenantId,
    string? Target,
    JsonElement? Details);

/// <summary>Audit records newest first; NextBeforeId is the before id of the next page (null: no more).</summary>
public sealed record AuditRecordPage(IReadOnlyList<AuditRecord> Entries, long? NextBeforeId);

/// <summary>
/// The audit record a bulk change writes about itself, in the statement that makes the change: who,
/// what (e.g. dashboard.dlq_retry), and the filter it acted on (a JSON object); the statement adds
/// the number of rows it changed as "count".
/// </summary>
public sealed record BulkAudit(string Actor, string Action, string FilterJson);

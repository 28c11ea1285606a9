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

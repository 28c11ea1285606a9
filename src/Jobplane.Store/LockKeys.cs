namespace Jobplane.Store;

/// <summary>
/// Every advisory lock key the store takes, in one place, so two concerns can never pick the same
/// number by accident. Two-part keys (key1, key2) and one-part keys (a bigint) live in separate
/// spaces in PostgreSQL, so <see cref="Queue"/> and <see cref="Migrations"/> cannot collide.
/// </summary>
public static class LockKeys
{
    /// <summary>
    /// The queue's key1. (Queue, <see cref="ClaimSlot"/>) serialises claims across replicas;
    /// (Queue, hashtext(tenant id)) is a tenant's ready-work lock, taken shared by the trigger that
    /// marks a tenant active (migration 0003, which spells the number out: a test checks it) and
    /// exclusively when an idle tenant is deactivated.
    /// </summary>
    public const int Queue = 1785;

    /// <summary>The claim lock's key2 under <see cref="Queue"/>.</summary>
    public const int ClaimSlot = 0;

    /// <summary>The session lock concurrent migrators serialise on ("jobplan" in ASCII).</summary>
    public const long Migrations = 0x6a6f62706c616e;
}

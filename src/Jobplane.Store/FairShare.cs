namespace Jobplane.Store;

/// <summary>
/// Splits a claim of N executions between tenants with ready work (stride scheduling): each slot
/// goes to the tenant whose virtual time after receiving it would be lowest, where a tenant's
/// virtual time is the service it has had divided by its weight. Tenants with equal weights take
/// turns; a tenant of weight 3 gets three slots for every one of a tenant of weight 1; a tenant
/// that flooded the queue gets no more than its share while others have ready work.
/// <para>Stride alone acts only on what each claim hands out: a tenant that already holds every
/// slot of the fleet still wins its turns on the slots that free up. So a tenant also has a share
/// cap, a number of the fleet's slots: while another candidate of the claim has ready work, the
/// claim gives a tenant new slots only while its running executions are below that cap. What is
/// left once every tenant with work is at its cap (or out of work) is handed out by stride as
/// before, ignoring the caps: a slot is never left idle while ready work fits it.</para>
/// </summary>
public static class FairShare
{
    /// <summary>The operator's default fraction of the fleet's slots one tenant may hold while others wait (FAIR_SHARE_MAX_FRACTION).</summary>
    public const double DefaultMaxFleetShare = 0.5;

    /// <summary>A tenant the claim may serve: its virtual time, weight, and how many it can take at most.</summary>
    public readonly record struct Candidate(Guid TenantId, double VirtualTime, int Weight, int Available)
    {
        /// <summary>The most of the fleet's slots it may hold while another candidate has ready work; null: no cap.</summary>
        public int? ShareCap { get; init; }
        /// <summary>Its executions running now (read only when it has a share cap; counting past ShareCap changes nothing).</summary>
        public int Running { get; init; }
    }

    /// <summary>
    /// A tenant's share cap: max(1, floor(<paramref name="fraction"/> x <paramref name="fleetSlots"/>));
    /// null (no cap) when the fraction is 1 or no worker announced its slots. The 1e-9 keeps a product
    /// such as 0.29 x 100 = 28.999999999999996 from losing a slot.
    /// </summary>
    public static int? ShareCap(double fraction, long fleetSlots) =>
        !(fraction < 1) || fleetSlots <= 0 ? null : (int)Math.Clamp(Math.Floor(fraction * fleetSlots + 1e-9), 1, int.MaxValue - 1);

    /// <summary>How many of <paramref name="slots"/> each candidate gets (same order as given).</summary>
    public static int[] Allocate(IReadOnlyList<Candidate> candidates, int slots)
    {
        var shares = new int[candidates.Count];
        // Pass 1, only when tenants compete: nobody past its share cap. With a single tenant the cap
        // could only move slots to pass 2, which gives them to that same tenant.
        if (candidates.Count(c => c.Available > 0) >= 2 && candidates.Any(c => c.ShareCap is not null))
            slots = Fill(candidates, shares, slots, UpToShareCap);
        // Pass 2: what is left goes by stride alone, continuing from what pass 1 gave.
        Fill(candidates, shares, slots, c => c.Available);
        return shares;
    }

    private static int UpToShareCap(Candidate c) =>
        c.ShareCap is { } cap ? Math.Min(c.Available, Math.Max(0, cap - c.Running)) : c.Available;

    /// <summary>Hands out slots by stride until each candidate has its limit or none are left; returns the slots left.</summary>
    private static int Fill(IReadOnlyList<Candidate> candidates, int[] shares, int slots, Func<Candidate, int> limit)
    {
        // Min-heap on the virtual time a tenant would reach with one more slot; ties by tenant id,
        // so the split does not depend on the order candidates were listed in.
        var heap = new PriorityQueue<int, (double, Guid)>();
        for (var i = 0; i < candidates.Count; i++)
        {
            if (shares[i] < limit(candidates[i])) heap.Enqueue(i, (Next(candidates[i], shares[i]), candidates[i].TenantId));
        }
        while (slots > 0 && heap.TryDequeue(out var i, out _))
        {
            shares[i]++;
            slots--;
            if (shares[i] < limit(candidates[i])) heap.Enqueue(i, (Next(candidates[i], shares[i]), candidates[i].TenantId));
        }
        return slots;
    }

    private static double Next(Candidate c, int given) => c.VirtualTime + (given + 1.0) / c.Weight;
}

namespace Jobplane.Store;

/// <summary>
/// Splits a claim of N executions between tenants with ready work (stride scheduling): each slot
/// goes to the tenant whose virtual time after receiving it would be lowest, where a tenant's
/// virtual time is the service it has had divided by its weight. Tenants with equal weights take
/// turns; a tenant of weight 3 gets three slots for every one of a tenant of weight 1; a tenant
/// that flooded the queue gets no more than its share while others have ready work.
/// </summary>
public static class FairShare
{
    /// <summary>A tenant the claim may serve: its virtual time, weight, and how many it can take at most.</summary>
    public readonly record struct Candidate(Guid TenantId, double VirtualTime, int Weight, int Available);

    /// <summary>How many of <paramref name="slots"/> each candidate gets (same order as given).</summary>
    public static int[] Allocate(IReadOnlyList<Candidate> candidates, int slots)
    {
        var shares = new int[candidates.Count];
        // Min-heap on the virtual time a tenant would reach with one more slot; ties by tenant id,
        // so the split does not depend on the order candidates were listed in.
        var heap = new PriorityQueue<int, (double, Guid)>();
        for (var i = 0; i < candidates.Count; i++)
        {
            if (candidates[i].Available > 0) heap.Enqueue(i, (Next(candidates[i], 0), candidates[i].TenantId));
        }
        while (slots > 0 && heap.TryDequeue(out var i, out _))
        {
            shares[i]++;
            slots--;
            if (shares[i] < candidates[i].Available) heap.Enqueue(i, (Next(candidates[i], shares[i]), candidates[i].TenantId));
        }
        return shares;
    }

    private static double Next(Candidate c, int given) => c.VirtualTime + (given + 1.0) / c.Weight;
}

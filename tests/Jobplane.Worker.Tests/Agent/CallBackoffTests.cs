namespace Jobplane.Worker.Tests.Agent;

public sealed class CallBackoffTests
{
    [Fact]
    public void Waits_grow_with_jitter_and_never_leave_the_first_delay_to_cap_range()
    {
        var first = TimeSpan.FromMilliseconds(200);
        var cap = TimeSpan.FromSeconds(10);
        var backoff = new CallBackoff(first, cap, new Random(1234));
        var waits = Enumerable.Range(0, 200).Select(_ => backoff.Next()).ToList();
        Assert.All(waits, w => Assert.InRange(w, first, cap));
        Assert.True(waits.Distinct().Count() > 100, "no jitter");
        Assert.Contains(waits, w => w > TimeSpan.FromSeconds(5)); // it does grow towards the cap
        // Each wait is at most three times the previous one: no sudden jump to the cap.
        for (var i = 1; i < waits.Count; i++) Assert.True(waits[i] <= waits[i - 1] * 3 + first, $"wait {i}: {waits[i]} after {waits[i - 1]}");
    }
}

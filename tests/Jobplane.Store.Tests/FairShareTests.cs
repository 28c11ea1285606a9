using Jobplane.Store;

namespace Jobplane.Store.Tests;

/// <summary>
/// The split of one claim (<see cref="FairShare.Allocate"/>), pure: stride by virtual time and
/// weight, and the share cap, which holds a tenant back only while another has work, and never
/// leaves a slot idle that some tenant's work could take.
/// </summary>
public sealed class FairShareTests
{
    private static readonly FairShare.Candidate A = new(new Guid("00000000-0000-0000-0000-00000000000a"), 0, 1, 100);
    private static readonly FairShare.Candidate B = new(new Guid("00000000-0000-0000-0000-00000000000b"), 0, 1, 100);

    [Fact]
    public void The_share_cap_is_the_fraction_of_the_fleets_slots_rounded_down_but_at_least_one()
    {
        Assert.Equal(5, FairShare.ShareCap(0.5, 10));
        Assert.Equal(29, FairShare.ShareCap(0.29, 100)); // 0.29 x 100 is 28.999999999999996 in binary
        Assert.Equal(3, FairShare.ShareCap(0.3, 11));
        Assert.Equal(1, FairShare.ShareCap(0.01, 10));
        // No cap: a fraction of 1, no announced slots, or no usable fraction.
        Assert.Null(FairShare.ShareCap(1, 10));
        Assert.Null(FairShare.ShareCap(0.5, 0));
        Assert.Null(FairShare.ShareCap(double.NaN, 10));
    }

    [Fact]
    public void A_tenant_at_or_over_its_share_cap_gets_nothing_while_another_has_work()
    {
        // A holds all 10 slots of the fleet (cap 5); B has work: every freed slot goes to B.
        Assert.Equal([0, 3], FairShare.Allocate([A with { ShareCap = 5, Running = 10 }, B with { ShareCap = 5 }], 3));
        // At its cap exactly: still nothing new.
        Assert.Equal([0, 2], FairShare.Allocate([A with { ShareCap = 5, Running = 5 }, B with { ShareCap = 5, Running = 3 }], 2));
        // Below it: only up to it, however far ahead in virtual time B is.
        Assert.Equal([2, 4], FairShare.Allocate([A with { ShareCap = 5, Running = 3 }, B with { ShareCap = 5, VirtualTime = 50 }], 6));
    }

    [Fact]
    public void Slots_left_once_others_are_out_of_work_go_to_the_tenant_over_its_cap()
    {
        // B has 2 ready: it gets them, and A, over its cap, the rest rather than leaving them idle.
        Assert.Equal([3, 2], FairShare.Allocate([A with { ShareCap = 5, Running = 10 }, B with { ShareCap = 5, Available = 2 }], 5));
        // Alone, or the only one with work: the cap does not apply at all.
        Assert.Equal([4], FairShare.Allocate([A with { ShareCap = 5, Running = 10 }], 4));
        Assert.Equal([4, 0], FairShare.Allocate([A with { ShareCap = 5, Running = 10 }, B with { ShareCap = 5, Available = 0 }], 4));
    }

    [Fact]
    public void When_every_tenant_with_work_is_at_its_cap_the_leftover_is_split_by_stride()
    {
        Assert.Equal([2, 2], FairShare.Allocate([A with { ShareCap = 2, Running = 2 }, B with { ShareCap = 2, Running = 2 }], 4));
        // Pass 1 fills both to their caps (2 each), pass 2 continues the turns from there.
        Assert.Equal([5, 5], FairShare.Allocate([A with { ShareCap = 2 }, B with { ShareCap = 2 }], 10));
        // A tenant behind in virtual time catches up in the leftover too.
        Assert.Equal([3, 1], FairShare.Allocate([A with { ShareCap = 2, Running = 2, VirtualTime = -2 }, B with { ShareCap = 2, Running = 2 }], 4));
    }

    [Fact]
    public void Weights_still_set_the_shares_below_the_cap_and_the_cap_bounds_a_heavy_tenant()
    {
        // Far below the caps: 3:1 as without them.
        Assert.Equal([9, 3], FairShare.Allocate([A with { Weight = 3, ShareCap = 100 }, B with { ShareCap = 100 }], 12));
        // The heavy tenant reaches its cap first; the light one takes the slots it cannot.
        Assert.Equal([5, 3], FairShare.Allocate([A with { Weight = 3, ShareCap = 5 }, B with { ShareCap = 5 }], 8));
        // And once both are at their caps, the leftover goes 3:1 again.
        Assert.Equal([6, 2], FairShare.Allocate([A with { Weight = 3, ShareCap = 2, Running = 2 }, B with { ShareCap = 2, Running = 2 }], 8));
    }

    [Fact]
    public void A_tenant_without_a_cap_takes_its_turns_beside_capped_ones()
    {
        // A's max_fleet_share of 1 (no cap), however much it runs; B at its cap.
        Assert.Equal([4, 0], FairShare.Allocate([A with { Running = 100 }, B with { ShareCap = 5, Running = 5 }], 4));
        // Without caps at all, the turns are what they always were: B, just arrived, gets half.
        Assert.Equal([2, 2], FairShare.Allocate([A with { Running = 10 }, B], 4));
    }
}

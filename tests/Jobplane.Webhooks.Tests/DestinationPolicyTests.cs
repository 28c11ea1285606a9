using System.Net;

namespace Jobplane.Webhooks.Tests;

public sealed class DestinationPolicyTests
{
    // Every refused range, by an address inside it, and the reason a tenant or operator is shown.
    [Theory]
    [InlineData("0.0.0.0", "0.0.0.0 is 'this network' (unspecified), in 0.0.0.0/8")]
    [InlineData("0.1.2.3", "0.1.2.3 is 'this network' (unspecified), in 0.0.0.0/8")]
    [InlineData("127.0.0.1", "127.0.0.1 is loopback, in 127.0.0.0/8")]
    [InlineData("127.255.0.9", "127.255.0.9 is loopback, in 127.0.0.0/8")]
    [InlineData("10.0.0.1", "10.0.0.1 is private, in 10.0.0.0/8")]
    [InlineData("172.16.0.1", "172.16.0.1 is private, in 172.16.0.0/12")]
    [InlineData("172.31.255.254", "172.31.255.254 is private, in 172.16.0.0/12")]
    [InlineData("192.168.1.1", "192.168.1.1 is private, in 192.168.0.0/16")]
    [InlineData("100.64.0.1", "100.64.0.1 is shared address space (CGNAT), in 100.64.0.0/10")]
    [InlineData("100.127.255.255", "100.127.255.255 is shared address space (CGNAT), in 100.64.0.0/10")]
    [InlineData("169.254.169.254", "169.254.169.254 is link-local (cloud metadata), in 169.254.0.0/16")]
    [InlineData("192.0.0.8", "192.0.0.8 is IETF protocol assignments, in 192.0.0.0/24")]
    [InlineData("192.0.2.10", "192.0.2.10 is documentation (TEST-NET-1), in 192.0.2.0/24")]
    [InlineData("198.18.0.1", "198.18.0.1 is benchmarking, in 198.18.0.0/15")]
    [InlineData("198.19.255.1", "198.19.255.1 is benchmarking, in 198.18.0.0/15")]
    [InlineData("198.51.100.7", "198.51.100.7 is documentation (TEST-NET-2), in 198.51.100.0/24")]
    [InlineData("203.0.113.7", "203.0.113.7 is documentation (TEST-NET-3), in 203.0.113.0/24")]
    [InlineData("224.0.0.251", "224.0.0.251 is multicast, in 224.0.0.0/4")]
    [InlineData("239.255.255.250", "239.255.255.250 is multicast, in 224.0.0.0/4")]
    [InlineData("240.0.0.1", "240.0.0.1 is reserved, in 240.0.0.0/4")]
    [InlineData("255.255.255.255", "255.255.255.255 is broadcast, in 255.255.255.255/32")]
    [InlineData("::", ":: is unspecified, in ::/128")]
    [InlineData("::1", "::1 is loopback, in ::1/128")]
    [InlineData("fe80::1", "fe80::1 is link-local, in fe80::/10")]
    [InlineData("febf::1", "febf::1 is link-local, in fe80::/10")]
    [InlineData("fec0::1", "fec0::1 is site-local (deprecated), in fec0::/10")]
    [InlineData("fc00::1", "fc00::1 is unique local (private), in fc00::/7")]
    [InlineData("fd12:3456::1", "fd12:3456::1 is unique local (private), in fc00::/7")]
    [InlineData("ff02::1", "ff02::1 is multicast, in ff00::/8")]
    [InlineData("100::1", "100::1 is discard-only, in 100::/64")]
    [InlineData("2001:db8::1", "2001:db8::1 is documentation, in 2001:db8::/32")]
    [InlineData("2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:4136:e378:8000:63bf:3fff:fdd2 is Teredo, in 2001::/32")]
    [InlineData("64:ff9b:1::a00:1", "64:ff9b:1::a00:1 is local-use NAT64, in 64:ff9b:1::/48")]
    public void Every_internal_range_is_refused_with_its_name(string address, string reason)
    {
        var decision = DestinationPolicy.Default.Check(IPAddress.Parse(address));
        Assert.Equal(DestinationDecision.Refused(reason), decision);
    }

    // IPv6 spellings of an IPv4 address: judged by the IPv4 address they lead to.
    [Theory]
    [InlineData("::ffff:127.0.0.1", "127.0.0.1 (IPv4-mapped", "127.0.0.1 is loopback")]
    [InlineData("::ffff:169.254.169.254", "169.254.169.254 (IPv4-mapped", "169.254.169.254 is link-local (cloud metadata)")]
    [InlineData("::ffff:10.1.2.3", "10.1.2.3 (IPv4-mapped", "10.1.2.3 is private")]
    [InlineData("64:ff9b::a9fe:a9fe", "169.254.169.254 (NAT64", "169.254.169.254 is link-local (cloud metadata)")]
    [InlineData("64:ff9b::7f00:1", "127.0.0.1 (NAT64", "127.0.0.1 is loopback")]
    [InlineData("2002:7f00:1::", "127.0.0.1 (6to4", "127.0.0.1 is loopback")]
    [InlineData("2002:a9fe:a9fe::1", "169.254.169.254 (6to4", "169.254.169.254 is link-local (cloud metadata)")]
    [InlineData("::127.0.0.1", "127.0.0.1 (IPv4-compatible", "127.0.0.1 is loopback")]
    [InlineData("::a00:1", "10.0.0.1 (IPv4-compatible", "10.0.0.1 is private")]
    public void An_ipv6_form_carrying_an_internal_ipv4_address_is_refused_for_that_address(string address, string carries, string reason)
    {
        var decision = DestinationPolicy.Default.Check(IPAddress.Parse(address));

        Assert.False(decision.IsAllowed);
        Assert.StartsWith($"{IPAddress.Parse(address)} carries {carries}", decision.Reason, StringComparison.Ordinal);
        Assert.Contains(reason, decision.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("1.1.1.1")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("172.32.0.1")]
    [InlineData("100.128.0.1")]
    [InlineData("169.255.0.1")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::808:808")]
    [InlineData("2002:808:808::1")]
    public void Public_addresses_are_allowed(string address)
    {
        Assert.Equal(DestinationDecision.Allowed, DestinationPolicy.Default.Check(IPAddress.Parse(address)));
    }

    [Fact]
    public void The_allow_list_lets_exactly_its_ranges_through()
    {
        var policy = DestinationPolicy.FromAllowList(["127.0.0.1/32", "10.1.0.0/16", "::1/128"]);

        Assert.True(policy.Check(IPAddress.Parse("127.0.0.1")).IsAllowed);
        Assert.Equal("127.0.0.2 is loopback, in 127.0.0.0/8", policy.Check(IPAddress.Parse("127.0.0.2")).Reason);
        Assert.True(policy.Check(IPAddress.Parse("10.1.200.3")).IsAllowed);
        Assert.False(policy.Check(IPAddress.Parse("10.2.0.1")).IsAllowed);
        Assert.True(policy.Check(IPAddress.Parse("::1")).IsAllowed);
        // The mapped form is the same IPv4 destination to the socket, so it follows the IPv4 entry.
        Assert.True(policy.Check(IPAddress.Parse("::ffff:127.0.0.1")).IsAllowed);
        Assert.False(policy.Check(IPAddress.Parse("::ffff:127.0.0.2")).IsAllowed);
        Assert.False(policy.Check(IPAddress.Parse("169.254.169.254")).IsAllowed);
    }

    [Fact]
    public void The_allow_list_reads_from_one_comma_or_space_separated_setting()
    {
        var policy = DestinationPolicy.FromAllowList(" 10.1.0.0/16, 127.0.0.1/32  ::1/128 ");

        Assert.Equal(["10.1.0.0/16", "127.0.0.1/32", "::1/128"], policy.AllowList.Select(r => r.ToString()));
        Assert.Empty(DestinationPolicy.FromAllowList((string?)null).AllowList);
        Assert.Empty(DestinationPolicy.FromAllowList("  ").AllowList);
    }

    [Fact]
    public void Every_bad_allow_list_entry_is_named_in_one_error()
    {
        var error = Assert.Throws<FormatException>(() => DestinationPolicy.FromAllowList(
            ["10.1.0.0/16", "127.0.0.1", "10.1.2.3/16", "10.0.0.0/33", "example.com/24", "127.1/32", "::1/abc"]));

        Assert.Contains("\"127.0.0.1\" has no prefix length", error.Message, StringComparison.Ordinal);
        Assert.Contains("\"10.1.2.3/16\" has address bits set past the /16 prefix (did you mean 10.1.0.0/16?)", error.Message, StringComparison.Ordinal);
        Assert.Contains("\"10.0.0.0/33\" has a prefix length that is not a whole number from 0 to 32", error.Message, StringComparison.Ordinal);
        Assert.Contains("\"example.com/24\" does not start with an IPv4 or IPv6 address", error.Message, StringComparison.Ordinal);
        Assert.Contains("\"127.1/32\" does not start with an IPv4 or IPv6 address", error.Message, StringComparison.Ordinal);
        Assert.Contains("\"::1/abc\" has a prefix length that is not a whole number from 0 to 128", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("10.1.0.0/16\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_name_resolving_to_loopback_is_refused_and_says_what_it_resolved_to()
    {
        var resolution = await DestinationPolicy.Default.ResolveAndCheckAsync("localhost");

        Assert.False(resolution.IsAllowed);
        Assert.StartsWith("localhost: ", resolution.Reason, StringComparison.Ordinal);
        Assert.Contains("loopback", resolution.Reason, StringComparison.Ordinal);
        Assert.NotEmpty(resolution.Addresses);
    }

    [Fact]
    public async Task An_ip_literal_is_judged_without_asking_dns()
    {
        var metadata = await DestinationPolicy.Default.ResolveAndCheckAsync("169.254.169.254");
        var bracketed = await DestinationPolicy.Default.ResolveAndCheckAsync("[::1]");
        var published = await DestinationPolicy.Default.ResolveAndCheckAsync("8.8.8.8");

        Assert.Equal("169.254.169.254 is link-local (cloud metadata), in 169.254.0.0/16", metadata.Reason);
        Assert.Equal("::1 is loopback, in ::1/128", bracketed.Reason);
        Assert.True(published.IsAllowed);
    }

    [Fact]
    public async Task A_name_is_refused_when_any_one_of_its_addresses_is_refused()
    {
        var policy = DestinationPolicy.FromAllowList(["127.0.0.1/32"])
            .WithResolver((_, _) => Task.FromResult(new[] { IPAddress.Parse("8.8.8.8"), IPAddress.Parse("127.0.0.1"), IPAddress.Parse("10.0.0.7") }));

        var resolution = await policy.ResolveAndCheckAsync("mixed.example");

        Assert.Equal("mixed.example: 10.0.0.7 is private, in 10.0.0.0/8", resolution.Reason);
        Assert.Equal(3, resolution.Addresses.Count);
    }

    [Fact]
    public async Task A_name_with_no_address_or_none_at_all_is_refused()
    {
        var empty = DestinationPolicy.Default.WithResolver((_, _) => Task.FromResult(Array.Empty<IPAddress>()));

        var none = await empty.ResolveAndCheckAsync("empty.example");
        // .invalid is reserved never to resolve (RFC 2606).
        var unknown = await DestinationPolicy.Default.ResolveAndCheckAsync("no-such-host.invalid");

        Assert.Equal("empty.example resolves to no address", none.Reason);
        Assert.StartsWith("no-such-host.invalid could not be resolved: ", unknown.Reason, StringComparison.Ordinal);
    }
}

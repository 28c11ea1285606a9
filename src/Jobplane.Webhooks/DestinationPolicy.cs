using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Jobplane.Webhooks;

/// <summary>
/// The SSRF guard: which addresses the platform may send a tenant's webhook to. Loopback, private,
/// link-local (cloud metadata), shared, multicast, documentation and reserved ranges are refused;
/// IPv6 forms that carry an IPv4 address are judged by that address. An operator's allow-list of
/// CIDR ranges lets chosen addresses through (a receiver on the platform's own network, tests).
/// </summary>
public sealed class DestinationPolicy
{
    private sealed record Range(IPNetwork Network, string Label);

    // Order matters only where ranges nest: the broadcast address before the reserved 240/4 around it.
    private static readonly Range[] RefusedV4 =
    [
        new(IPNetwork.Parse("0.0.0.0/8"), "'this network' (unspecified)"),
        new(IPNetwork.Parse("127.0.0.0/8"), "loopback"),
        new(IPNetwork.Parse("10.0.0.0/8"), "private"),
        new(IPNetwork.Parse("172.16.0.0/12"), "private"),
        new(IPNetwork.Parse("192.168.0.0/16"), "private"),
        new(IPNetwork.Parse("100.64.0.0/10"), "shared address space (CGNAT)"),
        new(IPNetwork.Parse("169.254.0.0/16"), "link-local (cloud metadata)"),
        new(IPNetwork.Parse("192.0.0.0/24"), "IETF protocol assignments"),
        new(IPNetwork.Parse("192.0.2.0/24"), "documentation (TEST-NET-1)"),
        new(IPNetwork.Parse("198.18.0.0/15"), "benchmarking"),
        new(IPNetwork.Parse("198.51.100.0/24"), "documentation (TEST-NET-2)"),
        new(IPNetwork.Parse("203.0.113.0/24"), "documentation (TEST-NET-3)"),
        new(IPNetwork.Parse("224.0.0.0/4"), "multicast"),
        new(IPNetwork.Parse("255.255.255.255/32"), "broadcast"),
        new(IPNetwork.Parse("240.0.0.0/4"), "reserved"),
    ];

    private static readonly Range[] RefusedV6 =
    [
        new(IPNetwork.Parse("::/128"), "unspecified"),
        new(IPNetwork.Parse("::1/128"), "loopback"),
        new(IPNetwork.Parse("fe80::/10"), "link-local"),
        new(IPNetwork.Parse("fec0::/10"), "site-local (deprecated)"),
        new(IPNetwork.Parse("fc00::/7"), "unique local (private)"),
        new(IPNetwork.Parse("ff00::/8"), "multicast"),
        new(IPNetwork.Parse("100::/64"), "discard-only"),
        new(IPNetwork.Parse("2001:db8::/32"), "documentation"),
        new(IPNetwork.Parse("2001::/32"), "Teredo"),
        new(IPNetwork.Parse("64:ff9b:1::/48"), "local-use NAT64"),
    ];

    private sealed record Embedding(IPNetwork Network, string Label, int Offset);

    // Where each form keeps its IPv4 address: the last 32 bits, or bits 16-47 for 6to4. The exact
    // :: and ::1 above are decided before these (they are inside ::/96 too).
    private static readonly Embedding[] Embeddings =
    [
        new(IPNetwork.Parse("::ffff:0:0/96"), "IPv4-mapped", 12),
        new(IPNetwork.Parse("::/96"), "IPv4-compatible", 12),
        new(IPNetwork.Parse("64:ff9b::/96"), "NAT64", 12),
        new(IPNetwork.Parse("2002::/16"), "6to4", 2),
    ];

    private readonly IPNetwork[] _allowed;
    private readonly Func<string, CancellationToken, Task<IPAddress[]>> _resolve;

    /// <summary>No allow-list: every refused range stays refused.</summary>
    public static DestinationPolicy Default { get; } = new([]);

    public DestinationPolicy(IEnumerable<IPNetwork> allowList)
        : this([.. allowList], Dns.GetHostAddressesAsync)
    {
    }

    private DestinationPolicy(IPNetwork[] allowed, Func<string, CancellationToken, Task<IPAddress[]>> resolve)
    {
        _allowed = allowed;
        _resolve = resolve;
    }

    /// <summary>The operator's ranges that are called even when a refused range contains them.</summary>
    public IReadOnlyList<IPNetwork> AllowList => _allowed;

    /// <summary>
    /// A policy with an allow-list of CIDR ranges ("10.1.0.0/16", "127.0.0.1/32", "::1/128"). Every
    /// bad entry is reported at once, by name, in one <see cref="FormatException"/>.
    /// </summary>
    public static DestinationPolicy FromAllowList(IEnumerable<string> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var ranges = new List<IPNetwork>();
        var problems = new List<string>();
        foreach (var entry in entries)
        {
            if (TryParseRange(entry, out var range, out var problem)) ranges.Add(range);
            else problems.Add(problem);
        }
        if (problems.Count > 0)
            throw new FormatException("Bad webhook allow-list: " + string.Join("; ", problems));
        return new DestinationPolicy(ranges);
    }

    /// <summary>
    /// <see cref="FromAllowList(IEnumerable{string})"/> for a setting written as one string, entries
    /// separated by commas or white space; null or blank is an empty allow-list.
    /// </summary>
    public static DestinationPolicy FromAllowList(string? entries) =>
        FromAllowList((entries ?? "").Split([',', ' ', '\t', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries));

    /// <summary>Whether <paramref name="address"/> may be called, and when not, why.</summary>
    public DestinationDecision Check(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (IsAllowListed(address)) return DestinationDecision.Allowed;
        // A mapped address is the IPv4 address itself to the socket, so the IPv4 allow-list covers it.
        if (address.IsIPv4MappedToIPv6 && IsAllowListed(address.MapToIPv4())) return DestinationDecision.Allowed;
        return Refusal(address) is { } reason ? DestinationDecision.Refused(reason) : DestinationDecision.Allowed;
    }

    /// <summary>
    /// Resolves <paramref name="host"/> (a name or an IP literal, brackets allowed) and judges every
    /// address: refused when any address is refused, when there is none, or when the name does not
    /// resolve. For registration; deliveries are checked again at connect time by <see cref="WebhookHttp"/>.
    /// </summary>
    public async Task<DestinationResolution> ResolveAndCheckAsync(string host, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        var name = Unbracket(host);
        IPAddress[] addresses;
        try
        {
            addresses = await _resolve(name, ct);
        }
        catch (SocketException e)
        {
            return new DestinationResolution(name, [], $"{name} could not be resolved: {e.Message}");
        }
        return Judge(name, addresses);
    }

    /// <summary>
    /// Connect time: the addresses to connect to, every one of them allowed. A DNS failure stays a
    /// SocketException (a network fault, worth a retry); a refusal is a <see cref="DestinationRefusedException"/>.
    /// </summary>
    internal async Task<IPAddress[]> ResolveForConnectAsync(string host, CancellationToken ct)
    {
        var name = Unbracket(host);
        var addresses = await _resolve(name, ct);
        var judged = Judge(name, addresses);
        return judged.Reason is { } reason ? throw new DestinationRefusedException(reason) : addresses;
    }

    /// <summary>The same policy with DNS replaced, for tests that script what a name resolves to.</summary>
    internal DestinationPolicy WithResolver(Func<string, CancellationToken, Task<IPAddress[]>> resolve) => new(_allowed, resolve);

    private DestinationResolution Judge(string name, IPAddress[] addresses)
    {
        if (addresses.Length == 0) return new DestinationResolution(name, addresses, $"{name} resolves to no address");
        foreach (var address in addresses)
        {
            if (Check(address).Reason is { } reason)
            {
                // An IP literal needs no "host:" in front of a reason that already names it.
                var literal = IPAddress.TryParse(name, out var parsed) && parsed.Equals(address);
                return new DestinationResolution(name, addresses, literal ? reason : $"{name}: {reason}");
            }
        }
        return new DestinationResolution(name, addresses, null);
    }

    private bool IsAllowListed(IPAddress address)
    {
        foreach (var range in _allowed)
        {
            if (Contains(range, address)) return true;
        }
        return false;
    }

    private static string? Refusal(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            foreach (var range in RefusedV4)
            {
                if (Contains(range.Network, address)) return $"{address} is {range.Label}, in {range.Network}";
            }
            return null;
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
            return $"{address} is not an IP address";

        foreach (var range in RefusedV6)
        {
            if (Contains(range.Network, address)) return $"{address} is {range.Label}, in {range.Network}";
        }
        foreach (var form in Embeddings)
        {
            if (!Contains(form.Network, address)) continue;
            var inner = new IPAddress(address.GetAddressBytes().AsSpan(form.Offset, 4));
            return Refusal(inner) is { } reason ? $"{address} carries {inner} ({form.Label}, {form.Network}), and {reason}" : null;
        }
        return null;
    }

    private static bool TryParseRange(string entry, out IPNetwork range, out string problem)
    {
        range = default;
        var text = entry.Trim();
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            problem = $"\"{entry}\" has no prefix length (write a range such as 127.0.0.1/32 or ::1/128)";
            return false;
        }
        var addressText = text[..slash];
        var prefixText = text[(slash + 1)..];
        // IPAddress.TryParse also reads "10" and "127.1" as IPv4; in a security setting only the
        // dotted quad and IPv6 notation are unambiguous.
        var looksLikeIp = addressText.Contains(':', StringComparison.Ordinal) || addressText.Count(c => c == '.') == 3;
        if (!looksLikeIp || !IPAddress.TryParse(addressText, out var address) || addressText.Contains('%', StringComparison.Ordinal))
        {
            problem = $"\"{entry}\" does not start with an IPv4 or IPv6 address";
            return false;
        }
        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (!prefixText.All(char.IsAsciiDigit) || !int.TryParse(prefixText, NumberStyles.None, CultureInfo.InvariantCulture, out var prefix) || prefix > bits)
        {
            problem = $"\"{entry}\" has a prefix length that is not a whole number from 0 to {bits}";
            return false;
        }
        var canonical = Mask(address, prefix);
        if (!canonical.Equals(address))
        {
            problem = $"\"{entry}\" has address bits set past the /{prefix} prefix (did you mean {canonical}/{prefix}?)";
            return false;
        }
        range = new IPNetwork(address, prefix);
        problem = "";
        return true;
    }

    /// <summary>
    /// Prefix match on the bytes, same family only. Not IPNetwork.Contains: it lets an IPv4 network
    /// match an IPv4-mapped address and, in some .NET versions, takes the IPv4 path for a mapped
    /// address against an IPv6 network (dotnet/runtime#131861). Here a mapped address is an IPv6
    /// address, and Check decides explicitly what it stands for.
    /// </summary>
    private static bool Contains(IPNetwork network, IPAddress address)
    {
        if (network.BaseAddress.AddressFamily != address.AddressFamily) return false;
        Span<byte> baseBytes = stackalloc byte[16];
        Span<byte> bytes = stackalloc byte[16];
        network.BaseAddress.TryWriteBytes(baseBytes, out var length);
        address.TryWriteBytes(bytes, out _);
        var whole = network.PrefixLength / 8;
        if (!bytes[..whole].SequenceEqual(baseBytes[..whole])) return false;
        var rest = network.PrefixLength % 8;
        if (rest == 0 || whole == length) return true;
        var mask = (byte)(0xFF << (8 - rest));
        return (bytes[whole] & mask) == (baseBytes[whole] & mask);
    }

    private static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        return new IPAddress(bytes);
    }

    private static string Unbracket(string host) =>
        host.Length > 1 && host[0] == '[' && host[^1] == ']' ? host[1..^1] : host;
}

using System.Net;
using System.Net.Sockets;

namespace Jobplane.Webhooks;

/// <summary>
/// The HttpClient webhooks are delivered with. Its connections go only to addresses the
/// <see cref="DestinationPolicy"/> allowed: the handler resolves the host itself, checks every address,
/// and connects the socket to one it checked, so no second DNS answer (DNS rebinding) can slip an
/// internal address in between the check and the connection. No redirects, proxies or cookies.
/// </summary>
public static class WebhookHttp
{
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The whole request, answer included; the specification recommends 15 to 30 s.</summary>
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long a pooled connection lives: a connection outliving a changed DNS answer would keep
    /// going to the old address, checked against an answer that no longer holds.
    /// </summary>
    public static readonly TimeSpan ConnectionLifetime = TimeSpan.FromMinutes(1);

    public const string UserAgent = "jobplane-webhooks";

    /// <summary>
    /// A client for deliveries. A refused destination fails the request with an HttpRequestException
    /// whose inner exception is a <see cref="DestinationRefusedException"/> carrying the reason; the
    /// whole-request timeout throws TaskCanceledException with an inner TimeoutException.
    /// </summary>
    public static HttpClient CreateClient(DestinationPolicy policy, TimeSpan? connectTimeout = null, TimeSpan? requestTimeout = null)
    {
        var client = new HttpClient(CreateHandler(policy, connectTimeout), disposeHandler: true)
        {
            Timeout = requestTimeout ?? DefaultRequestTimeout,
        };
        client.DefaultRequestHeaders.UserAgent.ParseAdd(UserAgent);
        return client;
    }

    /// <summary>The handler of <see cref="CreateClient"/>, for callers that build their own client around it.</summary>
    public static SocketsHttpHandler CreateHandler(DestinationPolicy policy, TimeSpan? connectTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return new SocketsHttpHandler
        {
            // A 3xx is the endpoint's answer, not an instruction: following it would reach an
            // address nobody checked (and the specification counts 3xx as a failure).
            AllowAutoRedirect = false,
            // A proxy would connect on our behalf, to an address this handler never sees.
            UseProxy = false,
            UseCookies = false,
            ConnectTimeout = connectTimeout ?? DefaultConnectTimeout,
            PooledConnectionLifetime = ConnectionLifetime,
            ConnectCallback = (context, ct) => ConnectAsync(policy, context.DnsEndPoint, ct),
        };
    }

    private static async ValueTask<Stream> ConnectAsync(DestinationPolicy policy, DnsEndPoint endpoint, CancellationToken ct)
    {
        // The handler's connect timeout is part of ct, so a slow DNS answer counts against it too.
        var addresses = await policy.ResolveForConnectAsync(endpoint.Host, ct);
        SocketException? last = null;
        foreach (var resolved in addresses)
        {
            // The policy judged a mapped address as the IPv4 address it stands for; connect to that
            // one, rather than rely on the IPv6 socket being dual-stack.
            var address = resolved.IsIPv4MappedToIPv6 ? resolved.MapToIPv4() : resolved;
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, endpoint.Port), ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Jobplane.Webhooks.Tests;

/// <summary>The delivery client against a real receiver on the loopback interface.</summary>
public sealed class WebhookHttpTests
{
    private static readonly DestinationPolicy LoopbackAllowed = DestinationPolicy.FromAllowList(["127.0.0.1/32"]);
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"type":"execution.succeeded","data":{"execution":"ex_1"}}""");

    private static HttpRequestMessage Delivery(Uri url, WebhookHeaders? headers = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(Body) };
        request.Content.Headers.ContentType = new("application/json");
        headers?.ApplyTo(request);
        return request;
    }

    private static async Task<DestinationRefusedException> RefusedAsync(HttpClient client, Uri url)
    {
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(Delivery(url)));
        return Assert.IsType<DestinationRefusedException>(error.InnerException);
    }

    [Fact]
    public async Task A_loopback_receiver_is_refused_by_default_and_never_connected_to()
    {
        await using var receiver = LoopbackReceiver.Answering(200);
        using var client = WebhookHttp.CreateClient(DestinationPolicy.Default);

        var refused = await RefusedAsync(client, receiver.Url());

        Assert.Equal("127.0.0.1 is loopback, in 127.0.0.0/8", refused.Message);
        Assert.Equal(0, receiver.AcceptedConnections);
    }

    [Fact]
    public async Task An_allow_listed_receiver_gets_the_signed_delivery()
    {
        await using var receiver = LoopbackReceiver.Answering(204);
        using var client = WebhookHttp.CreateClient(LoopbackAllowed);
        var secret = WebhookSecret.Generate();
        var now = TimeProvider.System.GetUtcNow();

        using var response = await client.SendAsync(Delivery(receiver.Url(), WebhookSignature.Sign("msg_http_1", now, Body, [secret])));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var received = Assert.Single(receiver.Requests);
        Assert.Equal("POST", received.Method);
        Assert.Equal("/hook", received.Target);
        Assert.Equal(Body, received.Body);
        Assert.Equal("jobplane-webhooks", received.Headers["User-Agent"]);
        var verification = WebhookSignature.Verify(
            received.Headers["webhook-id"], received.Headers["webhook-timestamp"], received.Headers["webhook-signature"],
            received.Body, [secret], now);
        Assert.Equal(WebhookVerification.Valid, verification);
    }

    [Fact]
    public async Task Ipv6_literals_are_judged_at_connect_time_too()
    {
        await using var receiver = LoopbackReceiver.Answering(200);
        using var strict = WebhookHttp.CreateClient(DestinationPolicy.Default);
        using var allowing = WebhookHttp.CreateClient(LoopbackAllowed);

        var loopback = await RefusedAsync(strict, receiver.Url(host: "[::1]"));
        var mapped = await RefusedAsync(strict, receiver.Url(host: "[::ffff:127.0.0.1]"));
        Assert.Equal(0, receiver.AcceptedConnections);
        // The mapped form is 127.0.0.1 to the socket, so the IPv4 allow-list entry lets it through.
        using var delivered = await allowing.SendAsync(Delivery(receiver.Url(host: "[::ffff:127.0.0.1]")));

        Assert.Equal("::1 is loopback, in ::1/128", loopback.Message);
        Assert.StartsWith("::ffff:127.0.0.1 carries 127.0.0.1 (IPv4-mapped", mapped.Message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, delivered.StatusCode);
        Assert.Equal(1, receiver.AcceptedConnections);
    }

    [Fact]
    public async Task Localhost_is_refused_because_it_resolves_to_loopback()
    {
        await using var receiver = LoopbackReceiver.Answering(200);
        using var client = WebhookHttp.CreateClient(DestinationPolicy.Default);

        var refused = await RefusedAsync(client, receiver.Url(host: "localhost"));

        Assert.StartsWith("localhost: ", refused.Message, StringComparison.Ordinal);
        Assert.Contains("is loopback", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, receiver.AcceptedConnections);
    }

    [Fact]
    public async Task A_redirect_is_handed_back_not_followed()
    {
        await using var target = LoopbackReceiver.Answering(200);
        await using var redirecting = LoopbackReceiver.Answering(302, $"Location: {target.Url(path: "/elsewhere")}");
        using var client = WebhookHttp.CreateClient(LoopbackAllowed);

        using var response = await client.SendAsync(Delivery(redirecting.Url()));

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal(target.Url(path: "/elsewhere"), response.Headers.Location);
        Assert.Single(redirecting.Requests);
        Assert.Equal(0, target.AcceptedConnections);
    }

    [Fact]
    public async Task The_whole_request_timeout_ends_a_delivery_the_receiver_never_answers()
    {
        await using var receiver = LoopbackReceiver.NeverAnswering();
        using var client = WebhookHttp.CreateClient(LoopbackAllowed, requestTimeout: TimeSpan.FromSeconds(1));
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<TaskCanceledException>(() => client.SendAsync(Delivery(receiver.Url())));

        Assert.IsType<TimeoutException>(error.InnerException);
        Assert.Contains("HttpClient.Timeout of 1 seconds", error.Message, StringComparison.Ordinal);
        // Generous: only "it ended on its own, long before a hung test would be noticed".
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(20));
        // The connection was made; it is the answer that never came.
        Assert.Equal(1, receiver.AcceptedConnections);
    }

    [Fact]
    public async Task A_dns_answer_that_never_comes_counts_against_the_connect_timeout()
    {
        await using var receiver = LoopbackReceiver.Answering(200);
        var hanging = LoopbackAllowed.WithResolver(async (_, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return [];
        });
        using var client = WebhookHttp.CreateClient(hanging, connectTimeout: TimeSpan.FromSeconds(1), requestTimeout: TimeSpan.FromMinutes(2));
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<TaskCanceledException>(() => client.SendAsync(Delivery(receiver.Url(host: "slow.example"))));

        // The connect timeout (1 s) ended it, not the request timeout (2 min).
        var timeout = Assert.IsType<TimeoutException>(error.InnerException);
        Assert.Contains("ConnectTimeout", timeout.Message, StringComparison.Ordinal);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(20));
        Assert.Equal(0, receiver.AcceptedConnections);
    }

    [Fact]
    public async Task Each_connection_goes_to_the_address_checked_for_it_so_a_rebound_name_is_refused()
    {
        await using var receiver = LoopbackReceiver.Answering(200);
        // A rebinding name: harmless on the first answer, the metadata service on every later one.
        var lookups = 0;
        var policy = LoopbackAllowed.WithResolver((_, _) => Task.FromResult(
            Interlocked.Increment(ref lookups) == 1 ? [IPAddress.Loopback] : new[] { IPAddress.Parse("169.254.169.254") }));
        using var client = WebhookHttp.CreateClient(policy);

        // The system resolver knows nothing of this name: reaching the receiver proves the socket
        // went to the address our check saw, looked up once.
        using (var first = await client.SendAsync(Delivery(receiver.Url(host: "rebind.example"))))
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(1, lookups);

        // The receiver closed that connection, so the next delivery resolves and checks afresh.
        var refused = await RefusedAsync(client, receiver.Url(host: "rebind.example"));

        Assert.Equal("rebind.example: 169.254.169.254 is link-local (cloud metadata), in 169.254.0.0/16", refused.Message);
        Assert.Equal(1, receiver.AcceptedConnections);
    }

    [Fact]
    public async Task A_name_with_one_refused_address_among_allowed_ones_is_not_connected_to()
    {
        await using var receiver = LoopbackReceiver.Answering(200);
        var policy = LoopbackAllowed.WithResolver((_, _) => Task.FromResult(new[] { IPAddress.Loopback, IPAddress.Parse("10.0.0.7") }));
        using var client = WebhookHttp.CreateClient(policy);

        var refused = await RefusedAsync(client, receiver.Url(host: "split.example"));

        Assert.Equal("split.example: 10.0.0.7 is private, in 10.0.0.0/8", refused.Message);
        Assert.Equal(0, receiver.AcceptedConnections);
    }

    [Fact]
    public async Task A_name_that_does_not_resolve_is_a_network_failure_not_a_refusal()
    {
        using var client = WebhookHttp.CreateClient(DestinationPolicy.Default);

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(Delivery(new Uri("https://no-such-host.invalid/hook"))));

        // A retry may succeed once DNS does; a refusal never will, so the two must be told apart.
        Assert.IsType<SocketException>(error.InnerException);
    }

    [Fact]
    public async Task Cookies_a_receiver_sets_are_not_sent_back()
    {
        await using var receiver = LoopbackReceiver.Answering(200, "Set-Cookie: session=tenant-a; Path=/");
        using var client = WebhookHttp.CreateClient(LoopbackAllowed);

        (await client.SendAsync(Delivery(receiver.Url()))).Dispose();
        (await client.SendAsync(Delivery(receiver.Url()))).Dispose();

        Assert.Equal(2, receiver.Requests.Count);
        Assert.All(receiver.Requests, r => Assert.False(r.Headers.ContainsKey("Cookie")));
    }

    [Fact]
    public void The_handler_uses_no_proxy_and_rechecks_dns_every_minute()
    {
        // A proxy from the environment (HTTPS_PROXY) would make the connections itself, past the check.
        using var handler = WebhookHttp.CreateHandler(DestinationPolicy.Default);

        Assert.False(handler.UseProxy);
        Assert.False(handler.AllowAutoRedirect);
        Assert.Equal(TimeSpan.FromMinutes(1), handler.PooledConnectionLifetime);
        Assert.Equal(TimeSpan.FromSeconds(5), handler.ConnectTimeout);
        using var client = WebhookHttp.CreateClient(DestinationPolicy.Default);
        Assert.Equal(TimeSpan.FromSeconds(15), client.Timeout);
    }
}

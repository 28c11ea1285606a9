using System.Text;

namespace Jobplane.Webhooks.Tests;

public sealed class WebhookSignatureTests
{
    private static readonly DateTimeOffset Sent = DateTimeOffset.FromUnixTimeSeconds(1_760_000_000);
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"type":"execution.succeeded","data":{"id":"ex_1","note":"café ✓"}}""");

    private static WebhookVerification Verify(WebhookHeaders h, byte[] body, WebhookSecret[] secrets, DateTimeOffset now, TimeSpan? tolerance = null) =>
        WebhookSignature.Verify(h.Id, h.Timestamp, h.Signature, body, secrets, now, tolerance);

    [Fact]
    public void Signing_gives_the_three_headers_and_the_same_secret_verifies_them()
    {
        var secret = WebhookSecret.Generate();

        var headers = WebhookSignature.Sign("msg_1", Sent, Body, [secret]);

        Assert.Equal("msg_1", headers.Id);
        Assert.Equal("1760000000", headers.Timestamp);
        Assert.Matches("^v1,[A-Za-z0-9+/]{43}=$", headers.Signature);
        Assert.Equal(WebhookVerification.Valid, Verify(headers, Body, [secret], Sent.AddSeconds(3)));
    }

    [Fact]
    public void The_signature_is_the_one_the_reference_libraries_compute()
    {
        // The known answer the Standard Webhooks libraries agree on (the npm reference library gives
        // the same for these inputs): secret, id, timestamp and body in, signature out.
        var secret = WebhookSecret.Parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        var body = Encoding.UTF8.GetBytes("""{"test": 2432232314}""");

        var headers = WebhookSignature.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", DateTimeOffset.FromUnixTimeSeconds(1614265330), body, [secret]);

        Assert.Equal("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", headers.Signature);
    }

    [Fact]
    public void During_a_rotation_both_secrets_sign_and_either_one_verifies()
    {
        var old = WebhookSecret.Generate();
        var current = WebhookSecret.Generate();

        var headers = WebhookSignature.Sign("msg_2", Sent, Body, [current, old]);

        var signatures = headers.Signature.Split(' ');
        Assert.Equal(2, signatures.Length);
        Assert.All(signatures, s => Assert.StartsWith("v1,", s, StringComparison.Ordinal));
        // A receiver still holding the old secret, and one already given the new, both accept it.
        Assert.True(Verify(headers, Body, [old], Sent).IsValid);
        Assert.True(Verify(headers, Body, [current], Sent).IsValid);
        Assert.False(Verify(headers, Body, [WebhookSecret.Generate()], Sent).IsValid);
    }

    [Fact]
    public void A_changed_body_id_or_timestamp_is_refused()
    {
        var secret = WebhookSecret.Generate();
        var headers = WebhookSignature.Sign("msg_3", Sent, Body, [secret]);
        var tamperedBody = (byte[])Body.Clone();
        tamperedBody[^2] ^= 1;

        var byBody = Verify(headers, tamperedBody, [secret], Sent);
        var byId = Verify(headers with { Id = "msg_4" }, Body, [secret], Sent);
        var byTimestamp = Verify(headers with { Timestamp = "1760000001" }, Body, [secret], Sent);

        foreach (var outcome in new[] { byBody, byId, byTimestamp })
        {
            Assert.False(outcome.IsValid);
            Assert.Equal("no v1 signature matches the body, id and timestamp", outcome.Problem);
        }
    }

    [Fact]
    public void A_stale_or_far_future_timestamp_is_refused_even_with_a_good_signature()
    {
        var secret = WebhookSecret.Generate();
        var headers = WebhookSignature.Sign("msg_5", Sent, Body, [secret]);

        var stale = Verify(headers, Body, [secret], Sent.AddMinutes(5).AddSeconds(1));
        var early = Verify(headers, Body, [secret], Sent.AddMinutes(-5).AddSeconds(-1));
        var edge = Verify(headers, Body, [secret], Sent.AddMinutes(5));
        var tighter = Verify(headers, Body, [secret], Sent.AddSeconds(31), TimeSpan.FromSeconds(30));

        Assert.Equal("the timestamp is 301 s old, beyond the 300 s tolerance", stale.Problem);
        Assert.Equal("the timestamp is 301 s in the future, beyond the 300 s tolerance", early.Problem);
        Assert.True(edge.IsValid);
        Assert.Equal("the timestamp is 31 s old, beyond the 30 s tolerance", tighter.Problem);
    }

    [Theory]
    [InlineData(null, "1760000000", "v1,x", "the webhook-id header is missing")]
    [InlineData("msg", null, "v1,x", "the webhook-timestamp header is missing")]
    [InlineData("msg", "1760000000", "", "the webhook-signature header is missing")]
    [InlineData("msg", "+1760000000", "v1,x", "the webhook-timestamp header is not whole Unix seconds")]
    [InlineData("msg", "1760000000.5", "v1,x", "the webhook-timestamp header is not whole Unix seconds")]
    public void Missing_or_malformed_headers_are_refused_by_name(string? id, string? timestamp, string? signature, string expected)
    {
        var outcome = WebhookSignature.Verify(id, timestamp, signature, Body, [WebhookSecret.Generate()], Sent);
        Assert.Equal(WebhookVerification.Invalid(expected), outcome);
    }

    [Fact]
    public void Signatures_of_other_versions_are_passed_over()
    {
        var secret = WebhookSecret.Generate();
        var headers = WebhookSignature.Sign("msg_6", Sent, Body, [secret]);
        var base64 = headers.Signature["v1,".Length..];

        // The same bytes labelled v1a (the asymmetric scheme) must not count as an HMAC signature.
        Assert.False(Verify(headers with { Signature = "v1a," + base64 }, Body, [secret], Sent).IsValid);
        Assert.True(Verify(headers with { Signature = "v1a,AAAA " + headers.Signature }, Body, [secret], Sent).IsValid);
    }

    [Theory]
    [InlineData("")]
    [InlineData("msg.1")]
    [InlineData("msg 1")]
    [InlineData("msg\n1")]
    public void An_id_that_could_blur_the_signed_content_or_the_header_is_refused(string id)
    {
        Assert.Throws<ArgumentException>(() => WebhookSignature.Sign(id, Sent, Body, [WebhookSecret.Generate()]));
    }

    [Fact]
    public void Signing_without_a_secret_is_refused()
    {
        Assert.Throws<ArgumentException>(() => WebhookSignature.Sign("msg_7", Sent, Body, []));
    }
}

using System.Text;

namespace Jobplane.Webhooks.Tests;

/// <summary>
/// Our signatures checked by the Standard Webhooks reference library in a node process, and theirs by
/// ours: agreement with an implementation we did not write is what makes tenants' verifiers work.
/// </summary>
public sealed class ReferenceVerifierTests
{
    // Real time: the reference verifier compares the timestamp with its own clock (5 minutes either way).
    private static DateTimeOffset Now => TimeProvider.System.GetUtcNow();

    private static readonly byte[] Body = Encoding.UTF8.GetBytes(
        """{"type":"execution.failed","timestamp":"2026-01-02T03:04:05Z","data":{"execution":"ex_9","error":"exit 1 — «ünïcode»"}}""");

    [Fact]
    public async Task The_reference_library_verifies_a_delivery_we_signed()
    {
        var secret = WebhookSecret.Generate();
        var headers = WebhookSignature.Sign("msg_ref_1", Now, Body, [secret]);

        var result = await ReferenceLibrary.VerifyAsync(secret, headers, Body);

        Assert.True(result.ExitCode == 0, result.Output + result.Errors);
        Assert.Equal("verified", result.Output.Trim());
    }

    [Fact]
    public async Task The_reference_library_rejects_a_tampered_body_and_a_tampered_id()
    {
        var secret = WebhookSecret.Generate();
        var headers = WebhookSignature.Sign("msg_ref_2", Now, Body, [secret]);
        var tampered = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(Body).Replace("ex_9", "ex_8", StringComparison.Ordinal));

        var byBody = await ReferenceLibrary.VerifyAsync(secret, headers, tampered);
        var byId = await ReferenceLibrary.VerifyAsync(secret, headers with { Id = "msg_ref_3" }, Body);

        foreach (var result in new[] { byBody, byId })
        {
            Assert.Equal(1, result.ExitCode);
            Assert.Equal("rejected: WebhookVerificationError: No matching signature found", result.Output.Trim());
        }
    }

    [Fact]
    public async Task During_a_rotation_the_reference_library_accepts_the_old_and_the_new_secret()
    {
        var old = WebhookSecret.Generate();
        var current = WebhookSecret.Generate();
        var headers = WebhookSignature.Sign("msg_ref_4", Now, Body, [current, old]);

        var withOld = await ReferenceLibrary.VerifyAsync(old, headers, Body);
        var withCurrent = await ReferenceLibrary.VerifyAsync(current, headers, Body);
        var withOther = await ReferenceLibrary.VerifyAsync(WebhookSecret.Generate(), headers, Body);

        Assert.Equal("verified", withOld.Output.Trim());
        Assert.Equal("verified", withCurrent.Output.Trim());
        Assert.Equal(1, withOther.ExitCode);
    }

    [Fact]
    public async Task We_verify_what_the_reference_library_signs()
    {
        var secret = WebhookSecret.Generate();
        var timestamp = Now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);

        var signature = await ReferenceLibrary.SignAsync(secret, "msg_ref_5", timestamp, Body);

        Assert.Equal(WebhookVerification.Valid, WebhookSignature.Verify("msg_ref_5", timestamp, signature, Body, [secret], Now));
        Assert.Equal(signature, WebhookSignature.Sign("msg_ref_5", DateTimeOffset.FromUnixTimeSeconds(long.Parse(timestamp, System.Globalization.CultureInfo.InvariantCulture)), Body, [secret]).Signature);
    }
}

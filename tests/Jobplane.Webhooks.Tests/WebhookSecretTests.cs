namespace Jobplane.Webhooks.Tests;

public sealed class WebhookSecretTests
{
    [Fact]
    public void A_generated_secret_is_whsec_and_the_base64_of_32_random_bytes()
    {
        var a = WebhookSecret.Generate();
        var b = WebhookSecret.Generate();

        Assert.StartsWith("whsec_", a.Encoded, StringComparison.Ordinal);
        Assert.Equal(32, Convert.FromBase64String(a.Encoded["whsec_".Length..]).Length);
        Assert.Equal(32, a.Key.Length);
        Assert.NotEqual(a.Encoded, b.Encoded);
    }

    [Fact]
    public void A_secret_reads_back_with_or_without_its_prefix()
    {
        var secret = WebhookSecret.Generate();
        var bare = secret.Encoded["whsec_".Length..];

        Assert.Equal(secret.Key.ToArray(), WebhookSecret.Parse(secret.Encoded).Key.ToArray());
        Assert.Equal(secret.Key.ToArray(), WebhookSecret.Parse(bare).Key.ToArray());
        Assert.Equal(secret.Encoded, WebhookSecret.Parse(bare).Encoded);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("   ", "empty")]
    [InlineData("whsec_", "nothing after whsec_")]
    [InlineData("whsec_not base64!", "not base64")]
    [InlineData("whsec_c2hvcnQ=", "is 5 bytes")]
    public void A_bad_secret_is_refused_with_what_is_wrong(string text, string expected)
    {
        var error = Assert.Throws<FormatException>(() => WebhookSecret.Parse(text));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_longer_than_the_specification_allows_is_refused()
    {
        var tooLong = "whsec_" + Convert.ToBase64String(new byte[65]);
        var error = Assert.Throws<FormatException>(() => WebhookSecret.Parse(tooLong));
        Assert.Contains("24 to 64 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Printing_a_secret_does_not_print_the_key()
    {
        var secret = WebhookSecret.Generate();
        Assert.DoesNotContain(secret.Encoded["whsec_".Length..], $"{secret}", StringComparison.Ordinal);
    }
}

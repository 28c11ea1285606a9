namespace Jobplane.Webhooks.Tests;

public sealed class WebhookUrlTests
{
    [Theory]
    [InlineData("https://hooks.example.com/jobplane")]
    [InlineData("https://hooks.example.com:8443/a/b?tenant=7")]
    [InlineData("https://8.8.8.8/hook")]
    [InlineData("https://[2606:4700:4700::1111]/hook")]
    public void A_public_https_url_is_accepted(string url)
    {
        Assert.Null(WebhookUrl.Validate(url, allowHttp: false));
    }

    [Theory]
    [InlineData("ftp://hooks.example.com/", "the URL's scheme is ftp; only https is allowed")]
    [InlineData("file:///etc/passwd", "the URL's scheme is file; only https is allowed")]
    [InlineData("/etc/passwd", "the URL's scheme is file; only https is allowed")]
    [InlineData("gopher://hooks.example.com/", "the URL's scheme is gopher; only https is allowed")]
    [InlineData("javascript:alert(1)", "the URL's scheme is javascript; only https is allowed")]
    [InlineData("hooks.example.com/path", "the URL is not an absolute URL (https://host/path)")]
    [InlineData("", "the URL is empty")]
    [InlineData(" https://hooks.example.com/", "the URL starts or ends with white space")]
    public void Other_schemes_and_relative_urls_are_refused(string url, string problem)
    {
        Assert.Equal(problem, WebhookUrl.Validate(url, allowHttp: false));
    }

    [Fact]
    public void Plain_http_is_refused_unless_the_operator_allows_it()
    {
        Assert.Equal("the URL's scheme is http; only https is allowed", WebhookUrl.Validate("http://hooks.example.com/", allowHttp: false));
        Assert.Null(WebhookUrl.Validate("http://hooks.example.com/", allowHttp: true));
        Assert.Equal("the URL's scheme is ftp; only https and http are allowed", WebhookUrl.Validate("ftp://hooks.example.com/", allowHttp: true));
    }

    [Theory]
    [InlineData("https://user:pass@hooks.example.com/")]
    [InlineData("https://user@hooks.example.com/")]
    [InlineData("https://@hooks.example.com/")]
    [InlineData("https://8.8.8.8@169.254.169.254/")]
    public void A_user_name_or_password_in_the_url_is_refused(string url)
    {
        Assert.Equal("the URL carries a user name or password; use the signing secret to authenticate deliveries", WebhookUrl.Validate(url, allowHttp: false));
    }

    [Fact]
    public void A_fragment_is_refused()
    {
        Assert.Equal("the URL has a fragment (#...), which is never sent to the server", WebhookUrl.Validate("https://hooks.example.com/a#b", allowHttp: false));
    }

    [Fact]
    public void A_url_longer_than_2000_characters_is_refused()
    {
        var prefix = "https://hooks.example.com/";
        var longest = prefix + new string('a', 2000 - prefix.Length);

        Assert.Null(WebhookUrl.Validate(longest, allowHttp: false));
        Assert.Equal("the URL is 2001 characters long; at most 2000 are allowed", WebhookUrl.Validate(longest + "a", allowHttp: false));
    }

    [Theory]
    [InlineData("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is link-local (cloud metadata), in 169.254.0.0/16")]
    [InlineData("https://127.0.0.1:9000/", "127.0.0.1 is loopback, in 127.0.0.0/8")]
    [InlineData("https://[::1]/", "::1 is loopback, in ::1/128")]
    [InlineData("https://[::ffff:169.254.169.254]/", "169.254.169.254 is link-local (cloud metadata)")]
    [InlineData("https://10.0.0.5/", "10.0.0.5 is private, in 10.0.0.0/8")]
    // Spellings a naive string check misses; Uri reads each as the dotted quad it stands for.
    [InlineData("https://2852039166/", "169.254.169.254 is link-local (cloud metadata)")]
    [InlineData("https://0xa9.0xfe.0xa9.0xfe/", "169.254.169.254 is link-local (cloud metadata)")]
    [InlineData("https://127.1/", "127.0.0.1 is loopback")]
    public void An_internal_ip_literal_is_refused_at_registration(string url, string reason)
    {
        var problem = WebhookUrl.Validate(url, allowHttp: false);

        Assert.NotNull(problem);
        Assert.StartsWith("the URL's host is refused: ", problem, StringComparison.Ordinal);
        Assert.Contains(reason, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void The_allow_list_lets_an_ip_literal_register()
    {
        var policy = DestinationPolicy.FromAllowList(["127.0.0.1/32"]);

        Assert.Null(WebhookUrl.Validate("http://127.0.0.1:8080/hook", allowHttp: true, policy));
        Assert.NotNull(WebhookUrl.Validate("http://127.0.0.2:8080/hook", allowHttp: true, policy));
    }

    [Fact]
    public void A_host_name_is_left_to_resolution_even_when_it_names_loopback()
    {
        // Validate does not resolve (registration calls ResolveAndCheckAsync, delivery checks again).
        Assert.Null(WebhookUrl.Validate("https://localhost/", allowHttp: false));
    }
}

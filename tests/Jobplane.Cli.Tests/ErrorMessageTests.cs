using System.Net;
using System.Text;

using Jobplane.Client;

namespace Jobplane.Cli.Tests;

public sealed class ErrorMessageTests
{
    private const string Token = "test-token";

    [Fact]
    public void A_json_error_body_gives_error_code_and_status()
    {
        var error = new ApiException(HttpStatusCode.Unauthorized, "Unauthorized", "invalid API key", "unauthorized", null);

        Assert.Equal("invalid API key (unauthorized, HTTP 401)", error.Message);
    }

    [Fact]
    public void Without_a_json_body_the_status_line_is_used()
    {
        Assert.Equal("HTTP 502 Bad Gateway", new ApiException(HttpStatusCode.BadGateway, "Bad Gateway", null, null, null).Message);
        Assert.Equal("HTTP 503 Service Unavailable: upstream down",
            new ApiException(HttpStatusCode.ServiceUnavailable, "Service Unavailable", null, null, "upstream down\nmore").Message);
    }

    [Fact]
    public void A_429_says_how_long_to_wait_once()
    {
        var wait = TimeSpan.FromSeconds(2.2);

        Assert.Equal("slow down (rate_limited, HTTP 429); retry after 3 s",
            new ApiException(HttpStatusCode.TooManyRequests, "Too Many Requests", "slow down", "rate_limited", null, wait).Message);
        Assert.Equal("rate limit exceeded: 1 request per second; retry after 3 s (rate_limited, HTTP 429)",
            new ApiException(HttpStatusCode.TooManyRequests, "Too Many Requests", "rate limit exceeded: 1 request per second; retry after 3 s",
                "rate_limited", null, wait).Message);
        Assert.Equal("rate limited by the controller (HTTP 429); retry after 3 s",
            new ApiException(HttpStatusCode.TooManyRequests, "Too Many Requests", null, null, null, wait).Message);
        Assert.Equal("HTTP 503 Service Unavailable; retry after 1 s",
            new ApiException(HttpStatusCode.ServiceUnavailable, "Service Unavailable", null, null, null, TimeSpan.FromSeconds(1)).Message);
    }

    [Fact]
    public void Unreachable_names_the_url()
    {
        var error = new ControllerUnreachableException(new Uri("http://controller:6161/"), "Connection refused");

        Assert.Equal("cannot reach controller at http://controller:6161: Connection refused", error.Message);
    }

    [Theory]
    [InlineData("30", "retry after 30 s")]
    [InlineData(null, "")]
    public async Task A_429_without_our_error_body_still_says_it_was_rate_limited_and_how_long_to_wait(string? retryAfter, string expectedWait)
    {
        var result = await CliRunner.RunWithAsync(null, new AnswerHandler(HttpStatusCode.TooManyRequests, "slow down", "text/plain", retryAfter),
            "jobs", "list", "-t", Token);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"error: rate limited by the controller (HTTP 429){(expectedWait.Length > 0 ? "; " + expectedWait : "")}\n", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task A_429_with_our_error_body_keeps_the_message_and_adds_the_wait_it_does_not_name()
    {
        const string body = """{"error":"too many requests","code":"rate_limited"}""";

        var result = await CliRunner.RunWithAsync(null, new AnswerHandler(HttpStatusCode.TooManyRequests, body, "application/json", "7"),
            "jobs", "list", "-t", Token);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("error: too many requests (rate_limited, HTTP 429); retry after 7 s\n", result.Stderr);
    }

    /// <summary>Answers every request with one fixed error response, as a controller or a proxy in front of it might.</summary>
    private sealed class AnswerHandler(HttpStatusCode status, string body, string mediaType, string? retryAfter) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, mediaType) };
            if (retryAfter is not null)
                response.Headers.TryAddWithoutValidation("Retry-After", retryAfter);
            return Task.FromResult(response);
        }
    }
}

using System.Net;

namespace Jobplane.Cli.Tests;

public sealed class ErrorMessageTests
{
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
    public void Unreachable_names_the_url()
    {
        var error = new ControllerUnreachableException(new Uri("http://controller:6161/"), "Connection refused");

        Assert.Equal("cannot reach controller at http://controller:6161: Connection refused", error.Message);
    }
}

using System.Net;
using Jobplane.Api;
using Jobplane.Testing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Jobplane.Controller.Tests;

/// <summary>What any HTTP client meets before a handler runs: JSON errors for unknown routes and methods, and slow clients cut off.</summary>
public sealed class HttpSurfaceTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    [Theory]
    [InlineData("GET", "/no-such-route")]
    [InlineData("POST", "/jobs/x/y/z")]
    [InlineData("DELETE", "/jobs")]
    [InlineData("PUT", "/healthz")]
    [InlineData("PATCH", "/executions/dlq")]
    public async Task Unknown_routes_and_methods_answer_a_JSON_error(string method, string path)
    {
        using var client = _host.Client();
        using var response = await client.SendAsync(Api.Request(new HttpMethod(method), path, "{}"));
        Assert.True(response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed, $"{method} {path}: {(int)response.StatusCode}");
        var error = await Api.AssertErrorAsync(response, response.StatusCode);
        Assert.True(error.Code is ErrorCodes.NotFound or ErrorCodes.MethodNotAllowed, error.Code);
    }

    [Fact]
    public void Slow_clients_are_cut_off_and_bodies_are_bounded_by_the_server()
    {
        var limits = _host.Services.GetRequiredService<IOptions<KestrelServerOptions>>().Value.Limits;
        Assert.Equal(Http.Limits.MaxRequestBodyBytes, limits.MaxRequestBodySize);
        Assert.True(limits.RequestHeadersTimeout <= TimeSpan.FromSeconds(30), $"headers timeout {limits.RequestHeadersTimeout}");
        Assert.NotNull(limits.MinRequestBodyDataRate);
        Assert.True(limits.MinRequestBodyDataRate.BytesPerSecond >= 240, $"min body rate {limits.MinRequestBodyDataRate.BytesPerSecond} B/s");
        Assert.True(limits.KeepAliveTimeout <= TimeSpan.FromMinutes(3), $"keep-alive {limits.KeepAliveTimeout}");
    }
}

using System.Net;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>
/// Issue 12: a timestamp without an offset named no instant and was read in the serving replica's
/// time zone. Every timestamp the API accepts must carry its offset; otherwise 400
/// invalid_timestamp naming the field, and nothing is written.
/// </summary>
public sealed class TimestampTests : IAsyncLifetime
{
    private readonly ControllerHost _host = new();
    public Task InitializeAsync() => _host.InitializeAsync();
    public Task DisposeAsync() => _host.DisposeAsync();

    [Theory]
    [InlineData("2030-06-01T12:00:00")]
    [InlineData("2030-06-01T12:00:00.123")]
    [InlineData("2030-06-01")]
    [InlineData("2030-06-01T12:00")]
    [InlineData("2030-06-01T12:00:00+0530")]
    [InlineData("06/01/2030 12:00:00 +00:00")]
    [InlineData("Sat, 01 Jun 2030 12:00:00 GMT")]
    public async Task A_timestamp_without_an_offset_is_refused_naming_the_field_and_nothing_is_stored(string at)
    {
        var (_, client) = await _host.TenantClientAsync();
        using var _ = client;
        var job = await Api.CreateJobAsync(client);
        var response = await client.PostAsync($"/jobs/{job}/run", Api.RawJson($$"""{"scheduled_at": "{{at}}"}"""));
        var error = await Api.AssertErrorAsync(response, HttpStatusCode.BadRequest, ErrorCodes.InvalidTimestamp);
        Assert.StartsWith("scheduled_at: ", error.Error, StringComparison.Ordinal);
        Assert.Contains("offset", error.Error, StringComparison.Ordinal);
        var list = await Api.ReadAsync(await client.GetAsync("/executions"), Api.Json.ExecutionList);
        Assert.Empty(list.Executions);
    }

    [Theory]
    [InlineData("2030-06-01T12:00:00+05:30", "2030-06-01T06:30:00Z")]
    [InlineData("2030-06-01T12:00:00-04:00", "2030-06-01T16:00:00Z")]
    [InlineData("2030-06-01T12:00:00Z", "2030-06-01T12:00:00Z")]
    [InlineData("2030-06-01t12:00:00.5z", "2030-06-01T12:00:00.5Z")]
    [InlineData("2030-06-01T12:00:00.123456789+00:00", "2030-06-01T12:00:00.1234567Z")]
    public async Task A_timestamp_with_an_offset_is_stored_as_that_instant(string at, string instant)
    {
        var (_, client) = await _host.TenantClientAsync();
        using var _ = client;
        var job = await Api.CreateJobAsync(client);
        var run = await Api.RunAsync(client, job, $$"""{"scheduled_at": "{{at}}"}""");
        var view = await Api.GetExecutionAsync(client, run.ExecutionId);
        var expected = DateTimeOffset.Parse(instant, System.Globalization.CultureInfo.InvariantCulture);
        // PostgreSQL keeps microseconds.
        Assert.Equal(expected.UtcTicks / 10 * 10, view.ScheduledAt.UtcTicks);
    }
}

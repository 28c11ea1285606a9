using System.Text;
using System.Text.Json;
using Jobplane.Api;

namespace Jobplane.Api.Tests;

/// <summary>
/// Timestamps in request and answer bodies: the canonical form is read from its bytes, everything
/// else through the full pattern, and both ways give the same instant and refuse the same texts.
/// </summary>
public sealed class Rfc3339Tests
{
    [Theory]
    [InlineData("2030-06-01T12:00:00Z")]
    [InlineData("2030-06-01T12:00:00.5Z")]
    [InlineData("2030-06-01T12:00:00.1234567Z")]
    [InlineData("2030-06-01T12:00:00.1234567+05:30")]
    [InlineData("2030-06-01T12:00:00-04:00")]
    [InlineData("2030-12-31T23:59:59.9999999+14:00")]
    [InlineData("2030-06-01T12:00:00.123456789+00:00")]
    [InlineData("2030-06-01t12:00:00.5z")]
    [InlineData("2030-06-01 12:00:00Z")]
    public void Every_accepted_form_reads_as_the_instant_the_pattern_gives(string text)
    {
        Assert.True(Rfc3339.TryParse(text, out var expected));
        var read = Read(text);
        Assert.Equal(expected, read);
        Assert.Equal(expected.Offset, read.Offset);
    }

    [Theory]
    [InlineData("2030-06-01T12:00:00")]
    [InlineData("2030-06-01T12:00:00.123")]
    [InlineData("2030-06-01")]
    [InlineData("2030-06-01T12:00")]
    [InlineData("2030-06-01T12:00:00+0530")]
    [InlineData("2030-02-30T12:00:00Z")]
    [InlineData("2030-06-01T24:00:00Z")]
    [InlineData("2030-06-01T12:00:00.Z")]
    [InlineData("2030-06-01T12:00:00+15:00")]
    public void A_timestamp_the_pattern_refuses_is_refused(string text)
    {
        Assert.False(Rfc3339.TryParse(text, out _));
        Assert.Throws<InvalidTimestampException>(() => Read(text));
    }

    private static DateTimeOffset Read(string text)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(text)));
        reader.Read();
        return new Rfc3339JsonConverter().Read(ref reader, typeof(DateTimeOffset), JsonSerializerOptions.Default);
    }
}

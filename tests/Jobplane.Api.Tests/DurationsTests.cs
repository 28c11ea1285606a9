using Jobplane.Api;

namespace Jobplane.Api.Tests;

public sealed class DurationsTests
{
    public static TheoryData<string, TimeSpan> Valid => new()
    {
        { "500ms", TimeSpan.FromMilliseconds(500) },
        { "10s", TimeSpan.FromSeconds(10) },
        { "2m", TimeSpan.FromMinutes(2) },
        { "1h", TimeSpan.FromHours(1) },
        { "1m30s", TimeSpan.FromSeconds(90) },
        { "30", TimeSpan.FromSeconds(30) },
        { "0.5", TimeSpan.FromMilliseconds(500) },
        { " 10s ", TimeSpan.FromSeconds(10) },
        { "0", TimeSpan.Zero },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void Parses_units_combinations_and_bare_seconds(string text, TimeSpan expected)
    {
        Assert.True(Durations.TryParse(text, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    [InlineData("abc")]
    [InlineData("10x")]
    [InlineData("-1")]
    [InlineData("-5s")]
    [InlineData("s")]
    [InlineData("10s5")]
    public void Rejects_malformed_or_negative_durations(string? text)
    {
        Assert.False(Durations.TryParse(text, out _));
    }

    [Theory]
    [InlineData(2000, "2s")]
    [InlineData(1500, "1.5s")]
    [InlineData(250, "250ms")]
    [InlineData(300_000, "5m")]
    [InlineData(90_000, "90s")]
    public void Formats_for_people(int milliseconds, string expected)
    {
        Assert.Equal(expected, Durations.Format(TimeSpan.FromMilliseconds(milliseconds)));
    }

    [Theory]
    [InlineData("250ms")]
    [InlineData("2s")]
    [InlineData("1.5s")]
    [InlineData("5m")]
    public void Formatted_durations_parse_back_to_the_same_value(string text)
    {
        Assert.True(Durations.TryParse(text, out var value));
        Assert.Equal(text, Durations.Format(value));
    }
}

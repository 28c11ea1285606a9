using System.Text.Json;
using Jobplane.Api;

namespace Jobplane.Api.Tests;

public sealed class PriorityTests
{
    [Theory]
    [InlineData("low", 0)]
    [InlineData("normal", 50)]
    [InlineData("high", 75)]
    [InlineData("critical", 100)]
    [InlineData("LOW", 0)]
    [InlineData("Normal", 50)]
    [InlineData("HiGh", 75)]
    [InlineData(" Critical ", 100)]
    public void Names_map_to_their_values_in_any_case(string text, int expected)
    {
        Assert.True(Priority.TryParse(text, out var p, out var error), error);
        Assert.Equal(expected, p.Value);
        Assert.Null(error);
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("1", 1)]
    [InlineData("42", 42)]
    [InlineData("99", 99)]
    [InlineData("100", 100)]
    public void Numbers_from_0_to_100_are_accepted(string text, int expected)
    {
        Assert.True(Priority.TryParse(text, out var p, out var error), error);
        Assert.Equal(expected, p.Value);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("101")]
    [InlineData("urgent")]
    [InlineData("1.5")]
    [InlineData("")]
    [InlineData(null)]
    public void Out_of_range_or_unknown_values_are_rejected_with_a_message(string? text)
    {
        Assert.False(Priority.TryParse(text, out _, out var error));
        Assert.NotNull(error);
        Assert.Contains("0..100", error);
        Assert.Contains("low, normal, high, critical", error);
    }

    [Fact]
    public void Constructor_refuses_values_outside_the_range()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Priority(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Priority(101));
        Assert.Equal(100, new Priority(100).Value);
    }

    [Fact]
    public void Json_accepts_a_name_and_writes_a_number()
    {
        var request = JsonSerializer.Deserialize(
            """{"name":"nightly","image":"alpine","priority":"high"}""",
            JobplaneJsonContext.Default.CreateJobRequest)!;
        Assert.Equal(Priority.High, request.Priority);

        var json = JsonSerializer.Serialize(request, JobplaneJsonContext.Default.CreateJobRequest);
        using var doc = JsonDocument.Parse(json);
        var written = doc.RootElement.GetProperty("priority");
        Assert.Equal(JsonValueKind.Number, written.ValueKind);
        Assert.Equal(75, written.GetInt32());

        var back = JsonSerializer.Deserialize(json, JobplaneJsonContext.Default.CreateJobRequest)!;
        Assert.Equal(request, back);
        Assert.Equal(Priority.High, back.Priority);
    }

    [Theory]
    [InlineData("""{"priority":0}""", 0)]
    [InlineData("""{"priority":100}""", 100)]
    [InlineData("""{"priority":"CRITICAL"}""", 100)]
    [InlineData("""{"priority":"33"}""", 33)]
    public void Json_accepts_numbers_and_names(string json, int expected)
    {
        var request = JsonSerializer.Deserialize(json, JobplaneJsonContext.Default.RunJobRequest)!;
        Assert.Equal(expected, request.Priority!.Value.Value);
    }

    [Theory]
    [InlineData("""{"priority":-1}""")]
    [InlineData("""{"priority":101}""")]
    [InlineData("""{"priority":1.5}""")]
    [InlineData("""{"priority":"urgent"}""")]
    [InlineData("""{"priority":true}""")]
    public void Json_rejects_bad_priorities(string json)
    {
        var e = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize(json, JobplaneJsonContext.Default.RunJobRequest));
        Assert.Contains("priority", e.Message);
    }
}

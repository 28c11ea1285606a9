using Jobplane.Api;

namespace Jobplane.Api.Tests;

public sealed class ExecutionStatusTests
{
    [Theory]
    [InlineData("running", "RUNNING")]
    [InlineData("Pending", "PENDING")]
    [InlineData("SUCCEEDED", "SUCCEEDED")]
    [InlineData(" failed ", "FAILED")]
    [InlineData("retrying", "RETRYING")]
    [InlineData("scheduled", "SCHEDULED")]
    [InlineData("cancelled", "CANCELLED")]
    public void Parse_is_case_insensitive_and_returns_the_canonical_word(string text, string expected)
    {
        Assert.Equal(expected, ExecutionStatus.Parse(text));
    }

    [Theory]
    [InlineData("done")]
    [InlineData("canceled")]
    [InlineData("")]
    [InlineData(null)]
    public void Parse_returns_null_for_unknown_words(string? text)
    {
        Assert.Null(ExecutionStatus.Parse(text));
    }

    [Fact]
    public void Only_succeeded_failed_and_cancelled_are_terminal()
    {
        var terminal = ExecutionStatus.All.Where(ExecutionStatus.IsTerminal).ToHashSet();
        Assert.Equal(new HashSet<string> { "SUCCEEDED", "FAILED", "CANCELLED" }, terminal);
        Assert.Equal(7, ExecutionStatus.All.Count);
    }
}

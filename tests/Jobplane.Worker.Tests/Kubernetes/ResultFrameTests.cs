using System.Text;
using Jobplane.Api;
using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Runtimes.Kubernetes;

namespace Jobplane.Worker.Tests.Kubernetes;

/// <summary>What the runtime accepts from the result container's log: exactly one valid frame, nothing else.</summary>
public sealed class ResultFrameTests
{
    private static string Encode(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json));

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    public void An_empty_log_is_an_error(string log) =>
        Assert.Equal("the result container printed nothing", ResultFrame.TryParse(log, out _, out _));

    [Fact]
    public void A_frame_without_its_newline_is_still_one_frame()
    {
        Assert.Null(ResultFrame.TryParse("JOBPLANE-RESULT " + Encode("[1,2]"), out var outcome, out var json));
        Assert.Equal(2, outcome.Result!.Value.GetArrayLength());
        Assert.Equal("[1,2]", Encoding.UTF8.GetString(json!));
    }

    [Theory]
    [InlineData("JOBPLANE-RESULT e30=\nJOBPLANE-RESULT e30=\n")]
    [InlineData("warning: something\nJOBPLANE-RESULT e30=\n")]
    [InlineData("JOBPLANE-RESULT e30=\r\n")]
    public void More_than_one_line_is_an_error(string log) =>
        Assert.Equal("the result container printed more than one line", ResultFrame.TryParse(log, out _, out _));

    [Theory]
    [InlineData("{\"a\":1}\n")]
    [InlineData("JOBPLANE-RESULTe30=\n")]
    [InlineData("jobplane-result e30=\n")]
    public void A_line_that_is_not_a_frame_is_an_error(string log) =>
        Assert.StartsWith("the result container printed no result frame", ResultFrame.TryParse(log, out _, out _), StringComparison.Ordinal);

    [Theory]
    [InlineData("JOBPLANE-RESULT not*base64\n")]
    [InlineData("JOBPLANE-RESULT \n")]
    public void A_frame_that_is_not_base64_is_an_error(string log) =>
        Assert.Equal("the result frame is not base64 of a result", ResultFrame.TryParse(log, out _, out _));

    [Fact]
    public void A_frame_of_invalid_JSON_is_an_error()
    {
        var error = ResultFrame.TryParse("JOBPLANE-RESULT " + Encode("{nope") + "\n", out var outcome, out var json);

        Assert.StartsWith("the result frame is not valid JSON: ", error, StringComparison.Ordinal);
        Assert.Null(outcome.Result);
        Assert.Null(json);
    }

    [Fact]
    public void A_frame_over_one_MiB_is_refused_before_it_is_decoded()
    {
        var over = Convert.ToBase64String(new byte[Wire.MaxResultBytes + 3]);
        Assert.Equal($"the result frame holds more than {Wire.MaxResultBytes} bytes",
            ResultFrame.TryParse("JOBPLANE-RESULT " + over + "\n", out _, out _));

        // Within the encoded bound, one byte too many after decoding.
        var oneOver = Convert.ToBase64String(Encoding.UTF8.GetBytes("\"" + new string('x', Wire.MaxResultBytes - 1) + "\""));
        Assert.Equal($"the result frame holds {Wire.MaxResultBytes + 1} bytes, over the {Wire.MaxResultBytes}-byte limit",
            ResultFrame.TryParse("JOBPLANE-RESULT " + oneOver + "\n", out _, out _));
    }

    [Fact]
    public void A_refusal_carries_the_readers_reason_and_no_result_file_is_no_error()
    {
        Assert.Null(ResultFrame.TryParse("JOBPLANE-NO-RESULT result.json is a directory, not a regular file\n", out var refused, out var json));
        Assert.Equal(new ResultFile.Outcome(null, "result.json is a directory, not a regular file"), refused);
        Assert.Null(json);

        Assert.Null(ResultFrame.TryParse("JOBPLANE-NO-RESULT no result file\n", out var none, out _));
        Assert.Equal(new ResultFile.Outcome(null, null), none);
    }

    [Theory]
    [InlineData("JOBPLANE-NO-RESULT \n")]
    [InlineData("JOBPLANE-NO-RESULT\n")]
    public void An_empty_refusal_is_an_error(string log) =>
        Assert.NotNull(ResultFrame.TryParse(log, out _, out _));

    [Fact]
    public void A_reason_with_line_breaks_is_framed_on_one_line()
    {
        var line = ResultFrame.NoResult("first\nsecond\r\nthird");

        Assert.Equal("JOBPLANE-NO-RESULT first second third", line);
        Assert.Null(ResultFrame.TryParse(line + "\n", out var outcome, out _));
        Assert.Equal("first second third", outcome.Error);
    }

    [Fact]
    public void What_the_writer_frames_the_parser_reads_back()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"nested": {"list": [1, "two", null]}}""");

        Assert.Null(ResultFrame.TryParse(ResultFrame.WithResult(bytes) + "\n", out var outcome, out var json));
        Assert.Equal(bytes, json);
        Assert.Equal("two", outcome.Result!.Value.GetProperty("nested").GetProperty("list")[1].GetString());
    }
}

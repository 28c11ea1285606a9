using System.Text.Json;

namespace Jobplane.Worker.Tests.Exec;

public sealed class ExecRuntimeResultTests : IDisposable
{
    private readonly ExecHarness _exec = new();

    public void Dispose() => _exec.Dispose();

    [Fact]
    public async Task A_valid_result_json_is_returned()
    {
        var (outcome, _) = await _exec.RunAsync(ExecHarness.Shell("""printf '{"rows": 42, "ok": true, "tags": ["a", "b"]}' > "$JOBPLANE_OUTPUT_DIR/result.json" """));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.NotNull(outcome.Result);
        using var expected = JsonDocument.Parse("""{"rows": 42, "ok": true, "tags": ["a", "b"]}""");
        Assert.True(JsonElement.DeepEquals(expected.RootElement, outcome.Result.Value), outcome.Result.Value.GetRawText());
    }

    [Fact]
    public async Task No_result_json_is_not_an_error()
    {
        var (outcome, _) = await _exec.RunAsync(ExecHarness.Shell("true"));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Null(outcome.Result);
    }

    [Fact]
    public async Task A_result_one_byte_over_the_limit_fails_the_attempt_for_good()
    {
        var (outcome, _) = await _exec.RunAsync(ExecHarness.Shell("head -c 1048577 /dev/zero | tr '\\0' ' ' > result.json"));

        Assert.False(outcome.Succeeded);
        Assert.Equal(0, outcome.ExitCode);
        Assert.Equal("result.json is 1048577 bytes, over the 1048576-byte limit", outcome.Error);
        Assert.False(outcome.Retryable);
        Assert.Null(outcome.Result);
    }

    [Fact]
    public async Task A_result_far_over_the_limit_is_reported_with_its_real_size()
    {
        var (outcome, _) = await _exec.RunAsync(ExecHarness.Shell("head -c 5000000 /dev/zero > result.json"));

        Assert.Equal("result.json is 5000000 bytes, over the 1048576-byte limit", outcome.Error);
        Assert.False(outcome.Retryable);
    }

    [Fact]
    public async Task A_result_of_exactly_the_limit_is_accepted()
    {
        // A JSON string: quote, 1048574 letters, quote.
        var (outcome, _) = await _exec.RunAsync(ExecHarness.Shell(
            "{ printf '\"'; head -c 1048574 /dev/zero | tr '\\0' a; printf '\"'; } > result.json; stat -c %s result.json"));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(JsonValueKind.String, outcome.Result!.Value.ValueKind);
        Assert.Equal(1048574, outcome.Result.Value.GetString()!.Length);
    }

    [Fact]
    public async Task A_directory_is_refused()
    {
        var (outcome, _) = await _exec.RunAsync(ExecHarness.Shell("mkdir result.json"));

        Assert.Equal("result.json is a directory, not a regular file", outcome.Error);
        Assert.False(outcome.Retryable);
    }

    [Fact]
    public async Task Invalid_json_is_refused_with_the_parsers_reason()
    {
        var (outcome, _) = await _exec.RunAsync(ExecHarness.Shell("echo '{\"rows\": 42,' > result.json"));

        Assert.False(outcome.Succeeded);
        Assert.StartsWith("result.json is not valid JSON: ", outcome.Error, StringComparison.Ordinal);
        Assert.True(outcome.Error!.Length > "result.json is not valid JSON: ".Length);
        Assert.False(outcome.Retryable);
    }

    [Fact]
    public async Task An_empty_file_is_not_valid_json()
    {
        var (outcome, _) = await _exec.RunAsync(ExecHarness.Shell(": > result.json"));

        Assert.StartsWith("result.json is not valid JSON: ", outcome.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_job_keeps_its_exit_code_and_its_valid_result()
    {
        var (outcome, _) = await _exec.RunAsync(ExecHarness.Shell("echo '{\"partial\": 1}' > result.json; exit 4"));

        Assert.Equal(4, outcome.ExitCode);
        Assert.Equal("exit code 4", outcome.Error);
        Assert.True(outcome.Retryable);
        Assert.Equal(1, outcome.Result!.Value.GetProperty("partial").GetInt32());
    }

    [Fact]
    public async Task A_failed_job_with_a_refused_result_reports_both()
    {
        var (outcome, _) = await _exec.RunAsync(ExecHarness.Shell("ln -s /etc/hostname result.json; exit 4"));

        Assert.Equal(4, outcome.ExitCode);
        Assert.Equal("exit code 4; result.json is a symbolic link; refusing to follow it", outcome.Error);
        Assert.False(outcome.Retryable);
    }
}

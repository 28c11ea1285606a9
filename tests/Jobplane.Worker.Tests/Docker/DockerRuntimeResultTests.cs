namespace Jobplane.Worker.Tests.Docker;

/// <summary>result.json written by an untrusted container is read with the same care as exec's.</summary>
public sealed class DockerRuntimeResultTests : IAsyncLifetime
{
    private readonly DockerHarness _docker = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _docker.DisposeAsync().AsTask();

    [Fact]
    public async Task A_result_over_one_MiB_fails_the_attempt_without_retry()
    {
        // A valid JSON string of 1.1 MB: refused for its size alone.
        var (outcome, _) = await _docker.RunAsync(DockerHarness.Shell(
            """{ printf '"'; head -c 1100000 /dev/zero | tr '\0' a; printf '"'; } > "$JOBPLANE_OUTPUT_DIR/result.json" """));

        Assert.False(outcome.Succeeded);
        Assert.False(outcome.Retryable);
        Assert.Equal(0, outcome.ExitCode);
        Assert.Null(outcome.Result);
        Assert.Equal("result.json is 1100002 bytes, over the 1048576-byte limit", outcome.Error);
    }

    [Fact]
    public async Task A_symlinked_result_is_refused_not_followed()
    {
        var (outcome, _) = await _docker.RunAsync(DockerHarness.Shell("""ln -s /etc/passwd "$JOBPLANE_OUTPUT_DIR/result.json" """));

        Assert.False(outcome.Succeeded);
        Assert.False(outcome.Retryable);
        Assert.Null(outcome.Result);
        Assert.Equal("result.json is a symbolic link; refusing to follow it", outcome.Error);
    }

    [Fact]
    public async Task A_named_pipe_as_result_is_refused_without_blocking()
    {
        var (outcome, _) = await _docker.RunAsync(DockerHarness.Shell("""mkfifo "$JOBPLANE_OUTPUT_DIR/result.json" """));

        Assert.False(outcome.Retryable);
        Assert.Equal("result.json is a named pipe, not a regular file", outcome.Error);
    }

    [Fact]
    public async Task Invalid_json_fails_the_attempt_and_a_failing_exit_code_is_named_too()
    {
        var (outcome, _) = await _docker.RunAsync(DockerHarness.Shell("""echo '{not json' > "$JOBPLANE_OUTPUT_DIR/result.json"; exit 1"""));

        Assert.False(outcome.Retryable);
        Assert.Equal(1, outcome.ExitCode);
        Assert.StartsWith("exit code 1; result.json is not valid JSON: ", outcome.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_timed_out_job_has_no_result()
    {
        var (outcome, _) = await _docker.RunAsync(DockerHarness.Shell(
            """echo '{"partial": true}' > "$JOBPLANE_OUTPUT_DIR/result.json"; sleep 600""", timeout: TimeSpan.FromSeconds(1)));

        Assert.True(outcome.TimedOut);
        Assert.Null(outcome.Result);
    }
}

using System.Globalization;

namespace Jobplane.Worker.Tests.Docker;

/// <summary>A container's output reaches the log sink whole, in order, each stream on its own.</summary>
public sealed class DockerRuntimeOutputTests : IAsyncLifetime
{
    private readonly DockerHarness _docker = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _docker.DisposeAsync().AsTask();

    [Fact]
    public async Task A_hundred_thousand_lines_on_each_stream_all_arrive_in_order_and_apart()
    {
        // Both streams written at the same time, so that their frames interleave on the wire.
        var (outcome, logs) = await _docker.RunAsync(DockerHarness.Shell(
            "seq 1 100000 & seq 100001 200000 >&2; wait"));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(Enumerable.Range(1, 100000).Select(i => i.ToString(CultureInfo.InvariantCulture)), logs.Stdout);
        Assert.Equal(Enumerable.Range(100001, 100000).Select(i => i.ToString(CultureInfo.InvariantCulture)), logs.Stderr);
    }

    [Fact]
    public async Task Output_written_just_before_the_end_and_an_unterminated_last_line_are_kept()
    {
        var (outcome, logs) = await _docker.RunAsync(DockerHarness.Shell("printf 'a\\r\\nb\\n\\nlast'; printf 'err-last' >&2; exit 4"));

        Assert.Equal(4, outcome.ExitCode);
        Assert.Equal(["a", "b", "", "last"], logs.Stdout);
        Assert.Equal(["err-last"], logs.Stderr);
    }

    [Fact]
    public async Task Multibyte_characters_survive_any_framing()
    {
        // 30000 three-byte characters on one line: frames end in the middle of characters.
        var (outcome, logs) = await _docker.RunAsync(DockerHarness.Shell(
            "i=0; while [ $i -lt 3000 ]; do printf '€€€€€€€€€€'; i=$((i+1)); done; echo; echo 'naïve ✓'"));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(new string('€', 30000), logs.Stdout[0]);
        Assert.Equal("naïve ✓", logs.Stdout[1]);
    }

    [Fact]
    public async Task A_line_longer_than_the_limit_arrives_in_pieces()
    {
        await using var narrow = new DockerHarness(o => o with { MaxLineChars = 1000 });

        var (outcome, logs) = await narrow.RunAsync(DockerHarness.Shell("head -c 2500 /dev/zero | tr '\\0' x; echo; echo next"));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal([new string('x', 1000), new string('x', 1000), new string('x', 500), "next"], logs.Stdout);
    }

    [Fact]
    public async Task A_failing_log_sink_fails_the_attempt_as_a_worker_fault_and_removes_the_container()
    {
        var spec = DockerHarness.Shell("echo first; sleep 600");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            _docker.Runtime.RunAsync(spec, new ThrowingSink(), CancellationToken.None));

        Assert.Equal("the log sink failed while receiving job output", error.Message);
        Assert.IsType<IOException>(error.InnerException);
        Assert.Equal(0, await DockerHarness.ContainersOfAsync(spec));
        Assert.False(Directory.Exists(_docker.OutputFolderOf(spec)));
    }

    private sealed class ThrowingSink : Runtimes.ILogSink
    {
        public void Write(Runtimes.LogStream stream, string line) => throw new IOException("log store unavailable");
    }
}

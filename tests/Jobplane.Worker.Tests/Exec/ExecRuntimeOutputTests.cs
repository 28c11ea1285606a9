using Jobplane.Worker.Runtimes;

namespace Jobplane.Worker.Tests.Exec;

public sealed class ExecRuntimeOutputTests : IDisposable
{
    private readonly ExecHarness _exec = new();

    public void Dispose() => _exec.Dispose();

    [Fact]
    public async Task Ten_megabytes_interleaved_on_both_streams_arrive_complete()
    {
        // Two writers at once, 5 MiB each, 16-byte lines: a runtime that drained one pipe before the
        // other would deadlock here as soon as the other pipe's buffer filled.
        const int bytesPerStream = 5 * 1024 * 1024;
        var script = $"yes 012345678901234 | head -c {bytesPerStream} & yes abcdefghijklmno | head -c {bytesPerStream} >&2; wait";

        var (outcome, logs) = await _exec.RunAsync(ExecHarness.Shell(script, timeout: TimeSpan.FromSeconds(30)));

        Assert.True(outcome.Succeeded, outcome.Error);
        var stdout = logs.Stdout;
        var stderr = logs.Stderr;
        Assert.Equal(bytesPerStream, stdout.Sum(l => l.Length + 1));
        Assert.Equal(bytesPerStream, stderr.Sum(l => l.Length + 1));
        Assert.All(stdout, l => Assert.Equal("012345678901234", l));
        Assert.All(stderr, l => Assert.Equal("abcdefghijklmno", l));
    }

    [Fact]
    public async Task Pipelines_behave_as_in_a_terminal_because_no_signal_is_inherited_ignored()
    {
        var (outcome, logs) = await _exec.RunAsync(ExecHarness.Shell("grep SigIgn /proc/self/status; yes | head -n 1"));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(2, logs.Stdout.Count);
        // Bit n-1 stands for signal n. Signals 1..31 must all be at their default; 32 and 33 are
        // glibc's own (thread cancellation) and cannot be reset by anyone, so an ancestor's setting may show.
        var ignored = Convert.ToUInt64(logs.Stdout[0].Split('\t')[1], 16);
        Assert.Equal(0UL, ignored & 0x7FFF_FFFFUL);
        Assert.Equal("y", logs.Stdout[1]);
        Assert.Empty(logs.Stderr);
    }

    [Fact]
    public async Task A_one_mebibyte_line_arrives_whole_in_pieces_of_the_line_limit()
    {
        var (outcome, logs) = await _exec.RunAsync(ExecHarness.Shell("head -c 1048576 /dev/zero | tr '\\0' a; echo; echo after"));

        Assert.True(outcome.Succeeded, outcome.Error);
        var lines = logs.Stdout;
        Assert.Equal(16 + 1, lines.Count);
        Assert.All(lines.Take(16), piece => Assert.Equal(64 * 1024, piece.Length));
        var whole = string.Concat(lines.Take(16));
        Assert.Equal(1048576, whole.Length);
        Assert.DoesNotContain(whole, c => c != 'a');
        Assert.Equal("after", lines[^1]);
    }

    [Fact]
    public async Task Lines_are_delivered_while_the_job_is_still_running()
    {
        var sink = new CollectingLogSink();
        var spec = ExecHarness.Shell("echo first; sleep 600", timeout: TimeSpan.FromSeconds(20));
        using var stop = new CancellationTokenSource();

        var run = _exec.Runtime.RunAsync(spec, sink, stop.Token);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (sink.Stdout.Count == 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        var seenWhileRunning = sink.Stdout.ToList();
        await stop.CancelAsync();
        var outcome = await run;

        Assert.Equal(["first"], seenWhileRunning);
        Assert.True(outcome.Stopped);
    }

    [Fact]
    public async Task Carriage_returns_empty_lines_and_an_unterminated_last_line_are_kept_as_written()
    {
        var (outcome, logs) = await _exec.RunAsync(ExecHarness.Shell("printf 'dos\\r\\n\\nmid\\rdle\\nlast'"));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(["dos", "", "mid\rdle", "last"], logs.Stdout);
    }

    [Fact]
    public async Task Utf8_output_is_decoded()
    {
        var (_, logs) = await _exec.RunAsync(ExecHarness.Spec(["echo", "héllo wörld ✓ 🚀"]));

        Assert.Equal(["héllo wörld ✓ 🚀"], logs.Lines(LogStream.Stdout));
    }

    [Fact]
    public async Task A_small_line_limit_applies_to_every_stream()
    {
        using var exec = new ExecHarness(maxLineChars: 4);

        var (_, logs) = await exec.RunAsync(ExecHarness.Shell("echo abcdefghij; echo 0123 >&2"));

        Assert.Equal(["abcd", "efgh", "ij"], logs.Stdout);
        Assert.Equal(["0123"], logs.Stderr);
    }
}

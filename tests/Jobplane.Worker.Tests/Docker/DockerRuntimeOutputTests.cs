using System.Globalization;

namespace Jobplane.Worker.Tests.Docker;

/// <summary>A container's output reaches the log sink whole, in order, each stream on its own.</summary>
public sealed class DockerRuntimeOutputTests : IAsyncLifetime
{
    private readonly DockerHarness _docker = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _docker.DisposeAsync().AsTask();

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
}

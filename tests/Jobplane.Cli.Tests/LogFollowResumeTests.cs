using System.Text.Json;
using Jobplane.Testing;

namespace Jobplane.Cli.Tests;

/// <summary>A controller that ends every followed stream after one second (LOG_FOLLOW_MAX_DURATION).</summary>
public sealed class ShortStreamsFixture : IAsyncLifetime
{
    public ControllerHost Host { get; } = new(new Dictionary<string, string?> { ["LOG_FOLLOW_MAX_DURATION"] = "1s" });

    public Task InitializeAsync() => Host.InitializeAsync();

    public Task DisposeAsync() => Host.DisposeAsync();
}

/// <summary>`logs -f` across streams the controller ends on its time limit: every line once, in order, exit 0.</summary>
public sealed class LogFollowResumeTests(ShortStreamsFixture fixture) : IClassFixture<ShortStreamsFixture>
{
    private readonly LiveJobctl _jobctl = new(fixture.Host);

    [Fact]
    public async Task Logs_follow_resumes_seamlessly_when_the_controller_ends_the_stream_on_its_time_limit()
    {
        var (tenantId, key) = await _jobctl.NewTenantAsync();
        var submitted = await _jobctl.RunAsync(key, "submit", "--name", "long", "--image", "exec", "-c", "true", "-o", "json");
        Assert.True(submitted.ExitCode == 0, submitted.ToString());
        var executionId = JsonDocument.Parse(submitted.Stdout).RootElement.GetProperty("execution_id").GetString()!;
        var claim = await _jobctl.ClaimAsync(tenantId);

        var follow = _jobctl.RunAsync(key, "logs", executionId, "-f");
        var expected = new List<string>();
        // Lines keep coming for several stream lifetimes.
        for (var i = 0; i < 8; i++)
        {
            var line = $"line {i}";
            expected.Add(line);
            await _jobctl.AppendLogsAsync(claim, line);
            await Task.Delay(400);
        }
        Assert.False(follow.IsCompleted, "logs -f ended while the execution was still running");
        await _jobctl.CompleteAsync(claim, exitCode: 0);

        var result = await follow.WaitAsync(TimeSpan.FromSeconds(60)); // a hang guard
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(expected, result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("interrupted", result.Stderr, StringComparison.Ordinal);
    }
}

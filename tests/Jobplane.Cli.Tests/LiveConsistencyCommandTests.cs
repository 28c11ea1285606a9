namespace Jobplane.Cli.Tests;

/// <summary>
/// What a new user following the README noticed: attempts handed back by a draining worker, the due
/// time of waiting executions, and -o meaning the output format in every command (same fixture and
/// helpers as the rest of LiveCommandTests).
/// </summary>
public sealed partial class LiveCommandTests
{
    [Fact]
    public async Task A_handed_back_attempt_is_not_charged_and_is_shown_apart()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        var jobId = await CreateJobAsync(key, "--max-attempts", "1");
        var executionId = await RunJobAsync(key, jobId);
        await jobctl.ReleaseAsync(await jobctl.ClaimAsync(tenantId));
        var second = await jobctl.ClaimAsync(tenantId);
        Assert.Equal(executionId, second.ExecutionId.ToString());

        var status = await jobctl.RunAsync(key, "status", executionId);
        var json = Json(await jobctl.RunAsync(key, "status", executionId, "-o", "json"));

        AssertOk(status);
        var lines = Lines(status.Stdout);
        Assert.Contains("attempt:      1/1", lines);
        Assert.Contains("handed_back:  1", lines);
        // The API keeps numbering every start, and says how many of them were handed back.
        Assert.Equal(2, json.GetProperty("attempt").GetInt32());
        Assert.Equal(1, json.GetProperty("handed_back").GetInt32());
        Assert.Equal(1, json.GetProperty("max_attempts").GetInt32());
        var row = Assert.Single(Lines((await jobctl.RunAsync(key, "executions", "list", "--job-id", jobId.ToString())).Stdout).Skip(1));
        Assert.Contains(" 1/1 ", row, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scheduled_executions_are_listed_with_their_due_time()
    {
        var (_, key) = await jobctl.NewTenantAsync();
        var jobId = await CreateJobAsync(key);
        var now = await RunJobAsync(key, jobId);
        var later = await jobctl.RunAsync(key, "run", jobId.ToString(), "--schedule", "2030-01-02T03:04:05Z");
        AssertOk(later);

        var scheduled = await jobctl.RunAsync(key, "executions", "list", "--status", "SCHEDULED");
        var mixed = await jobctl.RunAsync(key, "executions", "list");
        var pending = await jobctl.RunAsync(key, "executions", "list", "--status", "PENDING");

        AssertOk(scheduled);
        var table = Lines(scheduled.Stdout);
        Assert.Matches(@"^ID +JOB +STATUS +PRIORITY +ATTEMPT +CREATED_AT +DUE_AT +EXIT +ERROR$", table[0]);
        var row = Assert.Single(table.Skip(1));
        Assert.StartsWith(later.Stdout.Trim(), row, StringComparison.Ordinal);
        Assert.Contains(" 2030-01-02T03:04:05Z ", row, StringComparison.Ordinal);
        // With other rows in the list, those have no due time of their own.
        AssertOk(mixed);
        Assert.Contains("DUE_AT", Lines(mixed.Stdout)[0], StringComparison.Ordinal);
        Assert.Matches(@"PENDING +50 +0/3 +\S+ +- ", Assert.Single(Lines(mixed.Stdout), l => l.StartsWith(now, StringComparison.Ordinal)));
        // Nothing waits for a time: no column for it.
        AssertOk(pending);
        Assert.DoesNotContain("DUE_AT", pending.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dlq_list_takes_o_as_the_output_format_like_every_command()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        await DeadLettersAsync(tenantId, key, 2);

        var json = JsonArray(await jobctl.RunAsync(key, "dlq", "list", "-o", "json", "--offset", "1"));
        var refused = await jobctl.RunAsync(key, "dlq", "list", "-o", "1");

        Assert.Equal(1, json.GetArrayLength());
        Assert.Equal(2, refused.ExitCode);
    }
}

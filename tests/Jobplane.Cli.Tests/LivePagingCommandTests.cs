using System.Text.Json;
using System.Text.RegularExpressions;
using Jobplane.Testing;

namespace Jobplane.Cli.Tests;

/// <summary>
/// List commands page with --cursor: a page with more after it prints the command for the next
/// page on stderr (as audit does), and following those notes walks the whole list once.
/// </summary>
public sealed partial class LivePagingCommandTests(LiveControllerFixture fixture) : IClassFixture<LiveControllerFixture>
{
    private readonly LiveJobctl jobctl = new(fixture.Host);

    private Task<CliResult> AdminAsync(params string[] args) =>
        jobctl.RunWithEnvironmentAsync(new() { ["SYSTEM_SECRET"] = ControllerHost.AdminSecret }, args);

    private static void AssertOk(CliResult result) => Assert.True(result.ExitCode == 0, result.ToString());

    private static string[] Rows(CliResult result) => [.. result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1)];

    private async Task<Guid> CreateJobAsync(string key, params string[] extra)
    {
        var result = await jobctl.RunAsync(key, ["create", "--name", $"job-{Guid.NewGuid():N}", "--image", "exec", "-c", "echo", "-c", "hi", .. extra]);
        AssertOk(result);
        return Guid.Parse(result.Stdout.TrimEnd('\n'));
    }

    /// <summary>
    /// Runs <paramref name="first"/>, then each "more" note's command (checking it repeats
    /// <paramref name="expectedRepeat"/>) until a page prints none; answers every row's first column.
    /// </summary>
    private static async Task<List<string>> FollowNotesAsync(Func<string[], Task<CliResult>> run, string[] first, string expectedPrefix)
    {
        var ids = new List<string>();
        var args = first;
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < 50, "paging never ended");
            var result = await run(args);
            AssertOk(result);
            ids.AddRange(Rows(result).Select(r => r.Split(' ')[0]));
            var note = MoreNote().Match(result.Stderr);
            if (!note.Success)
            {
                Assert.Empty(result.Stderr);
                return ids;
            }
            var command = note.Groups["command"].Value;
            Assert.StartsWith(expectedPrefix, command, StringComparison.Ordinal);
            args = command.Split(' ');
        }
    }

    [Fact]
    public async Task Jobs_list_prints_the_next_page_command_and_following_it_lists_every_job_once()
    {
        var (_, key) = await jobctl.NewTenantAsync();
        var made = new List<string>();
        for (var i = 0; i < 5; i++) made.Add((await CreateJobAsync(key)).ToString());

        var first = await jobctl.RunAsync(key, "jobs", "list", "--limit", "2");
        Assert.Equal(2, Rows(first).Length);
        Assert.Matches(@"^note: more entries: jobctl jobs list --limit 2 --cursor [A-Za-z0-9_-]+\n$", first.Stderr);

        var seen = await FollowNotesAsync(args => jobctl.RunAsync(key, args), ["jobs", "list", "--limit", "2"], "jobs list --limit 2 --cursor ");
        Assert.Equal(made.AsEnumerable().Reverse(), seen);

        // --offset still works, and JSON carries next_cursor instead of a note.
        var json = await jobctl.RunAsync(key, "jobs", "list", "--limit", "1", "--offset", "1", "-o", "json");
        AssertOk(json);
        Assert.Empty(json.Stderr);
        var root = JsonDocument.Parse(json.Stdout).RootElement;
        Assert.Equal(made[3], Assert.Single(root.GetProperty("jobs").EnumerateArray()).GetProperty("id").GetString());
        Assert.Equal(JsonValueKind.String, root.GetProperty("next_cursor").ValueKind);
    }

    [Fact]
    public async Task Executions_list_notes_repeat_the_filters()
    {
        var (_, key) = await jobctl.NewTenantAsync();
        var job = await CreateJobAsync(key);
        var other = await CreateJobAsync(key);
        var runs = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var run = await jobctl.RunAsync(key, "run", job.ToString());
            AssertOk(run);
            runs.Add(run.Stdout.TrimEnd('\n'));
        }
        AssertOk(await jobctl.RunAsync(key, "run", other.ToString()));

        string[] first = ["executions", "list", "--job-id", job.ToString(), "--status", "PENDING", "--limit", "2"];
        var seen = await FollowNotesAsync(args => jobctl.RunAsync(key, args), first,
            $"executions list --status PENDING --job-id {job} --limit 2 --cursor ");
        Assert.Equal(runs.Order(), seen.Order());
    }

    [Fact]
    public async Task Dlq_list_says_the_next_page_also_with_json_output()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        var job = await CreateJobAsync(key, "--max-attempts", "1");
        for (var i = 0; i < 3; i++)
        {
            AssertOk(await jobctl.RunAsync(key, "run", job.ToString()));
            await jobctl.CompleteAsync(await jobctl.ClaimAsync(tenantId), 1, "boom");
        }

        var json = await jobctl.RunAsync(key, "dlq", "list", "--limit", "2", "--output", "json");
        AssertOk(json);
        Assert.Equal(2, JsonDocument.Parse(json.Stdout).RootElement.GetArrayLength());
        var note = MoreNote().Match(json.Stderr);
        Assert.True(note.Success, json.ToString());

        var seen = await FollowNotesAsync(args => jobctl.RunAsync(key, args), ["dlq", "list", "--limit", "2"], "dlq list --limit 2 --cursor ");
        Assert.Equal(3, seen.Distinct().Count());
    }

    [Fact]
    public async Task Keys_tenant_and_credential_lists_page_with_cursor()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        for (var i = 0; i < 2; i++) AssertOk(await jobctl.RunAsync(key, "keys", "create", "--name", $"k{i}"));
        var own = await FollowNotesAsync(args => jobctl.RunAsync(key, args), ["keys", "list", "--limit", "1"], "keys list --limit 1 --cursor ");
        Assert.Equal(3, own.Distinct().Count());
        var asAdmin = await FollowNotesAsync(AdminAsync, ["tenant", "keys", "list", tenantId.ToString(), "--limit", "2"],
            $"tenant keys list {tenantId} --limit 2 --cursor ");
        Assert.Equal(own, asAdmin);

        for (var i = 0; i < 3; i++) AssertOk(await AdminAsync("worker-credentials", "create", "--name", $"w{i}"));
        var credentials = await FollowNotesAsync(AdminAsync, ["worker-credentials", "list", "--limit", "2"], "worker-credentials list --limit 2 --cursor ");
        Assert.True(credentials.Count >= 3);
        Assert.Equal(credentials.Count, credentials.Distinct().Count());

        var tenants = await FollowNotesAsync(AdminAsync, ["tenant", "list", "--limit", "2"], "tenant list --limit 2 --cursor ");
        Assert.Contains(tenantId.ToString(), tenants);
        Assert.Equal(tenants.Count, tenants.Distinct().Count());
    }

    [Fact]
    public async Task A_bad_cursor_exits_1_with_the_controllers_message_naming_it()
    {
        var (_, key) = await jobctl.NewTenantAsync();

        var result = await jobctl.RunAsync(key, "executions", "list", "--cursor", "garbage!");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cursor", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.Stdout);
    }

    [GeneratedRegex(@"note: more entries: jobctl (?<command>.+)\n")]
    private static partial Regex MoreNote();
}

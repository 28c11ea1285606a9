using System.Text.Json;
using System.Text.RegularExpressions;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Cli.Tests;

/// <summary>Every jobctl command against the real controller and PostgreSQL; each test has its own tenant.</summary>
public sealed partial class LiveCommandTests(LiveControllerFixture fixture) : IClassFixture<LiveControllerFixture>
{
    private readonly LiveJobctl jobctl = new(fixture.Host);

    private static void AssertOk(CliResult result) => Assert.True(result.ExitCode == 0, result.ToString());

    private static JsonElement Json(CliResult result)
    {
        AssertOk(result);
        // Pretty printed: indented over several lines, exactly one JSON value on stdout.
        Assert.Contains("\n  \"", result.Stdout, StringComparison.Ordinal);
        return JsonDocument.Parse(result.Stdout).RootElement;
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private async Task<Guid> CreateJobAsync(string key, params string[] extra)
    {
        var result = await jobctl.RunAsync(key, ["create", "--name", $"job-{Guid.NewGuid():N}", "--image", "exec", "-c", "echo", "-c", "hi", .. extra]);
        AssertOk(result);
        return Guid.Parse(result.Stdout.TrimEnd('\n'));
    }

    [Fact]
    public async Task Tenant_create_as_administrator_prints_id_name_and_a_working_key()
    {
        var name = $"acme-{Guid.NewGuid():N}";
        var result = await jobctl.RunWithEnvironmentAsync(
            new() { ["SYSTEM_SECRET"] = ControllerHost.AdminSecret }, "tenant", "create", "--name", name, "--max-concurrent", "3");

        AssertOk(result);
        var lines = Lines(result.Stdout);
        Assert.Equal(3, lines.Length);
        Assert.Matches(@"^tenant_id: +[0-9a-f-]{36}$", lines[0]);
        Assert.Equal($"name:      {name}", lines[1]);
        var key = Assert.Single(ApiKeyLine().Matches(lines[2])).Groups[1].Value;
        Assert.Contains("shown only once", result.Stderr, StringComparison.Ordinal);

        AssertOk(await jobctl.RunAsync(key, "jobs", "list"));
    }

    [Fact]
    public async Task Tenant_create_json_is_the_response()
    {
        var result = await jobctl.RunAsync(ControllerHost.AdminSecret, "tenant", "create", "-n", "json-tenant", "-o", "json");

        var body = Json(result);
        Assert.Equal(["tenant_id", "name", "api_key"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal("json-tenant", body.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Tenant_commands_refuse_a_tenant_key()
    {
        var (_, key) = await jobctl.NewTenantAsync();

        var result = await jobctl.RunAsync(key, "tenant", "create", "--name", "sneaky");

        Assert.Equal(1, result.ExitCode);
        Assert.Matches(@"^error: .+ \(unauthorized, HTTP 401\)\n$", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task Tenant_update_changes_limits_and_reports_unknown_tenants()
    {
        var (tenantId, _) = await jobctl.NewTenantAsync();
        var admin = new Dictionary<string, string?> { ["SYSTEM_SECRET"] = ControllerHost.AdminSecret };

        var updated = await jobctl.RunWithEnvironmentAsync(new(admin),
            "tenant", "update", tenantId.ToString(), "--rate-limit", "2.5", "--rate-limit-burst", "5", "--max-concurrent", "4");
        var missing = await jobctl.RunWithEnvironmentAsync(new(admin), "tenant", "update", Guid.NewGuid().ToString(), "--name", "x");

        AssertOk(updated);
        Assert.Empty(updated.Stdout);
        Assert.Contains($"tenant {tenantId} updated", updated.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("HTTP 404", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_prints_only_the_job_id_and_json_prints_the_response()
    {
        var (_, key) = await jobctl.NewTenantAsync();

        var table = await jobctl.RunAsync(key, "create", "--name", "plain", "--image", "exec", "-c", "true", "-p", "high", "--timeout", "30", "--max-attempts", "2");
        var json = await jobctl.RunAsync(key, "create", "--name", "as-json", "--image", "exec", "-c", "true", "-o", "json");

        AssertOk(table);
        Assert.Matches(@"^[0-9a-f-]{36}\n$", table.Stdout);
        Assert.True(Guid.TryParse(Json(json).GetProperty("job_id").GetString(), out _));
    }

    [Fact]
    public async Task The_command_after_a_double_dash_is_taken_verbatim_even_when_it_looks_like_flags()
    {
        var key = (await fixture.Host.CreateTenantAsync()).ApiKey;
        var created = await jobctl.RunAsync(key, "create", "--name", "dashes", "--image", "exec", "-c", "nice", "--",
            "sh", "-c", "echo -n hi; exit 0", "--name", "-p");
        AssertOk(created);
        var jobs = Json(await jobctl.RunAsync(key, "jobs", "list", "-o", "json")).GetProperty("jobs");
        var job = Assert.Single(jobs.EnumerateArray());
        Assert.Equal(["nice", "sh", "-c", "echo -n hi; exit 0", "--name", "-p"],
            job.GetProperty("command").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal("dashes", job.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Run_prints_the_execution_id_and_status_shows_it()
    {
        var (_, key) = await jobctl.NewTenantAsync();
        var jobId = await CreateJobAsync(key, "-p", "low", "--max-attempts", "3");

        var run = await jobctl.RunAsync(key, "run", jobId.ToString(), "-p", "critical", "--timeout", "90");
        AssertOk(run);
        Assert.Matches(@"^[0-9a-f-]{36}\n$", run.Stdout);
        var executionId = run.Stdout.TrimEnd('\n');

        var status = await jobctl.RunAsync(key, "status", executionId);
        AssertOk(status);
        var lines = Lines(status.Stdout);
        Assert.Contains($"id:           {executionId}", lines);
        Assert.Contains($"job_id:       {jobId}", lines);
        Assert.Contains("status:       PENDING", lines);
        Assert.Contains("priority:     100", lines);
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^attempt: +\d+/3$"));
        Assert.Contains("started_at:   -", lines);
        Assert.Contains("exit_code:    -", lines);

        var json = Json(await jobctl.RunAsync(key, "status", executionId, "-o", "json"));
        Assert.Equal(executionId, json.GetProperty("id").GetString());
        Assert.Equal("PENDING", json.GetProperty("status").GetString());
        Assert.Equal(90, json.GetProperty("timeout_seconds").GetInt32());
    }

    [Fact]
    public async Task Run_with_a_schedule_sends_it()
    {
        var (_, key) = await jobctl.NewTenantAsync();
        var jobId = await CreateJobAsync(key);

        var run = await jobctl.RunAsync(key, "run", jobId.ToString(), "--schedule", "2099-01-02T03:04:05+02:00", "-o", "json");
        var body = Json(run);
        var status = Json(await jobctl.RunAsync(key, "-o", "json", "status", body.GetProperty("execution_id").GetString()!));

        Assert.Equal("SCHEDULED", body.GetProperty("status").GetString());
        Assert.Equal(DateTimeOffset.Parse("2099-01-02T01:04:05Z", System.Globalization.CultureInfo.InvariantCulture),
            status.GetProperty("scheduled_at").GetDateTimeOffset());
    }

    [Fact]
    public async Task Run_count_prints_that_many_new_execution_ids_that_status_shows()
    {
        var (_, key) = await jobctl.NewTenantAsync();
        var jobId = await CreateJobAsync(key);

        var run = await jobctl.RunAsync(key, "run", jobId.ToString(), "--count", "5", "-p", "high");
        AssertOk(run);
        var ids = Lines(run.Stdout);
        Assert.Equal(5, ids.Length);
        Assert.All(ids, i => Assert.Matches(@"^[0-9a-f-]{36}$", i));
        Assert.Equal(5, ids.Distinct().Count());
        foreach (var executionId in ids)
        {
            var status = Json(await jobctl.RunAsync(key, "status", executionId, "-o", "json"));
            Assert.Equal(jobId.ToString(), status.GetProperty("job_id").GetString());
            Assert.Equal("PENDING", status.GetProperty("status").GetString());
            Assert.Equal(75, status.GetProperty("priority").GetInt32());
        }

        var json = Json(await jobctl.RunAsync(key, "run", jobId.ToString(), "--count", "3", "--schedule", "2099-01-02T03:04:05Z", "-o", "json"));
        Assert.Equal(3, json.GetProperty("execution_ids").GetArrayLength());
        Assert.Equal("SCHEDULED", json.GetProperty("status").GetString());
        var scheduled = json.GetProperty("execution_ids")[0].GetString()!;
        Assert.Contains("status:       SCHEDULED", Lines((await jobctl.RunAsync(key, "status", scheduled)).Stdout));
    }

    [Fact]
    public async Task Run_count_of_an_unknown_job_exits_1_with_the_404()
    {
        var (_, key) = await jobctl.NewTenantAsync();

        var result = await jobctl.RunAsync(key, "run", Guid.NewGuid().ToString(), "--count", "2");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("HTTP 404", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task Submit_creates_and_runs_in_both_output_modes()
    {
        var (_, key) = await jobctl.NewTenantAsync();

        var table = await jobctl.RunAsync(key, "submit", "--name", "s", "--image", "exec", "-c", "echo", "-c", "a,b", "-p", "75");
        var json = Json(await jobctl.RunAsync(key, "submit", "--name", "s2", "--image", "exec", "-c", "true", "-o", "json"));

        AssertOk(table);
        // The execution id alone, as run prints it; the job id is a note on stderr.
        Assert.Matches(@"^[0-9a-f-]{36}\n$", table.Stdout);
        var match = SubmitNote().Match(table.Stderr);
        Assert.True(match.Success, table.Stderr);
        var status = await jobctl.RunAsync(key, "status", table.Stdout.Trim());
        AssertOk(status);
        Assert.Contains($"job_id:       {match.Groups["job"].Value}", status.Stdout, StringComparison.Ordinal);
        var run = await jobctl.RunAsync(key, "run", match.Groups["job"].Value);
        AssertOk(run);
        Assert.Matches(@"^[0-9a-f-]{36}\n$", run.Stdout);
        var jobs = Json(await jobctl.RunAsync(key, "jobs", "list", "-o", "json")).GetProperty("jobs");
        var job = Assert.Single(jobs.EnumerateArray(), j => j.GetProperty("id").GetString() == match.Groups["job"].Value);
        Assert.Equal(["echo", "a,b"], job.GetProperty("command").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(75, job.GetProperty("priority").GetInt32());
        Assert.True(Guid.TryParse(json.GetProperty("job_id").GetString(), out _));
        Assert.True(Guid.TryParse(json.GetProperty("execution_id").GetString(), out _));
    }

    [Fact]
    public async Task Jobs_list_shows_a_table_and_the_json_body()
    {
        var (_, key) = await jobctl.NewTenantAsync();
        var first = await CreateJobAsync(key, "--timeout", "45");
        var second = await CreateJobAsync(key);

        var table = await jobctl.RunAsync(key, "jobs", "list");
        var paged = Json(await jobctl.RunAsync(key, "jobs", "list", "--limit", "1", "--offset", "1", "-o", "json"));

        AssertOk(table);
        var lines = Lines(table.Stdout);
        Assert.Matches(@"^ID +NAME +IMAGE +COMMAND +PRIORITY +TIMEOUT +MAX_ATTEMPTS +CREATED_AT$", lines[0]);
        Assert.Equal(3, lines.Length);
        Assert.Contains(lines, l => l.StartsWith(first.ToString(), StringComparison.Ordinal) && l.Contains("echo hi", StringComparison.Ordinal) && l.Contains("45s", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith(second.ToString(), StringComparison.Ordinal));
        Assert.Equal(1, paged.GetProperty("limit").GetInt32());
        Assert.Equal(1, paged.GetProperty("offset").GetInt32());
        Assert.Single(paged.GetProperty("jobs").EnumerateArray());
    }

    [Fact]
    public async Task Executions_list_filters_by_job_and_status()
    {
        var (_, key) = await jobctl.NewTenantAsync();
        var jobId = await CreateJobAsync(key);
        var other = await CreateJobAsync(key);
        var executionId = (await jobctl.RunAsync(key, "run", jobId.ToString())).Stdout.TrimEnd('\n');
        AssertOk(await jobctl.RunAsync(key, "run", other.ToString()));

        var table = await jobctl.RunAsync(key, "executions", "list", "--job-id", jobId.ToString());
        var pending = Json(await jobctl.RunAsync(key, "executions", "list", "--status", "pending", "-o", "json"));
        var running = Json(await jobctl.RunAsync(key, "executions", "list", "--status", "RUNNING", "-o", "json"));

        AssertOk(table);
        var lines = Lines(table.Stdout);
        Assert.Matches(@"^ID +JOB +STATUS +PRIORITY +ATTEMPT +CREATED_AT +EXIT +ERROR$", lines[0]);
        var row = Assert.Single(lines.Skip(1));
        Assert.Matches($@"^{executionId}  {jobId}  PENDING +50 +\d+/\d+ +\S+Z? +- +-$", row);
        Assert.Equal(2, pending.GetProperty("executions").GetArrayLength());
        Assert.Equal(0, running.GetProperty("executions").GetArrayLength());
    }

    [Fact]
    public async Task A_bad_token_exits_1_with_the_401_message()
    {
        var result = await jobctl.RunAsync("not-a-real-key", "jobs", "list");

        Assert.Equal(1, result.ExitCode);
        Assert.Matches(@"^error: .+ \(unauthorized, HTTP 401\)\n$", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task An_unknown_execution_exits_1_with_the_404_message()
    {
        var (_, key) = await jobctl.NewTenantAsync();

        var result = await jobctl.RunAsync(key, "status", Guid.NewGuid().ToString());

        Assert.Equal(1, result.ExitCode);
        Assert.Matches(@"^error: .+ \(not_found, HTTP 404\)\n$", result.Stderr);
    }

    [Fact]
    public async Task An_empty_dlq_is_an_empty_table_or_an_empty_array()
    {
        var (_, key) = await jobctl.NewTenantAsync();

        var table = await jobctl.RunAsync(key, "dlq", "list");
        var json = await jobctl.RunAsync(key, "dlq", "list", "-o", "json", "-l", "10", "--offset", "0");

        AssertOk(table);
        Assert.Equal("ID  EXECUTION  JOB  PRIORITY  ATTEMPTS  FAILED_AT  ERROR\n", table.Stdout);
        AssertOk(json);
        Assert.Equal("[]", json.Stdout.Trim());
    }

    [Fact]
    public async Task A_failed_execution_shows_in_status_and_dlq_and_can_be_retried()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        var submitted = Json(await jobctl.RunAsync(key, "submit", "--name", "doomed", "--image", "exec", "-c", "false", "--max-attempts", "1", "-o", "json"));
        var executionId = submitted.GetProperty("execution_id").GetString()!;
        var claim = await jobctl.ClaimAsync(tenantId);
        await jobctl.CompleteAsync(claim, exitCode: 3, error: "exit status 3\nsecond line");

        var status = await jobctl.RunAsync(key, "status", executionId);
        AssertOk(status);
        Assert.Contains("status:       FAILED", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("attempt:      1/1", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("exit_code:    3", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("error:        exit status 3\n              second line\n", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("attempts:\n", status.Stdout, StringComparison.Ordinal);
        // The worker as a pseudonym: a tenant never learns a worker's id (its host name).
        Assert.Matches(@"\bworker-[0-9a-f]{16}\b", status.Stdout);
        Assert.DoesNotContain("cli-test-worker", status.Stdout, StringComparison.Ordinal);

        var dlq = await jobctl.RunAsync(key, "dlq", "list", "-l", "5", "--offset", "0");
        AssertOk(dlq);
        var row = Assert.Single(Lines(dlq.Stdout).Skip(1));
        Assert.Matches($@"^[0-9a-f-]{{36}}  {executionId}  doomed +50 +1 +\S+ +exit status 3 second line$", row);
        var dlqId = row[..36];

        var retried = await jobctl.RunAsync(key, "dlq", "retry", dlqId);
        AssertOk(retried);
        var newExecution = retried.Stdout.TrimEnd('\n');
        Assert.NotEqual(executionId, newExecution);
        Assert.Contains("status:       PENDING", (await jobctl.RunAsync(key, "status", newExecution)).Stdout, StringComparison.Ordinal);

        var again = await jobctl.RunAsync(key, "dlq", "retry", dlqId);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("HTTP 409", again.Stderr, StringComparison.Ordinal);
        Assert.Equal("[]", (await jobctl.RunAsync(key, "dlq", "list", "--output", "json")).Stdout.Trim());
    }

    [Fact]
    public async Task Logs_pages_through_every_line_in_order()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        var executionId = Json(await jobctl.RunAsync(key, "submit", "--name", "chatty", "--image", "exec", "-c", "true", "-o", "json"))
            .GetProperty("execution_id").GetString()!;
        var claim = await jobctl.ClaimAsync(tenantId);
        var lines = Enumerable.Range(1, 1205).Select(i => $"line {i}").ToArray();
        await jobctl.AppendLogsAsync(claim, lines);
        await jobctl.CompleteAsync(claim, exitCode: 0, resultJson: """{"rows": 3}""");

        var all = await jobctl.RunAsync(key, "logs", executionId);
        var json = await jobctl.RunAsync(key, "logs", executionId, "-o", "json");

        AssertOk(all);
        Assert.Equal(lines, Lines(all.Stdout));
        AssertOk(json);
        var entries = Lines(json.Stdout).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(1205, entries.Count);
        Assert.Equal("line 1", entries[0].GetProperty("content").GetString());

        var afterId = entries[1202].GetProperty("id").GetInt64();
        var tail = await jobctl.RunAsync(key, "logs", executionId, "--after-id", afterId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(["line 1204", "line 1205"], Lines(tail.Stdout));

        var status = await jobctl.RunAsync(key, "status", executionId);
        Assert.Contains("result:       {\"rows\":3}", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("status:       SUCCEEDED", status.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logs_follow_prints_lines_as_they_come_and_exits_0_at_the_end()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        var executionId = Json(await jobctl.RunAsync(key, "submit", "--name", "live", "--image", "exec", "-c", "true", "-o", "json"))
            .GetProperty("execution_id").GetString()!;
        var claim = await jobctl.ClaimAsync(tenantId);
        await jobctl.AppendLogsAsync(claim, "before follow");

        var follow = jobctl.RunAsync(key, "logs", executionId, "-f");
        await Task.Delay(500);
        Assert.False(follow.IsCompleted, "logs -f ended while the execution was still running");
        await jobctl.AppendLogsAsync(claim, "while following", "last words");
        await jobctl.CompleteAsync(claim, exitCode: 0);

        var result = await follow.WaitAsync(TimeSpan.FromSeconds(30));
        AssertOk(result);
        Assert.Equal(["before follow", "while following", "last words"], Lines(result.Stdout));

        var json = await jobctl.RunAsync(key, "logs", executionId, "--follow", "-o", "json");
        AssertOk(json);
        Assert.Equal(["before follow", "while following", "last words"],
            Lines(json.Stdout).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("content").GetString()));
    }

    [GeneratedRegex(@"^api_key: +(\S+)$")]
    private static partial Regex ApiKeyLine();

    [GeneratedRegex(@"^note: job (?<job>[0-9a-f-]{36})\n$")]
    private static partial Regex SubmitNote();
}

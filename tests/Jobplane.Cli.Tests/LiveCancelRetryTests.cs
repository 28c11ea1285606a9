using System.Text.Json;
using System.Text.RegularExpressions;

namespace Jobplane.Cli.Tests;

/// <summary>
/// cancel, --idempotency-key, the per-job retry policy, dlq retry --all / purge and attempts, against the
/// real controller and PostgreSQL (the same fixture and helpers as the rest of LiveCommandTests).
/// </summary>
public sealed partial class LiveCommandTests
{
    private async Task<string> RunJobAsync(string key, Guid jobId)
    {
        var run = await jobctl.RunAsync(key, "run", jobId.ToString());
        AssertOk(run);
        return run.Stdout.TrimEnd('\n');
    }

    /// <summary>One job with max-attempts 1, failed through the worker API <paramref name="count"/> times: that many dead letters.</summary>
    private async Task<(Guid JobId, List<string> Executions)> DeadLettersAsync(Guid tenantId, string key, int count)
    {
        var jobId = await CreateJobAsync(key, "--max-attempts", "1");
        var executions = new List<string>();
        for (var i = 0; i < count; i++)
        {
            executions.Add(await RunJobAsync(key, jobId));
            var claim = await jobctl.ClaimAsync(tenantId);
            Assert.Equal(executions[^1], claim.ExecutionId.ToString());
            await jobctl.CompleteAsync(claim, exitCode: 1, error: $"exit status 1 (run {i})");
        }
        return (jobId, executions);
    }

    /// <summary>A JSON array answer (Json() checks the indentation of an object's fields; an array's are deeper).</summary>
    private static JsonElement JsonArray(CliResult result)
    {
        AssertOk(result);
        var array = JsonDocument.Parse(result.Stdout).RootElement;
        Assert.Equal(JsonValueKind.Array, array.ValueKind);
        return array;
    }

    private static string StatusLine(CliResult status) =>
        Assert.Single(Lines(status.Stdout), l => l.StartsWith("status:", StringComparison.Ordinal));

    [Fact]
    public async Task Cancel_of_a_pending_execution_ends_it_and_a_second_cancel_is_a_conflict()
    {
        var (_, key) = await jobctl.NewTenantAsync();
        var executionId = await RunJobAsync(key, await CreateJobAsync(key));

        var cancelled = await jobctl.RunAsync(key, "cancel", executionId);
        AssertOk(cancelled);
        Assert.Equal($"execution {executionId}: CANCELLED\n", cancelled.Stdout);
        Assert.Empty(cancelled.Stderr);

        var status = await jobctl.RunAsync(key, "status", executionId);
        AssertOk(status);
        Assert.Matches(@"^status: +CANCELLED$", StatusLine(status));
        Assert.Contains(Lines(status.Stdout), l => Regex.IsMatch(l, @"^cancel_requested_at: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"));
        Assert.Equal("CANCELLED", Json(await jobctl.RunAsync(key, "status", executionId, "-o", "json")).GetProperty("status").GetString());

        var again = await jobctl.RunAsync(key, "cancel", executionId);
        Assert.Equal(1, again.ExitCode);
        Assert.Matches(@"^error: .+ \(conflict, HTTP 409\)\n$", again.Stderr);
        Assert.Empty(again.Stdout);
    }

    [Fact]
    public async Task Cancel_json_is_the_response_and_an_unknown_execution_is_404()
    {
        var (_, key) = await jobctl.NewTenantAsync();
        var executionId = await RunJobAsync(key, await CreateJobAsync(key));

        var body = Json(await jobctl.RunAsync(key, "cancel", executionId, "-o", "json"));
        var missing = await jobctl.RunAsync(key, "cancel", Guid.NewGuid().ToString());

        Assert.Equal(["execution_id", "status", "cancel_requested"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal(executionId, body.GetProperty("execution_id").GetString());
        Assert.Equal("CANCELLED", body.GetProperty("status").GetString());
        Assert.Equal(1, missing.ExitCode);
        Assert.Matches(@"^error: .+ \(not_found, HTTP 404\)\n$", missing.Stderr);
    }

    [Fact]
    public async Task Cancel_of_a_running_execution_asks_its_worker_and_it_ends_cancelled()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        var executionId = await RunJobAsync(key, await CreateJobAsync(key, "--max-attempts", "3"));
        var claim = await jobctl.ClaimAsync(tenantId);

        var cancel = await jobctl.RunAsync(key, "cancel", executionId);
        AssertOk(cancel);
        Assert.Equal($"execution {executionId}: cancel requested; its worker is stopping it\n", cancel.Stdout);
        var stopping = await jobctl.RunAsync(key, "status", executionId);
        Assert.Matches(@"^status: +RUNNING$", StatusLine(stopping));
        Assert.Contains(Lines(stopping.Stdout), l => l.StartsWith("cancel_requested_at: ", StringComparison.Ordinal) && !l.EndsWith(" -", StringComparison.Ordinal));

        // The worker stops the job and reports how it ended: the execution ends CANCELLED, not RETRYING.
        await jobctl.CompleteAsync(claim, exitCode: 143, error: "terminated: cancel requested");
        var ended = await jobctl.RunAsync(key, "status", executionId);
        Assert.Matches(@"^status: +CANCELLED$", StatusLine(ended));
        var attempts = await jobctl.RunAsync(key, "attempts", executionId);
        AssertOk(attempts);
        Assert.Matches(@"^1 +worker-[0-9a-f]{16} +\S+ +\S+ +143 +cancelled +", Lines(attempts.Stdout)[1]);
    }

    [Fact]
    public async Task Cancel_job_cancels_every_pending_execution()
    {
        var (_, key) = await jobctl.NewTenantAsync();
        var jobId = await CreateJobAsync(key);
        var other = await CreateJobAsync(key);
        for (var i = 0; i < 3; i++)
            await RunJobAsync(key, jobId);
        var untouched = await RunJobAsync(key, other);

        var bulk = await jobctl.RunAsync(key, "cancel", "--job", jobId.ToString());
        AssertOk(bulk);
        Assert.Equal("cancelled 3, stopping 0\n", bulk.Stdout);

        var cancelled = Json(await jobctl.RunAsync(key, "executions", "list", "--job-id", jobId.ToString(), "--status", "CANCELLED", "-o", "json"));
        Assert.Equal(3, cancelled.GetProperty("executions").GetArrayLength());
        Assert.Matches(@"^status: +PENDING$", StatusLine(await jobctl.RunAsync(key, "status", untouched)));

        // Nothing left to cancel is not an error; the JSON form is the response.
        var again = Json(await jobctl.RunAsync(key, "cancel", "--job-id", jobId.ToString(), "-o", "json"));
        Assert.Equal(0, again.GetProperty("cancelled").GetInt32());
        Assert.Equal(0, again.GetProperty("stopping").GetInt32());
    }

    [Fact]
    public async Task Cancel_job_counts_running_executions_as_stopping()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        var jobId = await CreateJobAsync(key);
        var running = await RunJobAsync(key, jobId);
        await jobctl.ClaimAsync(tenantId);
        await RunJobAsync(key, jobId);

        var bulk = await jobctl.RunAsync(key, "cancel", "--job", jobId.ToString());

        AssertOk(bulk);
        Assert.Equal("cancelled 1, stopping 1\n", bulk.Stdout);
        Assert.Matches(@"^status: +RUNNING$", StatusLine(await jobctl.RunAsync(key, "status", running)));
    }

    [Fact]
    public async Task Run_with_the_same_idempotency_key_twice_gives_the_same_execution_and_a_note()
    {
        var (_, key) = await jobctl.NewTenantAsync();
        var jobId = await CreateJobAsync(key);
        var idempotencyKey = $"deploy-{Guid.NewGuid():N}";

        var first = await jobctl.RunAsync(key, "run", jobId.ToString(), "--idempotency-key", idempotencyKey);
        var second = await jobctl.RunAsync(key, "run", jobId.ToString(), "--idempotency-key", idempotencyKey);
        var json = await jobctl.RunAsync(key, "run", jobId.ToString(), "--idempotency-key", idempotencyKey, "-o", "json");

        AssertOk(first);
        Assert.Matches(@"^[0-9a-f-]{36}\n$", first.Stdout);
        Assert.Empty(first.Stderr);
        AssertOk(second);
        Assert.Equal(first.Stdout, second.Stdout);
        Assert.Equal($"note: Idempotency-Key {idempotencyKey} was used before; this is the execution it created\n", second.Stderr);
        var body = Json(json);
        Assert.Equal(first.Stdout.TrimEnd('\n'), body.GetProperty("execution_id").GetString());
        Assert.True(body.GetProperty("replayed").GetBoolean());
        Assert.Single(Json(await jobctl.RunAsync(key, "executions", "list", "--job-id", jobId.ToString(), "-o", "json"))
            .GetProperty("executions").EnumerateArray());

        // Without a key, or with another one, each run is new.
        Assert.NotEqual(first.Stdout, (await jobctl.RunAsync(key, "run", jobId.ToString())).Stdout);
        Assert.NotEqual(first.Stdout, (await jobctl.RunAsync(key, "run", jobId.ToString(), "--idempotency-key", idempotencyKey + "-b")).Stdout);
    }

    [Fact]
    public async Task An_idempotency_key_used_for_another_job_is_a_conflict()
    {
        var (_, key) = await jobctl.NewTenantAsync();
        var jobId = await CreateJobAsync(key);
        var other = await CreateJobAsync(key);
        AssertOk(await jobctl.RunAsync(key, "run", jobId.ToString(), "--idempotency-key", "shared"));

        var conflict = await jobctl.RunAsync(key, "run", other.ToString(), "--idempotency-key", "shared");

        Assert.Equal(1, conflict.ExitCode);
        Assert.Matches(@"^error: .+ \(conflict, HTTP 409\)\n$", conflict.Stderr);
        Assert.Empty(conflict.Stdout);

        // submit defines the job, then its run conflicts: the note says so instead of suggesting a rerun with the same key.
        var submitted = await jobctl.RunAsync(key, "submit", "--name", "third", "--image", "exec", "-c", "true", "--idempotency-key", "shared");
        Assert.Equal(1, submitted.ExitCode);
        Assert.Matches(@"^note: job [0-9a-f-]{36} was created or updated but not run: Idempotency-Key shared was already used to run a different job; use a new key\n"
            + @"error: .+ \(conflict, HTTP 409\)\n$", submitted.Stderr);
        Assert.Empty(submitted.Stdout);
    }

    [Fact]
    public async Task A_retried_submit_with_the_same_key_creates_nothing_new()
    {
        var (_, key) = await jobctl.NewTenantAsync();
        string[] submit = ["submit", "--name", "nightly", "--image", "exec", "-c", "true", "--idempotency-key", "nightly-2030-01-02"];

        var first = await jobctl.RunAsync(key, submit);
        var second = await jobctl.RunAsync(key, submit);

        AssertOk(first);
        AssertOk(second);
        Assert.Matches(@"^[0-9a-f-]{36}\n$", first.Stdout);
        Assert.Equal(first.Stdout, second.Stdout);
        Assert.Matches(@"^note: job [0-9a-f-]{36}\n$", first.Stderr);
        Assert.Contains("note: Idempotency-Key nightly-2030-01-02 was used before", second.Stderr, StringComparison.Ordinal);
        Assert.Single(Json(await jobctl.RunAsync(key, "jobs", "list", "-o", "json")).GetProperty("jobs").EnumerateArray());
        Assert.Single(Json(await jobctl.RunAsync(key, "executions", "list", "-o", "json")).GetProperty("executions").EnumerateArray());
    }

    [Fact]
    public async Task Create_and_submit_send_the_retry_policy_and_jobs_list_json_shows_it()
    {
        var (_, key) = await jobctl.NewTenantAsync();
        var created = await jobctl.RunAsync(key, "create", "--name", "policy", "--image", "exec", "-c", "true",
            "--retry-backoff-base", "2.5", "--retry-backoff-max", "60", "--no-retry-exit-code", "42", "--no-retry-exit-code", "3");
        var submitted = await jobctl.RunAsync(key, "submit", "--name", "submitted", "--image", "exec", "-c", "true",
            "--retry-backoff-base", "1", "--retry-backoff-max", "1", "--no-retry-exit-code", "255");
        AssertOk(await jobctl.RunAsync(key, "create", "--name", "defaults", "--image", "exec", "-c", "true"));
        AssertOk(created);
        AssertOk(submitted);

        var jobs = Json(await jobctl.RunAsync(key, "jobs", "list", "-o", "json")).GetProperty("jobs").EnumerateArray()
            .ToDictionary(j => j.GetProperty("name").GetString()!);
        var policy = jobs["policy"];
        Assert.Equal(2.5, policy.GetProperty("retry_backoff_base").GetDouble());
        Assert.Equal(60, policy.GetProperty("retry_backoff_max").GetDouble());
        Assert.Equal([3, 42], policy.GetProperty("non_retryable_exit_codes").EnumerateArray().Select(c => c.GetInt32()).Order());
        Assert.Equal(1, jobs["submitted"].GetProperty("retry_backoff_base").GetDouble());
        Assert.Equal(1, jobs["submitted"].GetProperty("retry_backoff_max").GetDouble());
        Assert.Equal([255], jobs["submitted"].GetProperty("non_retryable_exit_codes").EnumerateArray().Select(c => c.GetInt32()));
        // Null fields are left out of every answer: no backoff of its own means the controller's default.
        Assert.False(jobs["defaults"].TryGetProperty("retry_backoff_base", out _));
        Assert.False(jobs["defaults"].TryGetProperty("retry_backoff_max", out _));
        Assert.Equal(0, jobs["defaults"].GetProperty("non_retryable_exit_codes").GetArrayLength());

        // The table gains no columns.
        var table = await jobctl.RunAsync(key, "jobs", "list");
        Assert.Matches(@"^ID +NAME +IMAGE +COMMAND +PRIORITY +TIMEOUT +MAX_ATTEMPTS +CREATED_AT$", Lines(table.Stdout)[0]);
    }

    [Fact]
    public async Task A_no_retry_exit_code_fails_the_execution_at_once()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        var jobId = Guid.Parse((await jobctl.RunAsync(key, "create", "--name", "strict", "--image", "exec", "-c", "false",
            "--max-attempts", "3", "--no-retry-exit-code", "3")).Stdout.TrimEnd('\n'));
        var executionId = await RunJobAsync(key, jobId);

        await jobctl.CompleteAsync(await jobctl.ClaimAsync(tenantId), exitCode: 3, error: "exit status 3");

        var status = await jobctl.RunAsync(key, "status", executionId);
        Assert.Matches(@"^status: +FAILED$", StatusLine(status));
        Assert.Contains("attempt:      1/3", status.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dlq_retry_all_requeues_every_dead_letter_and_empties_the_dlq()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        var (_, failed) = await DeadLettersAsync(tenantId, key, 2);

        var retried = await jobctl.RunAsync(key, "dlq", "retry", "--all");

        AssertOk(retried);
        var lines = Lines(retried.Stdout);
        Assert.Equal("retried 2", lines[0]);
        Assert.Equal(3, lines.Length);
        foreach (var newId in lines.Skip(1))
        {
            Assert.Matches(@"^[0-9a-f-]{36}$", newId);
            Assert.DoesNotContain(newId, failed);
            Assert.Matches(@"^status: +PENDING$", StatusLine(await jobctl.RunAsync(key, "status", newId)));
        }
        Assert.Equal("[]", (await jobctl.RunAsync(key, "dlq", "list", "--output", "json")).Stdout.Trim());

        var nothing = Json(await jobctl.RunAsync(key, "dlq", "retry", "--all", "-o", "json"));
        Assert.Equal(0, nothing.GetProperty("retried").GetInt32());
        Assert.Equal(0, nothing.GetProperty("new_execution_ids").GetArrayLength());
    }

    [Fact]
    public async Task Dlq_retry_all_with_a_job_id_retries_only_that_jobs_entries()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        var (jobId, _) = await DeadLettersAsync(tenantId, key, 2);
        var (_, kept) = await DeadLettersAsync(tenantId, key, 1);

        var retried = Json(await jobctl.RunAsync(key, "dlq", "retry", "--all", "--job-id", jobId.ToString(), "-o", "json"));

        Assert.Equal(2, retried.GetProperty("retried").GetInt32());
        Assert.Equal(2, retried.GetProperty("new_execution_ids").GetArrayLength());
        var left = JsonArray(await jobctl.RunAsync(key, "dlq", "list", "--output", "json"));
        Assert.Equal(kept[0], Assert.Single(left.EnumerateArray()).GetProperty("execution_id").GetString());
    }

    [Fact]
    public async Task Dlq_purge_removes_the_dead_letters_and_keeps_the_history()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        var (_, failed) = await DeadLettersAsync(tenantId, key, 2);

        var refused = await jobctl.RunAsync(key, "dlq", "purge");
        Assert.Equal(2, refused.ExitCode);
        Assert.Equal(2, JsonArray(await jobctl.RunAsync(key, "dlq", "list", "--output", "json")).GetArrayLength());

        var purged = await jobctl.RunAsync(key, "dlq", "purge", "--yes");

        AssertOk(purged);
        Assert.Equal("purged 2\n", purged.Stdout);
        Assert.Equal("[]", (await jobctl.RunAsync(key, "dlq", "list", "--output", "json")).Stdout.Trim());
        foreach (var executionId in failed)
            Assert.Matches(@"^status: +FAILED$", StatusLine(await jobctl.RunAsync(key, "status", executionId)));
        Assert.Equal(0, Json(await jobctl.RunAsync(key, "dlq", "purge", "--yes", "-o", "json")).GetProperty("purged").GetInt32());
    }

    [Fact]
    public async Task Dlq_purge_with_a_job_id_keeps_the_other_jobs_entries()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        var (jobId, _) = await DeadLettersAsync(tenantId, key, 1);
        var (_, kept) = await DeadLettersAsync(tenantId, key, 1);

        var purged = await jobctl.RunAsync(key, "dlq", "purge", "--job-id", jobId.ToString(), "-y");

        AssertOk(purged);
        Assert.Equal("purged 1\n", purged.Stdout);
        var left = JsonArray(await jobctl.RunAsync(key, "dlq", "list", "--output", "json"));
        Assert.Equal(kept[0], Assert.Single(left.EnumerateArray()).GetProperty("execution_id").GetString());
    }

    [Fact]
    public async Task Attempts_lists_every_attempt_as_a_table_or_the_json_array()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        var executionId = await RunJobAsync(key, await CreateJobAsync(key, "--max-attempts", "2", "--retry-backoff-base", "0.1", "--retry-backoff-max", "0.2"));
        await jobctl.CompleteAsync(await jobctl.ClaimAsync(tenantId), exitCode: 1, error: "exit status 1");
        await jobctl.CompleteAsync(await jobctl.ClaimAsync(tenantId), exitCode: 0);

        var table = await jobctl.RunAsync(key, "attempts", executionId);
        var jsonResult = await jobctl.RunAsync(key, "attempts", executionId, "-o", "json");
        var json = JsonArray(jsonResult);
        var none = await jobctl.RunAsync(key, "attempts", await RunJobAsync(key, await CreateJobAsync(key)));
        var missing = await jobctl.RunAsync(key, "attempts", Guid.NewGuid().ToString());

        AssertOk(table);
        var lines = Lines(table.Stdout);
        Assert.Equal(3, lines.Length);
        Assert.Matches(@"^ATTEMPT +WORKER +STARTED_AT +ENDED_AT +EXIT +OUTCOME +ERROR$", lines[0]);
        Assert.Matches(@"^1 +worker-[0-9a-f]{16} +\S+Z +\S+Z +1 +failed +exit status 1$", lines[1]);
        Assert.Matches(@"^2 +worker-[0-9a-f]{16} +\S+Z +\S+Z +0 +succeeded +-$", lines[2]);
        // Both attempts ran on the one test worker: the same pseudonym.
        Assert.Equal(lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        Assert.StartsWith("[\n  {\n    \"attempt\": 1,", jsonResult.Stdout, StringComparison.Ordinal);
        Assert.Equal([1, 2], json.EnumerateArray().Select(a => a.GetProperty("attempt").GetInt32()));
        Assert.Matches("^worker-[0-9a-f]{16}$", json[0].GetProperty("worker_id").GetString());
        AssertOk(none);
        Assert.Equal("ATTEMPT  WORKER  STARTED_AT  ENDED_AT  EXIT  OUTCOME  ERROR\n", none.Stdout);
        Assert.Equal(1, missing.ExitCode);
        Assert.Matches(@"^error: .+ \(not_found, HTTP 404\)\n$", missing.Stderr);
    }
}

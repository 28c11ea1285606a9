using System.Net;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>A job's retry policy over HTTP: retry_backoff_base, retry_backoff_max and non_retryable_exit_codes.</summary>
public sealed class RetryPolicyTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private async Task<IReadOnlyList<DlqEntry>> DlqAsync(HttpClient client) =>
        await Api.ReadAsync(await client.GetAsync("/executions/dlq"), Api.Json.IReadOnlyListDlqEntry);

    [Fact]
    public async Task Post_jobs_stores_the_retry_policy_and_get_returns_it()
    {
        var (_, client) = await _host.TenantClientAsync();
        var name = $"policy-{Guid.NewGuid():N}";

        var jobId = await Api.CreateJobAsync(client, name,
            extra: "\"retry_backoff_base\": 2.5, \"retry_backoff_max\": 600, \"non_retryable_exit_codes\": [78, 2, 78]");

        var raw = await client.GetStringAsync($"/jobs/{jobId}");
        using (var doc = JsonDocument.Parse(raw))
        {
            Assert.Equal(2.5, doc.RootElement.GetProperty("retry_backoff_base").GetDouble());
            Assert.Equal(600, doc.RootElement.GetProperty("retry_backoff_max").GetDouble());
            Assert.Equal([2, 78], doc.RootElement.GetProperty("non_retryable_exit_codes").EnumerateArray().Select(e => e.GetInt32()));
        }
        var listed = (await Api.ReadAsync(await client.GetAsync("/jobs"), Api.Json.JobList)).Jobs.Single(j => j.Id == jobId);
        Assert.Equal(2.5, listed.RetryBackoffBase);
        Assert.Equal(600, listed.RetryBackoffMax);

        // Re-posting the job without a policy returns it to the controller's defaults.
        using (var updated = await client.PostAsync("/jobs", Api.RawJson($$"""{"name": "{{name}}", "image": "exec"}""")))
        {
            Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        }
        var view = await Api.ReadAsync(await client.GetAsync($"/jobs/{jobId}"), Api.Json.JobView);
        Assert.Null(view.RetryBackoffBase);
        Assert.Null(view.RetryBackoffMax);
        Assert.Empty(view.NonRetryableExitCodes);
    }

    [Fact]
    public async Task A_job_without_a_policy_shows_an_empty_code_list_and_no_backoff()
    {
        var (_, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);

        var raw = await client.GetStringAsync($"/jobs/{jobId}");

        using var doc = JsonDocument.Parse(raw);
        Assert.False(doc.RootElement.TryGetProperty("retry_backoff_base", out _), raw);
        Assert.False(doc.RootElement.TryGetProperty("retry_backoff_max", out _), raw);
        Assert.Empty(doc.RootElement.GetProperty("non_retryable_exit_codes").EnumerateArray());
    }

    public static TheoryData<string, string, string> BadPolicies => new()
    {
        // label, extra JSON fields, the field the error must name
        { "base 0", "\"retry_backoff_base\": 0", "retry_backoff_base" },
        { "base negative", "\"retry_backoff_base\": -1", "retry_backoff_base" },
        { "max 0", "\"retry_backoff_max\": 0", "retry_backoff_max" },
        { "max below base", "\"retry_backoff_base\": 10, \"retry_backoff_max\": 5", "retry_backoff_max" },
        { "base as a string", "\"retry_backoff_base\": \"5\"", "retry_backoff_base" },
        { "exit code 0", "\"non_retryable_exit_codes\": [0]", "non_retryable_exit_codes" },
        { "exit code 256", "\"non_retryable_exit_codes\": [2, 256]", "non_retryable_exit_codes" },
        { "exit code -1", "\"non_retryable_exit_codes\": [-1]", "non_retryable_exit_codes" },
        { "exit codes 0 and 300", "\"non_retryable_exit_codes\": [0, 300]", "non_retryable_exit_codes" },
        { "exit codes not a list", "\"non_retryable_exit_codes\": 3", "non_retryable_exit_codes" },
    };

    [Theory]
    [MemberData(nameof(BadPolicies))]
    public async Task A_bad_retry_policy_is_400_naming_the_field_and_stores_nothing(string label, string extra, string field)
    {
        var (_, client) = await _host.TenantClientAsync();
        var name = $"bad-{Guid.NewGuid():N}";

        using var response = await client.PostAsync("/jobs", Api.RawJson($$"""{"name": "{{name}}", "image": "exec", {{extra}}}"""));

        var error = await Api.AssertErrorAsync(response, HttpStatusCode.BadRequest);
        Assert.True(error.Code is ErrorCodes.InvalidArgument or ErrorCodes.InvalidJson, $"{label}: code {error.Code}");
        Assert.True(error.Error.Contains(field, StringComparison.Ordinal), $"{label}: the error should name {field}: {error.Error}");
        Assert.Equal(0L, await _host.Database.ScalarAsync<long>("select count(*) from jobs where name = $1", name));
    }

    [Fact]
    public async Task A_bad_retry_policy_on_an_existing_job_leaves_its_policy_unchanged()
    {
        var (_, client) = await _host.TenantClientAsync();
        var name = $"keep-{Guid.NewGuid():N}";
        var jobId = await Api.CreateJobAsync(client, name, extra: "\"retry_backoff_base\": 3, \"non_retryable_exit_codes\": [4]");

        using var response = await client.PostAsync("/jobs", Api.RawJson(
            $$"""{"name": "{{name}}", "image": "exec", "retry_backoff_base": 9, "retry_backoff_max": 1}"""));

        await Api.AssertErrorAsync(response, HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument);
        var view = await Api.ReadAsync(await client.GetAsync($"/jobs/{jobId}"), Api.Json.JobView);
        Assert.Equal(3, view.RetryBackoffBase);
        Assert.Null(view.RetryBackoffMax);
        Assert.Equal([4], view.NonRetryableExitCodes);
    }

    [Fact]
    public async Task A_permanent_exit_code_fails_at_once_into_the_dlq_with_attempts_left()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client, maxAttempts: 3, extra: "\"non_retryable_exit_codes\": [42, 78]");
        var run = await Api.RunAsync(client, jobId);
        var claim = await Api.ClaimAsync(worker, tenant.TenantId, run.ExecutionId);

        Assert.Equal(ExecutionStatus.Failed, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 42));

        var view = await Api.GetExecutionAsync(client, run.ExecutionId);
        Assert.Equal(ExecutionStatus.Failed, view.Status);
        Assert.Equal(1, view.Attempt);
        Assert.Equal(3, view.MaxAttempts);
        Assert.Equal(42, view.ExitCode);
        Assert.Contains("permanent", view.Error);
        Assert.Contains("42", view.Error);
        var entry = Assert.Single(await DlqAsync(client));
        Assert.Equal(run.ExecutionId, entry.ExecutionId);
        Assert.Equal(1, entry.Attempts);
        Assert.Contains("permanent", entry.ErrorMessage);
        Assert.Empty(await Api.DequeueAsync(worker, tenant.TenantId, limit: 10));
    }

    [Fact]
    public async Task Other_exit_codes_of_a_job_with_permanent_codes_still_retry()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client, maxAttempts: 2, extra: "\"non_retryable_exit_codes\": [42]");
        var run = await Api.RunAsync(client, jobId);
        var claim = await Api.ClaimAsync(worker, tenant.TenantId, run.ExecutionId);

        Assert.Equal(ExecutionStatus.Retrying, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 1));

        // The controller's short default backoff brings it back; the second failure uses the last attempt.
        var second = await Api.ClaimAsync(worker, tenant.TenantId, run.ExecutionId);
        Assert.Equal(2, second.Attempt);
        Assert.Equal(ExecutionStatus.Failed, await Api.ResultAsync(worker, second.ExecutionId, second.LeaseToken, 43));
        var view = await Api.GetExecutionAsync(client, run.ExecutionId);
        Assert.DoesNotContain("permanent", view.Error);
        Assert.Equal(2, Assert.Single(await DlqAsync(client)).Attempts);
    }

    [Fact]
    public async Task The_jobs_backoff_base_sets_the_retry_delay()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        // The controller's own backoff here is 100 ms..1 s; this job asks for an hour.
        var jobId = await Api.CreateJobAsync(client, maxAttempts: 3, extra: "\"retry_backoff_base\": 3600");
        var run = await Api.RunAsync(client, jobId);
        var claim = await Api.ClaimAsync(worker, tenant.TenantId, run.ExecutionId);

        Assert.Equal(ExecutionStatus.Retrying, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 1));

        var view = await Api.GetExecutionAsync(client, run.ExecutionId);
        Assert.Equal(ExecutionStatus.Retrying, view.Status);
        // Both times come from the same database transaction: the gap is exactly the chosen delay,
        // which equal jitter picks between half and all of the hour.
        var failedAt = Assert.Single(view.Attempts!).EndedAt!.Value;
        var delay = view.ScheduledAt - failedAt;
        Assert.True(delay > TimeSpan.FromMinutes(25), $"retry delay {delay} should be about an hour");
        Assert.True(delay <= TimeSpan.FromHours(1), $"retry delay {delay} should be at most an hour");
        Assert.Empty(await Api.DequeueAsync(worker, tenant.TenantId, limit: 10));
    }

    [Fact]
    public async Task The_jobs_backoff_max_caps_the_retry_delay()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client, maxAttempts: 3, extra: "\"retry_backoff_base\": 3600, \"retry_backoff_max\": 3600");
        var run = await Api.RunAsync(client, jobId);
        var claim = await Api.ClaimAsync(worker, tenant.TenantId, run.ExecutionId);
        Assert.Equal(ExecutionStatus.Retrying, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 1));
        // Bring the retry forward and fail again: the doubled wait is capped at the job's maximum.
        await Api.ExecSqlAsync(_host, "update executions set scheduled_at = now() - interval '1 second' where id = $1", run.ExecutionId);
        var second = await Api.ClaimAsync(worker, tenant.TenantId, run.ExecutionId);

        Assert.Equal(ExecutionStatus.Retrying, await Api.ResultAsync(worker, second.ExecutionId, second.LeaseToken, 1));

        var view = await Api.GetExecutionAsync(client, run.ExecutionId);
        var delay = view.ScheduledAt - view.Attempts!.Single(a => a.Attempt == 2).EndedAt!.Value;
        Assert.True(delay >= TimeSpan.FromMinutes(30) && delay <= TimeSpan.FromHours(1), $"retry delay {delay} should be capped at an hour");
    }
}

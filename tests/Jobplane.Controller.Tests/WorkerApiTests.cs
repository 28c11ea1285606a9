using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>The worker's whole conversation with the controller, over HTTP.</summary>
public sealed class WorkerApiTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    [Fact]
    public async Task Dequeue_claims_with_a_lease_token_and_the_payload_the_worker_needs()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        using (var created = await client.PostAsync("/jobs", Api.RawJson(
            """{"name": "payload", "image": "alpine:3", "command": ["sh", "-c", "echo hi"], "default_timeout": 42, "priority": 60}""")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }
        var jobId = (await Api.ReadAsync(await client.GetAsync("/jobs"), Api.Json.JobList)).Jobs.Single().Id;
        var run = await Api.RunAsync(client, jobId);

        var claim = Assert.Single(await Api.DequeueAsync(worker, tenant.TenantId, limit: 10));
        Assert.Equal(run.ExecutionId, claim.ExecutionId);
        Assert.NotEqual(Guid.Empty, claim.LeaseToken);
        Assert.Equal(1, claim.Attempt);
        Assert.Equal(jobId, claim.Payload.JobId);
        Assert.Equal(tenant.TenantId, claim.Payload.TenantId);
        Assert.Equal("alpine:3", claim.Payload.Image);
        Assert.Equal(["sh", "-c", "echo hi"], claim.Payload.Command);
        Assert.Equal(42, claim.Payload.TimeoutSeconds);
        Assert.Equal(60, claim.Payload.Priority.Value);

        var view = await Api.GetExecutionAsync(client, run.ExecutionId);
        Assert.Equal(ExecutionStatus.Running, view.Status);
        Assert.Equal(1, view.Attempt);
        Assert.NotNull(view.StartedAt);

        // Claimed once: a second dequeue finds nothing.
        Assert.Empty(await Api.DequeueAsync(worker, tenant.TenantId, limit: 10));

        // A per-run timeout override reaches the payload.
        var overridden = await Api.RunAsync(client, jobId, """{"timeout": 7}""");
        var second = Assert.Single(await Api.DequeueAsync(worker, tenant.TenantId));
        Assert.Equal(overridden.ExecutionId, second.ExecutionId);
        Assert.Equal(7, second.Payload.TimeoutSeconds);
    }

    [Fact]
    public async Task Logs_shipped_with_the_lease_are_stored_in_order_and_page_by_after_id()
    {
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker);
        var id = claim.ExecutionId;

        // One chunk, then a batch.
        using (var single = await worker.PostAsync($"/internal/executions/{id}/logs",
            Api.RawJson($$"""{"lease_token": "{{claim.LeaseToken}}", "content": "line 0"}""")))
        {
            Assert.Equal(HttpStatusCode.NoContent, single.StatusCode);
        }
        await Api.ShipLogsAsync(worker, id, claim.LeaseToken, [.. Enumerable.Range(1, 6).Select(i => $"line {i}")]);

        var all = await Api.ReadAsync(await client.GetAsync($"/executions/{id}/logs"), Api.Json.LogPage);
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"line {i}"), all.Logs.Select(l => l.Content));
        Assert.Equal(all.Logs.Select(l => l.Id).Order(), all.Logs.Select(l => l.Id));

        var paged = new List<string>();
        long after = 0;
        var pages = 0;
        while (true)
        {
            var page = await Api.ReadAsync(await client.GetAsync($"/executions/{id}/logs?after_id={after}&limit=3"), Api.Json.LogPage);
            Assert.True(page.Logs.Count <= 3);
            if (page.Logs.Count == 0) break;
            pages++;
            paged.AddRange(page.Logs.Select(l => l.Content));
            Assert.All(page.Logs, l => Assert.True(l.Id > after));
            after = page.Logs[^1].Id;
        }
        Assert.Equal(3, pages);
        Assert.Equal(all.Logs.Select(l => l.Content), paged);

        // The raw page has the documented shape: {logs: [{id, content, created_at}]}.
        using var doc = JsonDocument.Parse(await client.GetStringAsync($"/executions/{id}/logs?limit=1"));
        var first = Assert.Single(doc.RootElement.GetProperty("logs").EnumerateArray());
        Assert.Equal(JsonValueKind.Number, first.GetProperty("id").ValueKind);
        Assert.Equal("line 0", first.GetProperty("content").GetString());
        Assert.Equal(JsonValueKind.String, first.GetProperty("created_at").ValueKind);
    }

    [Fact]
    public async Task A_successful_result_is_stored_with_its_json_and_shown_by_get()
    {
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker);
        var status = await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 0,
            """ "result": {"rows": 3, "files": ["a.csv", "b.csv"], "ok": true} """);
        Assert.Equal(ExecutionStatus.Succeeded, status);

        var view = await Api.GetExecutionAsync(client, claim.ExecutionId);
        Assert.Equal(ExecutionStatus.Succeeded, view.Status);
        Assert.Equal(0, view.ExitCode);
        Assert.NotNull(view.CompletedAt);
        Assert.Null(view.Error);
        Assert.NotNull(view.Result);
        var result = view.Result.Value;
        Assert.Equal(3, result.GetProperty("rows").GetInt32());
        Assert.Equal(["a.csv", "b.csv"], result.GetProperty("files").EnumerateArray().Select(f => f.GetString()));
        Assert.True(result.GetProperty("ok").GetBoolean());

        var attempt = Assert.Single(view.Attempts!);
        Assert.Equal("succeeded", attempt.Outcome);
        var attempts = await Api.ReadAsync(await client.GetAsync($"/executions/{claim.ExecutionId}/attempts"), Api.Json.IReadOnlyListAttemptView);
        Assert.Equal(1, Assert.Single(attempts).Attempt);
        // A pseudonym, the same in both views, never the worker's own id (its host name).
        Assert.Matches("^worker-[0-9a-f]{16}$", attempts[0].WorkerId);
        Assert.Equal(attempt.WorkerId, attempts[0].WorkerId);
        Assert.Equal(0, attempts[0].ExitCode);

        // The attempt is over: its token no longer holds anything.
        using var again = await Api.ReportAsync(worker, claim.ExecutionId, $$"""{"lease_token": "{{claim.LeaseToken}}", "exit_code": 1}""");
        await Api.AssertErrorAsync(again, HttpStatusCode.Conflict, ErrorCodes.LeaseLost);
        Assert.Equal(ExecutionStatus.Succeeded, (await Api.GetExecutionAsync(client, claim.ExecutionId)).Status);
    }

    [Fact]
    public async Task A_wrong_or_stale_lease_token_is_409_lease_lost_and_changes_nothing()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client, _, claim) = await Api.RunningAsync(_host, worker);
        var id = claim.ExecutionId;
        var wrong = Guid.NewGuid();

        async Task<long> LogCount() => await _host.Database.ScalarAsync<long>("select count(*) from execution_logs where execution_id = $1", id);

        await Api.AssertErrorAsync(await Api.ReportAsync(worker, id, $$"""{"lease_token": "{{wrong}}", "exit_code": 0}"""),
            HttpStatusCode.Conflict, ErrorCodes.LeaseLost);
        await Api.AssertErrorAsync(await worker.PostAsync($"/internal/executions/{id}/logs",
            Api.RawJson($$"""{"lease_token": "{{wrong}}", "content": "forged"}""")), HttpStatusCode.Conflict, ErrorCodes.LeaseLost);
        await Api.AssertErrorAsync(await worker.PutAsync($"/internal/executions/{id}/heartbeat",
            Api.RawJson($$"""{"lease_token": "{{wrong}}"}""")), HttpStatusCode.Conflict, ErrorCodes.LeaseLost);
        await Api.AssertErrorAsync(await worker.PostAsync($"/internal/executions/{id}/release",
            Api.RawJson($$"""{"lease_token": "{{wrong}}"}""")), HttpStatusCode.Conflict, ErrorCodes.LeaseLost);

        var view = await Api.GetExecutionAsync(client, id);
        Assert.Equal(ExecutionStatus.Running, view.Status);
        Assert.Null(view.ExitCode);
        Assert.Equal(0L, await LogCount());
        Assert.Equal(claim.LeaseToken, await _host.Database.ScalarAsync<Guid>("select lease_token from executions where id = $1", id));

        // The real holder is still heard.
        using (var hb = await worker.PutAsync($"/internal/executions/{id}/heartbeat", Api.RawJson($$"""{"lease_token": "{{claim.LeaseToken}}"}""")))
        {
            var beat = await Api.ReadAsync(hb, Api.Json.HeartbeatResponse);
            Assert.Equal(ExecutionStatus.Running, beat.Status);
        }

        // Stale: after a release and a new claim, the first attempt's token is refused.
        using (var released = await worker.PostAsync($"/internal/executions/{id}/release", Api.RawJson($$"""{"lease_token": "{{claim.LeaseToken}}"}""")))
        {
            Assert.Equal(HttpStatusCode.NoContent, released.StatusCode);
        }
        var second = await Api.ClaimAsync(worker, tenant.TenantId, id);
        Assert.NotEqual(claim.LeaseToken, second.LeaseToken);
        await Api.AssertErrorAsync(await Api.ReportAsync(worker, id, $$"""{"lease_token": "{{claim.LeaseToken}}", "exit_code": 3}"""),
            HttpStatusCode.Conflict, ErrorCodes.LeaseLost);
        await Api.AssertErrorAsync(await worker.PostAsync($"/internal/executions/{id}/logs",
            Api.RawJson($$"""{"lease_token": "{{claim.LeaseToken}}", "content": "from the old attempt"}""")), HttpStatusCode.Conflict, ErrorCodes.LeaseLost);
        Assert.Equal(ExecutionStatus.Running, (await Api.GetExecutionAsync(client, id)).Status);
        Assert.Equal(0L, await LogCount());
        Assert.Equal(ExecutionStatus.Succeeded, await Api.ResultAsync(worker, id, second.LeaseToken, 0));
    }

    [Fact]
    public async Task Missing_lease_token_is_400_and_an_unknown_execution_is_404()
    {
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker);
        var id = claim.ExecutionId;

        var missing = new (HttpMethod Method, string Path, string Body)[]
        {
            (HttpMethod.Put, $"/internal/executions/{id}/result", """{"exit_code": 0}"""),
            (HttpMethod.Post, $"/internal/executions/{id}/logs", """{"content": "x"}"""),
            (HttpMethod.Put, $"/internal/executions/{id}/heartbeat", "{}"),
            (HttpMethod.Post, $"/internal/executions/{id}/release", "{}"),
        };
        foreach (var (method, path, body) in missing)
        {
            var error = await Api.AssertErrorAsync(await worker.SendAsync(Api.Request(method, path, body)), HttpStatusCode.BadRequest);
            Assert.Contains("lease_token", error.Error, StringComparison.Ordinal);
        }
        Assert.Equal(ExecutionStatus.Running, (await Api.GetExecutionAsync(client, id)).Status);

        // A result with neither exit_code nor error says what is missing.
        var neither = await Api.AssertErrorAsync(await Api.ReportAsync(worker, id, $$"""{"lease_token": "{{claim.LeaseToken}}"}"""), HttpStatusCode.BadRequest);
        Assert.Contains("exit_code", neither.Error, StringComparison.Ordinal);

        var unknown = Guid.NewGuid();
        await Api.AssertErrorAsync(await Api.ReportAsync(worker, unknown, $$"""{"lease_token": "{{claim.LeaseToken}}", "exit_code": 0}"""),
            HttpStatusCode.NotFound, ErrorCodes.NotFound);
        await Api.AssertErrorAsync(await worker.PostAsync($"/internal/executions/{unknown}/logs",
            Api.RawJson($$"""{"lease_token": "{{claim.LeaseToken}}", "content": "x"}""")), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        await Api.AssertErrorAsync(await worker.PutAsync($"/internal/executions/{unknown}/heartbeat",
            Api.RawJson($$"""{"lease_token": "{{claim.LeaseToken}}"}""")), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        await Api.AssertErrorAsync(await worker.PostAsync($"/internal/executions/{unknown}/release",
            Api.RawJson($$"""{"lease_token": "{{claim.LeaseToken}}"}""")), HttpStatusCode.NotFound, ErrorCodes.NotFound);

        // Bad dequeue requests are 400 too.
        await Api.AssertErrorAsync(await worker.PostAsync("/internal/executions/dequeue", Api.RawJson("""{"limit": 0}""")), HttpStatusCode.BadRequest);
        await Api.AssertErrorAsync(await worker.PostAsync("/internal/executions/dequeue", Api.RawJson("""{"limit": 1, "wait_seconds": -1}""")), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Failing_until_max_attempts_fails_into_the_dlq_and_a_retry_runs_again_once()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client, jobId, claim) = await Api.RunningAsync(_host, worker, maxAttempts: 2);
        var id = claim.ExecutionId;

        // Attempt 1 fails: waiting to retry, never shown as RUNNING.
        var first = await Api.ResultAsync(worker, id, claim.LeaseToken, 2, "\"error\": \"boom 1\"");
        Assert.Equal(ExecutionStatus.Retrying, first);
        var waiting = await Api.GetExecutionAsync(client, id);
        Assert.NotEqual(ExecutionStatus.Running, waiting.Status);
        Assert.NotEqual(ExecutionStatus.Failed, waiting.Status);
        Assert.Empty(await Api.ReadAsync(await client.GetAsync("/executions/dlq"), Api.Json.IReadOnlyListDlqEntry));

        // Attempt 2 (after the short test backoff) fails too: FAILED and dead-lettered.
        var retry = await Api.ClaimAsync(worker, tenant.TenantId, id);
        Assert.Equal(2, retry.Attempt);
        Assert.Equal(ExecutionStatus.Failed, await Api.ResultAsync(worker, id, retry.LeaseToken, 3));

        var failed = await Api.GetExecutionAsync(client, id);
        Assert.Equal(ExecutionStatus.Failed, failed.Status);
        Assert.Equal(3, failed.ExitCode);
        Assert.False(string.IsNullOrEmpty(failed.Error));
        Assert.NotNull(failed.CompletedAt);
        Assert.Equal(2, failed.Attempts!.Count);
        Assert.All(failed.Attempts, a => Assert.Equal("failed", a.Outcome));

        using (var raw = await client.GetAsync("/executions/dlq"))
        {
            using var doc = JsonDocument.Parse(await raw.Content.ReadAsStringAsync());
            var entry = Assert.Single(doc.RootElement.EnumerateArray());
            foreach (var field in new[] { "id", "execution_id", "job_id", "job_name", "priority", "error_message", "attempts", "failed_at" })
                Assert.True(entry.TryGetProperty(field, out _), $"dlq entry lacks {field}: {entry}");
        }
        var dlq = Assert.Single(await Api.ReadAsync(await client.GetAsync("/executions/dlq"), Api.Json.IReadOnlyListDlqEntry));
        Assert.Equal(id, dlq.ExecutionId);
        Assert.Equal(jobId, dlq.JobId);
        Assert.Equal(2, dlq.Attempts);

        using var retried = await client.PostAsync($"/executions/dlq/{dlq.Id}/retry", null);
        var response = await Api.ReadAsync(retried, Api.Json.DlqRetryResponse, HttpStatusCode.Created);
        Assert.NotEqual(id, response.NewExecutionId);
        var fresh = await Api.GetExecutionAsync(client, response.NewExecutionId);
        Assert.Equal(ExecutionStatus.Pending, fresh.Status);
        Assert.Equal(jobId, fresh.JobId);
        Assert.Equal(0, fresh.Attempt);

        // The failed execution keeps its history; the entry leaves the DLQ list.
        Assert.Equal(ExecutionStatus.Failed, (await Api.GetExecutionAsync(client, id)).Status);
        Assert.Empty(await Api.ReadAsync(await client.GetAsync("/executions/dlq"), Api.Json.IReadOnlyListDlqEntry));

        // Retrying the same entry again, by either id, is a conflict and creates nothing.
        var count = await _host.Database.ScalarAsync<long>("select count(*) from executions where job_id = $1", jobId);
        await Api.AssertErrorAsync(await client.PostAsync($"/executions/dlq/{dlq.Id}/retry", null), HttpStatusCode.Conflict, ErrorCodes.Conflict);
        await Api.AssertErrorAsync(await client.PostAsync($"/executions/dlq/{id}/retry", null), HttpStatusCode.Conflict, ErrorCodes.Conflict);
        Assert.Equal(count, await _host.Database.ScalarAsync<long>("select count(*) from executions where job_id = $1", jobId));

        // The new execution is really queued.
        Assert.Equal(response.NewExecutionId, (await Api.ClaimAsync(worker, tenant.TenantId, response.NewExecutionId)).ExecutionId);
    }

    [Fact]
    public async Task A_dlq_entry_can_be_retried_by_its_execution_id()
    {
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker, maxAttempts: 1);
        Assert.Equal(ExecutionStatus.Failed, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 1));
        using var retried = await client.PostAsync($"/executions/dlq/{claim.ExecutionId}/retry", null);
        var response = await Api.ReadAsync(retried, Api.Json.DlqRetryResponse, HttpStatusCode.Created);
        Assert.Equal(ExecutionStatus.Pending, (await Api.GetExecutionAsync(client, response.NewExecutionId)).Status);
        await Api.AssertErrorAsync(await client.PostAsync($"/executions/dlq/{Guid.NewGuid()}/retry", null), HttpStatusCode.NotFound, ErrorCodes.NotFound);
    }

    [Fact]
    public async Task A_non_retryable_failure_goes_straight_to_failed()
    {
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker, maxAttempts: 5);
        var status = await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 1, "\"retryable\": false, \"error\": \"bad result.json\"");
        Assert.Equal(ExecutionStatus.Failed, status);
        var view = await Api.GetExecutionAsync(client, claim.ExecutionId);
        Assert.Equal("bad result.json", view.Error);
        Assert.Single(await Api.ReadAsync(await client.GetAsync("/executions/dlq"), Api.Json.IReadOnlyListDlqEntry));
    }

    [Theory]
    [InlineData("""{"s": "a\u0000b"}""")]
    [InlineData("""{"a\u0000": 1}""")]
    [InlineData("""{"s": "\ud800"}""")]
    [InlineData("""{"n": 1e1000000}""")]
    public async Task A_result_postgresql_cannot_store_is_a_client_error_not_a_500_and_the_attempt_can_still_end(string result)
    {
        // result.json is written by job code: valid JSON that jsonb refuses (NUL escapes, unpaired
        // surrogates, numbers beyond numeric's range) must not turn into an internal error that leaves
        // the execution stuck RUNNING until its lease expires.
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker, maxAttempts: 3);
        using var response = await Api.ReportAsync(worker, claim.ExecutionId,
            $$"""{"lease_token": "{{claim.LeaseToken}}", "exit_code": 0, "result": {{result}} }""");
        var code = (int)response.StatusCode;
        Assert.True(code < 500, $"expected 2xx (stored, sanitised) or 4xx (refused), got {code}: {await response.Content.ReadAsStringAsync()}");
        if (code >= 400)
        {
            var error = await Api.AssertErrorAsync(response, response.StatusCode);
            Assert.Contains("result", error.Error, StringComparison.OrdinalIgnoreCase);
            // Refused: the attempt still holds its lease and can report why it failed.
            Assert.Equal(ExecutionStatus.Running, (await Api.GetExecutionAsync(client, claim.ExecutionId)).Status);
            Assert.Equal(ExecutionStatus.Failed, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 0,
                "\"error\": \"result.json cannot be stored\", \"retryable\": false"));
        }
        else
        {
            var view = await Api.GetExecutionAsync(client, claim.ExecutionId);
            Assert.Equal(ExecutionStatus.Succeeded, view.Status);
            Assert.NotNull(view.Result);
        }
    }

    [Fact]
    public async Task A_result_batch_answers_each_report_in_order_with_its_own_fencing()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client, maxAttempts: 1);
        var runs = new List<Guid>();
        for (var i = 0; i < 4; i++) runs.Add((await Api.RunAsync(client, jobId)).ExecutionId);
        var claims = (await Api.DequeueAsync(worker, tenant.TenantId, limit: 10)).ToDictionary(c => c.ExecutionId);
        Assert.Equal(4, claims.Count);
        var (ok, failed, stale, huge) = (claims[runs[0]], claims[runs[1]], claims[runs[2]], claims[runs[3]]);
        var missing = Guid.NewGuid();
        var tooLarge = new string('x', Wire.MaxResultBytes);

        var answer = await Api.ReadAsync(await worker.PostAsync("/internal/results", Api.RawJson($$"""
            {"results": [
              {"execution_id": "{{ok.ExecutionId}}", "lease_token": "{{ok.LeaseToken}}", "exit_code": 0, "result": {"rows": 7} },
              {"execution_id": "{{missing}}", "lease_token": "{{Guid.NewGuid()}}", "exit_code": 0},
              {"execution_id": "{{failed.ExecutionId}}", "lease_token": "{{failed.LeaseToken}}", "exit_code": 2, "error": "exit code 2"},
              {"execution_id": "{{stale.ExecutionId}}", "lease_token": "{{Guid.NewGuid()}}", "exit_code": 0},
              {"execution_id": "{{huge.ExecutionId}}", "lease_token": "{{huge.LeaseToken}}", "exit_code": 0, "result": {"big": "{{tooLarge}}" } }
            ]}
            """)), Api.Json.ResultBatchResponse);

        Assert.Equal([ok.ExecutionId, missing, failed.ExecutionId, stale.ExecutionId, huge.ExecutionId], answer.Results.Select(a => a.ExecutionId));
        Assert.Equal([ResultAnswers.Accepted, ResultAnswers.NotFound, ResultAnswers.Accepted, ResultAnswers.LeaseLost, ResultAnswers.Refused],
            answer.Results.Select(a => a.Outcome));
        Assert.Equal([ExecutionStatus.Succeeded, null, ExecutionStatus.Failed, null, null], answer.Results.Select(a => a.Status));
        Assert.Equal(ErrorCodes.PayloadTooLarge, answer.Results[4].Code);
        Assert.Contains("limit", answer.Results[4].Error, StringComparison.Ordinal);

        var stored = await Api.GetExecutionAsync(client, ok.ExecutionId);
        Assert.Equal(ExecutionStatus.Succeeded, stored.Status);
        Assert.Equal(7, stored.Result!.Value.GetProperty("rows").GetInt32());
        Assert.Equal(ExecutionStatus.Failed, (await Api.GetExecutionAsync(client, failed.ExecutionId)).Status);
        Assert.Single(await Api.ReadAsync(await client.GetAsync("/executions/dlq"), Api.Json.IReadOnlyListDlqEntry));
        // A wrong token and a refused result change nothing: both still run, and the real holders can still report.
        Assert.Equal(ExecutionStatus.Running, (await Api.GetExecutionAsync(client, stale.ExecutionId)).Status);
        Assert.Equal(ExecutionStatus.Running, (await Api.GetExecutionAsync(client, huge.ExecutionId)).Status);
        Assert.Equal(ExecutionStatus.Succeeded, await Api.ResultAsync(worker, huge.ExecutionId, huge.LeaseToken, 0));
    }

    [Theory]
    [InlineData("""{"results": null}""", "results is required")]
    [InlineData("""{"results": [null]}""", "results[0]: must not be null")]
    [InlineData("""{"results": [{"lease_token": "3f2a1c9e-8a8b-4f3e-9d6c-2b1a0e9f8d7c", "exit_code": 0}]}""", "results[0]: execution_id is required")]
    public async Task A_malformed_result_batch_is_refused_whole_naming_the_problem(string body, string message)
    {
        using var worker = _host.WorkerClient();
        var error = await Api.AssertErrorAsync(await worker.PostAsync("/internal/results", Api.RawJson(body)), HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument);
        Assert.Contains(message, error.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task One_malformed_report_refuses_the_whole_batch_and_writes_nothing()
    {
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker);
        var error = await Api.AssertErrorAsync(await worker.PostAsync("/internal/results", Api.RawJson($$"""
            {"results": [
              {"execution_id": "{{claim.ExecutionId}}", "lease_token": "{{claim.LeaseToken}}", "exit_code": 0},
              {"execution_id": "{{Guid.NewGuid()}}", "lease_token": "{{claim.LeaseToken}}"},
              {"execution_id": "{{claim.ExecutionId}}", "lease_token": "{{claim.LeaseToken}}", "exit_code": 0}
            ]}
            """)), HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument);
        Assert.Equal("results[1]: exit_code or error is required", error.Error);
        Assert.Equal(ExecutionStatus.Running, (await Api.GetExecutionAsync(client, claim.ExecutionId)).Status);

        error = await Api.AssertErrorAsync(await worker.PostAsync("/internal/results", Api.RawJson($$"""
            {"results": [
              {"execution_id": "{{claim.ExecutionId}}", "lease_token": "{{claim.LeaseToken}}", "exit_code": 0},
              {"execution_id": "{{claim.ExecutionId}}", "lease_token": "{{claim.LeaseToken}}", "exit_code": 1}
            ]}
            """)), HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument);
        Assert.Equal($"results[1]: execution_id {claim.ExecutionId} appears more than once", error.Error);
        Assert.Equal(ExecutionStatus.Running, (await Api.GetExecutionAsync(client, claim.ExecutionId)).Status);
    }

    [Fact]
    public async Task A_heartbeat_batch_with_null_leases_is_400_not_500()
    {
        using var worker = _host.WorkerClient();
        using var response = await worker.PostAsync("/internal/heartbeats", Api.RawJson("""{"leases": null}"""));
        var error = await Api.AssertErrorAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("leases", error.Error, StringComparison.Ordinal);
        using var nullEntry = await worker.PostAsync("/internal/heartbeats", Api.RawJson("""{"leases": [null]}"""));
        await Api.AssertErrorAsync(nullEntry, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Heartbeat_batch_extends_held_leases_and_reports_the_others_lost()
    {
        using var worker = _host.WorkerClient();
        var (_, _, _, claim) = await Api.RunningAsync(_host, worker);
        var before = await _host.Database.ScalarAsync<DateTime>("select lease_expires_at from executions where id = $1", claim.ExecutionId);
        var bogus = Guid.NewGuid();

        var request = new WorkerHeartbeatRequest
        {
            WorkerId = "test-worker",
            Leases = [new LeaseRef(claim.ExecutionId, claim.LeaseToken), new LeaseRef(bogus, Guid.NewGuid()), new LeaseRef(claim.ExecutionId, Guid.NewGuid())],
        };
        using var response = await worker.PostAsJsonAsync("/internal/heartbeats", request, Api.Json.WorkerHeartbeatRequest);
        var result = await Api.ReadAsync(response, Api.Json.WorkerHeartbeatResponse);
        Assert.Equal([claim.ExecutionId], result.Extended);
        Assert.Contains(bogus, result.Lost);
        Assert.DoesNotContain(claim.ExecutionId, result.Lost);

        var after = await _host.Database.ScalarAsync<DateTime>("select lease_expires_at from executions where id = $1", claim.ExecutionId);
        Assert.True(after >= before);

        using var empty = await worker.PostAsJsonAsync("/internal/heartbeats", new WorkerHeartbeatRequest(), Api.Json.WorkerHeartbeatRequest);
        var none = await Api.ReadAsync(empty, Api.Json.WorkerHeartbeatResponse);
        Assert.Empty(none.Extended);
        Assert.Empty(none.Lost);
    }

    [Fact]
    public async Task A_released_execution_is_claimable_again_and_the_release_is_not_charged()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client, _, claim) = await Api.RunningAsync(_host, worker, maxAttempts: 2);
        using (var released = await worker.PostAsync($"/internal/executions/{claim.ExecutionId}/release",
            Api.RawJson($$"""{"lease_token": "{{claim.LeaseToken}}", "reason": "worker draining"}""")))
        {
            Assert.Equal(HttpStatusCode.NoContent, released.StatusCode);
        }
        var view = await Api.GetExecutionAsync(client, claim.ExecutionId);
        Assert.Equal(ExecutionStatus.Pending, view.Status);
        Assert.Equal("released", Assert.Single(view.Attempts!).Outcome);

        var again = await Api.ClaimAsync(worker, tenant.TenantId, claim.ExecutionId);
        Assert.NotEqual(claim.LeaseToken, again.LeaseToken);
        Assert.Equal(2, again.Attempt);
        // max_attempts is 2 and the released attempt is not charged: a failure now still leaves a retry.
        Assert.Equal(ExecutionStatus.Retrying, await Api.ResultAsync(worker, claim.ExecutionId, again.LeaseToken, 1));
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests.Dashboard;

/// <summary>
/// /ui/executions and /ui/executions/{id} driven over HTTP as a browser would: what a user sees
/// (rows, counts, timeline, log), what the actions change in the database, and what is refused.
/// </summary>
public sealed class ExecutionPagesTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private async Task<(CreateTenantResponse Tenant, HttpClient Api, DashboardClient Ui)> TenantAsync()
    {
        var (tenant, api) = await _host.TenantClientAsync();
        var ui = new DashboardClient(_host);
        await ui.SignInAsync(tenant.ApiKey);
        return (tenant, api, ui);
    }

    /// <summary>The executions listed as rows of the table, in order.</summary>
    private static List<Guid> Rows(string html) =>
        [.. Regex.Matches(html, "<th scope=\"row\"><a class=\"mono\" href=\"/ui/executions/([0-9a-f-]{36})\"").Select(m => Guid.Parse(m.Groups[1].Value))];

    /// <summary>The href of the link whose text is <paramref name="text"/>, decoded; null when there is none.</summary>
    private static string? Link(string html, string text)
    {
        var match = Regex.Match(html, $"<a href=\"([^\"]*)\">{Regex.Escape(text)}</a>");
        return match.Success ? WebUtility.HtmlDecode(match.Groups[1].Value) : null;
    }

    /// <summary>The page's text as a reader sees it (the encoder writes non-ASCII characters as references).</summary>
    private static string Text(string html) => WebUtility.HtmlDecode(html);

    private async Task<string> StatusAsync(Guid executionId) =>
        await _host.Database.ScalarAsync<string>("select status from executions where id = $1", executionId);

    private async Task<IReadOnlyList<Guid>> RunManyAsync(HttpClient api, Guid jobId, int count)
    {
        var response = await api.PostAsJsonAsync(Routes.Of(Routes.JobRuns, jobId), new BatchRunRequest { Count = count }, Api.Json.BatchRunRequest);
        return (await Api.ReadAsync(response, Api.Json.BatchRunResponse, HttpStatusCode.Created)).ExecutionIds;
    }

    /// <summary>Claims the execution and reports it failed with <paramref name="error"/>.</summary>
    private static async Task<string> FailAsync(HttpClient worker, Guid tenantId, Guid executionId, string error = "it broke")
    {
        var claim = await Api.ClaimAsync(worker, tenantId, executionId);
        return await Api.ResultAsync(worker, executionId, claim.LeaseToken, 1, $"\"error\": {JsonSerializer.Serialize(error)}");
    }

    private async Task<List<(string Action, Guid? TenantId, JsonElement Details)>> AuditAsync(string action, Guid tenantId)
    {
        await using var cmd = _host.Database.DataSource.CreateCommand(
            "select action, tenant_id, details::text from audit_log where action = $1 and tenant_id = $2 order by id");
        cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = action });
        cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = tenantId });
        await using var reader = await cmd.ExecuteReaderAsync();
        var list = new List<(string, Guid?, JsonElement)>();
        while (await reader.ReadAsync())
            list.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetGuid(1), JsonDocument.Parse(reader.GetString(2)).RootElement.Clone()));
        return list;
    }

    [Fact]
    public async Task Filters_by_status_job_error_text_and_time_show_exactly_the_matching_rows()
    {
        using var worker = _host.WorkerClient();
        var (tenant, api, ui) = await TenantAsync();
        using var _ = ui;
        var alpha = await Api.CreateJobAsync(api, "alpha", maxAttempts: 1);
        var beta = await Api.CreateJobAsync(api, "beta", maxAttempts: 1);
        // Failed ones first: a claim takes the tenant's oldest ready execution.
        var alphaFailed = (await Api.RunAsync(api, alpha)).ExecutionId;
        Assert.Equal(ExecutionStatus.Failed, await FailAsync(worker, tenant.TenantId, alphaFailed, "Disk FULL on /data"));
        var betaFailed = (await Api.RunAsync(api, beta)).ExecutionId;
        Assert.Equal(ExecutionStatus.Failed, await FailAsync(worker, tenant.TenantId, betaFailed, "network unreachable"));
        var alpha1 = (await Api.RunAsync(api, alpha)).ExecutionId;
        var alpha2 = (await Api.RunAsync(api, alpha)).ExecutionId;
        var betaOk = (await Api.RunAsync(api, beta)).ExecutionId;

        var (status, all) = await ui.GetAsync("/ui/executions");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal([betaOk, alpha2, alpha1, betaFailed, alphaFailed], Rows(all));

        var (_, failed) = await ui.GetAsync("/ui/executions?status=FAILED");
        Assert.Equal([betaFailed, alphaFailed], Rows(failed));
        var (_, pendingOrFailed) = await ui.GetAsync("/ui/executions?status=PENDING&status=failed");
        Assert.Equal(5, Rows(pendingOrFailed).Count);

        var (_, byJob) = await ui.GetAsync("/ui/executions?job=alpha");
        Assert.Equal([alpha2, alpha1, alphaFailed], Rows(byJob));
        var (_, byJobAndStatus) = await ui.GetAsync("/ui/executions?job=beta&status=PENDING");
        Assert.Equal([betaOk], Rows(byJobAndStatus));

        // Case-insensitive substring of the error.
        var (_, byError) = await ui.GetAsync("/ui/executions?error=disk%20full");
        Assert.Equal([alphaFailed], Rows(byError));
        Assert.Contains("Disk FULL on /data", byError, StringComparison.Ordinal);

        // A time range that ends before everything, and one that holds everything.
        var created = await _host.Database.ScalarAsync<DateTime>("select min(created_at) from executions where tenant_id = $1", tenant.TenantId);
        var before = created.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm", System.Globalization.CultureInfo.InvariantCulture);
        var (_, none) = await ui.GetAsync($"/ui/executions?to={before}");
        Assert.Empty(Rows(none));
        var (_, since) = await ui.GetAsync($"/ui/executions?from={before}");
        Assert.Equal(5, Rows(since).Count);

        // An unknown job name says so and lists nothing; a bad status is refused in words.
        var (unknownStatus, unknown) = await ui.GetAsync("/ui/executions?job=gamma");
        Assert.Equal(HttpStatusCode.OK, unknownStatus);
        Assert.Contains("There is no job named “gamma”.", Text(unknown), StringComparison.Ordinal);
        Assert.Empty(Rows(unknown));
        var (_, badStatus) = await ui.GetAsync("/ui/executions?status=DONE");
        Assert.Contains("Status must be one of", badStatus, StringComparison.Ordinal);
        Assert.Empty(Rows(badStatus));

        // A schedule's runs: one triggered by hand, linked from its page.
        var scheduleCreated = await api.PostAsJsonAsync(Routes.Schedules,
            new ScheduleRequest { Name = "hourly", JobId = beta, IntervalSeconds = 3600, StartsAt = DateTimeOffset.UtcNow.AddDays(1) }, Api.Json.ScheduleRequest);
        var schedule = await Api.ReadAsync(scheduleCreated, Api.Json.ScheduleView, HttpStatusCode.Created);
        var fired = await Api.ReadAsync(await api.PostAsync(Routes.Of(Routes.ScheduleTrigger, schedule.Id), null), Api.Json.ScheduleTriggerResponse,
            HttpStatusCode.Created);
        var (_, bySchedule) = await ui.GetAsync($"/ui/executions?schedule={schedule.Id}");
        Assert.Equal([fired.ExecutionId], Rows(bySchedule));
        var (_, firedPage) = await ui.GetAsync($"/ui/executions/{fired.ExecutionId}");
        Assert.Contains($"href=\"/ui/schedules/{schedule.Id}\"", firedPage, StringComparison.Ordinal);

        // A job of the same name in another tenant is not this tenant's.
        var (_, otherApi) = await _host.TenantClientAsync();
        await Api.CreateJobAsync(otherApi, "delta");
        var (_, notMine) = await ui.GetAsync("/ui/executions?job=delta");
        Assert.Contains("There is no job named “delta”.", Text(notMine), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Paging_reaches_every_row_exactly_once_with_and_without_a_filter()
    {
        var (_, api, ui) = await TenantAsync();
        using var _ = ui;
        var job = await Api.CreateJobAsync(api);
        // One statement: all 120 share one created_at, so the order rests on the id alone.
        var ids = await RunManyAsync(api, job, 120);
        var cancelled = ids.Where((_, i) => i % 4 == 0).ToHashSet();
        foreach (var id in cancelled) await Api.CancelAsync(api, id);

        async Task<List<Guid>> PageThroughAsync(string first)
        {
            var seen = new List<Guid>();
            var url = first;
            for (var pages = 0; url is not null; pages++)
            {
                Assert.True(pages < 10, "paging did not end");
                var (status, html) = await ui.GetAsync(url);
                Assert.Equal(HttpStatusCode.OK, status);
                var rows = Rows(html);
                Assert.True(rows.Count <= 50);
                seen.AddRange(rows);
                url = Link(html, "Older");
            }
            return seen;
        }

        var everything = await PageThroughAsync("/ui/executions");
        Assert.Equal(120, everything.Count);
        Assert.Equal(ids.ToHashSet(), everything.ToHashSet());
        Assert.Equal(120, everything.Distinct().Count());

        var onlyCancelled = await PageThroughAsync("/ui/executions?status=CANCELLED");
        Assert.Equal(cancelled.Count, onlyCancelled.Count);
        Assert.Equal(cancelled, onlyCancelled.ToHashSet());

        // A cursor that is not one is refused in words, not with an error page.
        var (badStatus, bad) = await ui.GetAsync("/ui/executions?cursor=nonsense");
        Assert.Equal(HttpStatusCode.OK, badStatus);
        Assert.Contains("cursor", bad, StringComparison.Ordinal);
        Assert.Empty(Rows(bad));
    }

    [Fact]
    public async Task A_sparse_filter_searches_a_bounded_number_of_rows_and_continues_from_where_it_stopped()
    {
        using var worker = _host.WorkerClient();
        var (tenant, api, ui) = await TenantAsync();
        using var _ = ui;
        var job = await Api.CreateJobAsync(api, "sparse", maxAttempts: 1);
        var old = (await Api.RunAsync(api, job)).ExecutionId;
        Assert.Equal(ExecutionStatus.Failed, await FailAsync(worker, tenant.TenantId, old));
        // More newer executions than one page searches.
        await RunManyAsync(api, job, 10_000);
        await RunManyAsync(api, job, 10_000);
        await RunManyAsync(api, job, 100);

        var (status, first) = await ui.GetAsync("/ui/executions?status=FAILED");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Empty(Rows(first));
        Assert.Contains("Searched the newest 20,000 executions and found 0 that match.", first, StringComparison.Ordinal);
        var more = Link(first, "Continue searching older executions");
        Assert.NotNull(more);

        var (_, second) = await ui.GetAsync(more);
        Assert.Equal([old], Rows(second));
        Assert.DoesNotContain("Continue searching", second, StringComparison.Ordinal);
        Assert.Null(Link(second, "Older"));

        // The same through the job's index.
        var (_, byJob) = await ui.GetAsync("/ui/executions?job=sparse&status=FAILED");
        Assert.Empty(Rows(byJob));
        var (_, byJobMore) = await ui.GetAsync(Link(byJob, "Continue searching older executions")!);
        Assert.Equal([old], Rows(byJobMore));
    }

    [Fact]
    public async Task Cancel_selected_cancels_exactly_those_and_writes_one_audit_record()
    {
        using var worker = _host.WorkerClient();
        var (tenant, api, ui) = await TenantAsync();
        using var _ = ui;
        var job = await Api.CreateJobAsync(api);
        var a = (await Api.RunAsync(api, job)).ExecutionId;
        var b = (await Api.RunAsync(api, job)).ExecutionId;
        var untouched = (await Api.RunAsync(api, job)).ExecutionId;
        var running = (await Api.RunAsync(api, job)).ExecutionId;
        var done = (await Api.RunAsync(api, job)).ExecutionId;
        var claims = await Api.DequeueAsync(worker, tenant.TenantId, limit: 5);
        // Claim order is by due time: take the two to run and finish, give the others back.
        Assert.Equal(5, claims.Count);
        foreach (var c in claims.Where(c => c.ExecutionId != running && c.ExecutionId != done))
        {
            using var released = await worker.PostAsync(Routes.Of(Routes.WorkerRelease, c.ExecutionId), Api.RawJson($$"""{"lease_token": "{{c.LeaseToken}}"}"""));
            Assert.Equal(HttpStatusCode.NoContent, released.StatusCode);
        }
        var doneClaim = claims.Single(c => c.ExecutionId == done);
        Assert.Equal(ExecutionStatus.Succeeded, await Api.ResultAsync(worker, done, doneClaim.LeaseToken, 0));

        var (_, list) = await ui.GetAsync("/ui/executions");
        Assert.Contains("Cancel selected", list, StringComparison.Ordinal);
        var (status, _, location) = await ui.PostFormAsync("/ui/executions?handler=CancelSelected",
            ("id", a.ToString()), ("id", b.ToString()), ("id", running.ToString()), ("id", done.ToString()));
        Assert.Equal(HttpStatusCode.SeeOther, status);
        Assert.NotNull(location);
        Assert.Contains("notice=cancelled:3", location, StringComparison.Ordinal);

        Assert.Equal(ExecutionStatus.Cancelled, await StatusAsync(a));
        Assert.Equal(ExecutionStatus.Cancelled, await StatusAsync(b));
        Assert.Equal(ExecutionStatus.Pending, await StatusAsync(untouched));
        Assert.Equal(ExecutionStatus.Succeeded, await StatusAsync(done));
        // Running: asked to stop; its worker learns it at its next heartbeat.
        Assert.Equal(ExecutionStatus.Running, await StatusAsync(running));
        Assert.NotNull(await _host.Database.ScalarAsync<DateTime?>("select cancel_requested_at from executions where id = $1", running));
        using (var hb = await worker.PutAsync(Routes.Of(Routes.WorkerLeaseHeartbeat, running),
                   Api.RawJson($$"""{"lease_token": "{{claims.Single(c => c.ExecutionId == running).LeaseToken}}"}""")))
        {
            Assert.Equal("CANCEL_REQUESTED", (await Api.ReadAsync(hb, Api.Json.HeartbeatResponse)).Status);
        }
        Assert.Equal(0L, await _host.Database.ScalarAsync<long>("select count(*) from ready_queue where execution_id = any($1)", new[] { a, b }));

        var (_, after) = await ui.GetAsync(location);
        Assert.Contains("Cancelled or asked to stop: 3.", after, StringComparison.Ordinal);
        Assert.Contains("Skipped 1: already finished.", after, StringComparison.Ordinal);

        var audit = Assert.Single(await AuditAsync("dashboard.bulk_cancel", tenant.TenantId));
        Assert.Equal(4, audit.Details.GetProperty("requested").GetInt32());
        Assert.Equal(3, audit.Details.GetProperty("acted").GetInt32());
        Assert.Equal(1, audit.Details.GetProperty("skipped").GetInt32());
        Assert.True(audit.Details.GetProperty("selection").GetBoolean());
        Assert.StartsWith("api_key:", await _host.Database.ScalarAsync<string>(
            "select actor from audit_log where action = 'dashboard.bulk_cancel' and tenant_id = $1", tenant.TenantId), StringComparison.Ordinal);

        // Nothing selected: nothing changes and no record.
        var (noneStatus, _, noneLocation) = await ui.PostFormAsync("/ui/executions?handler=CancelSelected");
        Assert.Equal(HttpStatusCode.SeeOther, noneStatus);
        Assert.Contains("notice=none_selected", noneLocation, StringComparison.Ordinal);
        Assert.Single(await AuditAsync("dashboard.bulk_cancel", tenant.TenantId));
    }

    [Fact]
    public async Task Cancel_all_matching_counts_first_then_cancels_exactly_what_it_counted()
    {
        var (tenant, api, ui) = await TenantAsync();
        using var _ = ui;
        var gamma = await Api.CreateJobAsync(api, "gamma");
        var delta = await Api.CreateJobAsync(api, "delta");
        var gammaRuns = await RunManyAsync(api, gamma, 5);
        var deltaRuns = await RunManyAsync(api, delta, 2);
        var (_, list) = await ui.GetAsync("/ui/executions?job=gamma");
        Assert.Contains("Cancel all matching…", Text(list), StringComparison.Ordinal);

        // The first POST only counts and asks.
        var (status, confirm, _) = await ui.PostFormAsync("/ui/executions?handler=CancelMatching", ("job", "gamma"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Cancel 5 matching executions?", confirm, StringComparison.Ordinal);
        Assert.All(gammaRuns, id => Assert.Equal(ExecutionStatus.Pending, StatusAsync(id).GetAwaiter().GetResult()));
        Assert.Empty(await AuditAsync("dashboard.bulk_cancel", tenant.TenantId));
        var asOf = DashboardClient.Field(confirm, "asof");
        Assert.NotNull(asOf);

        // One created after the count is left out.
        var late = (await Api.RunAsync(api, gamma)).ExecutionId;
        var (done, _, location) = await ui.PostFormAsync("/ui/executions?handler=CancelMatching", ("job", "gamma"), ("confirm", "yes"), ("asof", asOf));
        Assert.Equal(HttpStatusCode.SeeOther, done);
        Assert.Contains("notice=cancelled:5", location, StringComparison.Ordinal);
        Assert.StartsWith("/ui/executions?job=gamma", location, StringComparison.Ordinal);
        foreach (var id in gammaRuns) Assert.Equal(ExecutionStatus.Cancelled, await StatusAsync(id));
        Assert.Equal(ExecutionStatus.Pending, await StatusAsync(late));
        foreach (var id in deltaRuns) Assert.Equal(ExecutionStatus.Pending, await StatusAsync(id));

        var audit = Assert.Single(await AuditAsync("dashboard.bulk_cancel", tenant.TenantId));
        Assert.Equal(5, audit.Details.GetProperty("acted").GetInt32());
        Assert.Equal("gamma", audit.Details.GetProperty("filter").GetProperty("job").GetString());
        Assert.False(audit.Details.GetProperty("selection").GetBoolean());

        // A filter matching nothing unfinished changes nothing.
        var (nothing, _, nothingLocation) = await ui.PostFormAsync("/ui/executions?handler=CancelMatching", ("job", "gamma"), ("status", "SUCCEEDED"));
        Assert.Equal(HttpStatusCode.SeeOther, nothing);
        Assert.Contains("notice=nothing", nothingLocation, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retry_of_failed_executions_in_the_dead_letters_works_and_skips_the_others()
    {
        using var worker = _host.WorkerClient();
        var (tenant, api, ui) = await TenantAsync();
        using var _ = ui;
        var job = await Api.CreateJobAsync(api, "flaky", maxAttempts: 1);
        var failed1 = (await Api.RunAsync(api, job)).ExecutionId;
        Assert.Equal(ExecutionStatus.Failed, await FailAsync(worker, tenant.TenantId, failed1));
        var failed2 = (await Api.RunAsync(api, job)).ExecutionId;
        Assert.Equal(ExecutionStatus.Failed, await FailAsync(worker, tenant.TenantId, failed2));
        // Left for "retry all matching" below.
        var failed3 = (await Api.RunAsync(api, job)).ExecutionId;
        Assert.Equal(ExecutionStatus.Failed, await FailAsync(worker, tenant.TenantId, failed3));
        var pending = (await Api.RunAsync(api, job)).ExecutionId;
        var before = await _host.Database.ScalarAsync<long>("select count(*) from executions where job_id = $1", job);

        await ui.GetAsync("/ui/executions");
        var (status, _, location) = await ui.PostFormAsync("/ui/executions?handler=RetrySelected",
            ("id", failed1.ToString()), ("id", failed2.ToString()), ("id", pending.ToString()));
        Assert.Equal(HttpStatusCode.SeeOther, status);
        Assert.Contains("notice=retried:2", location, StringComparison.Ordinal);
        Assert.Contains("skipped=not_failed:1", location, StringComparison.Ordinal);
        Assert.Equal(before + 2, await _host.Database.ScalarAsync<long>("select count(*) from executions where job_id = $1", job));
        foreach (var id in new[] { failed1, failed2 })
        {
            var retriedAs = await _host.Database.ScalarAsync<Guid>("select retried_execution_id from dead_letters where execution_id = $1", id);
            Assert.Equal(ExecutionStatus.Pending, await StatusAsync(retriedAs));
            Assert.Equal("retried_from_dlq", await _host.Database.ScalarAsync<string>(
                "select kind from execution_events where execution_id = $1 order by id limit 1", retriedAs));
        }
        var (_, after) = await ui.GetAsync(location!);
        Assert.Contains("Retries submitted: 2.", after, StringComparison.Ordinal);
        Assert.Contains("Skipped 1: not FAILED", after, StringComparison.Ordinal);
        var audit = Assert.Single(await AuditAsync("dashboard.bulk_retry", tenant.TenantId));
        Assert.Equal(3, audit.Details.GetProperty("requested").GetInt32());
        Assert.Equal(2, audit.Details.GetProperty("acted").GetInt32());

        // Again: their dead letters were retried already, so nothing is doubled.
        var (_, _, again) = await ui.PostFormAsync("/ui/executions?handler=RetrySelected", ("id", failed1.ToString()), ("id", failed2.ToString()));
        Assert.Contains("notice=retried:0", again, StringComparison.Ordinal);
        Assert.Contains("skipped=retried:2", again, StringComparison.Ordinal);
        Assert.Equal(before + 2, await _host.Database.ScalarAsync<long>("select count(*) from executions where job_id = $1", job));

        // Retry all matching: counts only the failed ones still in the dead letters.
        var (countStatus, confirm, _) = await ui.PostFormAsync("/ui/executions?handler=RetryMatching", ("job", "flaky"));
        Assert.Equal(HttpStatusCode.OK, countStatus);
        Assert.Contains("Retry 1 matching execution?", confirm, StringComparison.Ordinal);
        var (_, _, retriedAll) = await ui.PostFormAsync("/ui/executions?handler=RetryMatching",
            ("job", "flaky"), ("confirm", "yes"), ("asof", DashboardClient.Field(confirm, "asof")!));
        Assert.Contains("notice=retried:1", retriedAll, StringComparison.Ordinal);
        Assert.NotNull(await _host.Database.ScalarAsync<Guid?>("select retried_execution_id from dead_letters where execution_id = $1", failed3));
        Assert.Equal(3, (await AuditAsync("dashboard.bulk_retry", tenant.TenantId)).Count);
    }

    [Fact]
    public async Task The_execution_page_shows_timeline_attempts_result_and_log_with_everything_escaped()
    {
        using var worker = _host.WorkerClient();
        var (tenant, api, ui) = await TenantAsync();
        using var _ = ui;
        // An hour's backoff, so that the page is read while the retry still waits (the host's own
        // 100 ms could pass before the read on a loaded machine); then it is made due by hand.
        var job = await Api.CreateJobAsync(api, "<script>alert('job')</script>", maxAttempts: 2, extra: "\"retry_backoff_base\": 3600");
        var id = (await Api.RunAsync(api, job)).ExecutionId;
        Assert.Equal(ExecutionStatus.Retrying, await FailAsync(worker, tenant.TenantId, id, "first <b>failure</b>"));

        var (retryingStatus, retrying) = await ui.GetAsync($"/ui/executions/{id}");
        Assert.Equal(HttpStatusCode.OK, retryingStatus);
        Assert.Contains("Attempt 1 failed; retrying after a backoff of", retrying, StringComparison.Ordinal);
        await _host.Database.ScalarAsync<object>("update executions set scheduled_at = now() where id = $1", id);

        var claim = await Api.ClaimAsync(worker, tenant.TenantId, id);
        var request = new AppendLogsRequest
        {
            LeaseToken = claim.LeaseToken,
            Lines = [new LogLine("hello from the job", "stdout"), new LogLine("<script>alert('log')</script>", "stderr")],
        };
        using (var shipped = await worker.PostAsJsonAsync(Routes.Of(Routes.WorkerLogs, id), request, Api.Json.AppendLogsRequest))
        {
            Assert.Equal(HttpStatusCode.NoContent, shipped.StatusCode);
        }
        Assert.Equal(ExecutionStatus.Succeeded, await Api.ResultAsync(worker, id, claim.LeaseToken, 0,
            """ "result": {"rows": 3, "note": "<img src=x onerror=alert(1)>"} """));

        var (status, html) = await ui.GetAsync($"/ui/executions/{id}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("status-succeeded\">SUCCEEDED</span>", html, StringComparison.Ordinal);
        // Timeline: submitted, the first attempt's failure with its backoff and the wait, the retry, success.
        Assert.Contains("Submitted; ready to run.", html, StringComparison.Ordinal);
        Assert.Matches("Attempt 1 started on worker worker-[0-9a-f]{16}\\.", html);
        Assert.Contains("Attempt 1 failed; it waited", html, StringComparison.Ordinal);
        Assert.Contains("The retry became due; ready to run.", html, StringComparison.Ordinal);
        Assert.Contains("Attempt 2 succeeded.", html, StringComparison.Ordinal);
        // Attempts: two rows, the worker shown by pseudonym only.
        Assert.Matches("<th scope=\"row\" class=\"num\">1</th>\\s*<td class=\"mono\">worker-[0-9a-f]{16}</td>", html);
        Assert.Matches("<th scope=\"row\" class=\"num\">2</th>", html);
        Assert.DoesNotContain("test-worker", html, StringComparison.Ordinal);
        // Result, pretty-printed and encoded.
        Assert.Contains("&quot;rows&quot;: 3", html, StringComparison.Ordinal);
        Assert.Contains("&lt;img src=x onerror=alert(1)&gt;", html, StringComparison.Ordinal);
        // Log lines, stderr marked, encoded; finished: not followed live.
        Assert.Contains("hello from the job\n", html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"stderr\">&lt;script&gt;alert(&#x27;log&#x27;)&lt;/script&gt;\n</span>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("data-live-log", html, StringComparison.Ordinal);
        // The job name and error text are shown as text.
        Assert.Contains("&lt;script&gt;alert(&#x27;job&#x27;)&lt;/script&gt;", html, StringComparison.Ordinal);
        Assert.Contains("first &lt;b&gt;failure&lt;/b&gt;", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>alert", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<img src=x", html, StringComparison.Ordinal);

        var (_, list) = await ui.GetAsync("/ui/executions");
        Assert.Contains("&lt;script&gt;alert(&#x27;job&#x27;)&lt;/script&gt;", list, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>alert", list, StringComparison.Ordinal);
    }

    [Fact]
    public void The_trace_link_is_built_from_a_valid_traceparent_only()
    {
        const string Template = "https://traces.example/trace/{trace_id}";
        Assert.Equal("https://traces.example/trace/4bf92f3577b34da6a3ce929d0e0e4736",
            Jobplane.Controller.Dashboard.Pages.ExecutionModel.TraceLink(Template, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
        Assert.Null(Jobplane.Controller.Dashboard.Pages.ExecutionModel.TraceLink(Template, "00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
        Assert.Null(Jobplane.Controller.Dashboard.Pages.ExecutionModel.TraceLink(Template, "00-4bf92f3577b34da6a3ce929d0e0e47\"><x-00f067aa0ba902b7-01"));
        Assert.Null(Jobplane.Controller.Dashboard.Pages.ExecutionModel.TraceLink(Template, null));
        Assert.Null(Jobplane.Controller.Dashboard.Pages.ExecutionModel.TraceLink(null, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    }

    [Fact]
    public async Task Another_tenants_execution_is_404_on_the_page_the_stream_and_every_action()
    {
        using var worker = _host.WorkerClient();
        var (owner, ownerApi, ownerUi) = await TenantAsync();
        using var _ = ownerUi;
        var job = await Api.CreateJobAsync(ownerApi, maxAttempts: 1);
        var failed = (await Api.RunAsync(ownerApi, job)).ExecutionId;
        Assert.Equal(ExecutionStatus.Failed, await FailAsync(worker, owner.TenantId, failed));
        var waiting = (await Api.RunAsync(ownerApi, job)).ExecutionId;
        var (_, _, intruder) = await TenantAsync();
        using var __ = intruder;
        var before = await DbState.SnapshotAsync(_host, owner.TenantId);

        Assert.Equal(HttpStatusCode.NotFound, (await intruder.GetAsync($"/ui/executions/{waiting}")).Status);
        Assert.Contains("Execution not found", (await intruder.GetAsync($"/ui/executions/{waiting}")).Html, StringComparison.Ordinal);
        using (var stream = await intruder.Http.GetAsync($"/ui/executions/{waiting}/stream", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.NotFound, stream.StatusCode);
        }
        await intruder.GetAsync("/ui/executions");
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.PostFormAsync($"/ui/executions/{waiting}?handler=Cancel")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.PostFormAsync($"/ui/executions/{failed}?handler=Retry")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.PostFormAsync("/ui/executions?handler=CancelSelected", ("id", waiting.ToString()))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.PostFormAsync("/ui/executions?handler=RetrySelected", ("id", failed.ToString()))).Status);
        // Not listed, not by the job's name either.
        var (_, list) = await intruder.GetAsync("/ui/executions");
        Assert.DoesNotContain(waiting.ToString(), list, StringComparison.Ordinal);
        Assert.Equal("", DbState.Diff(before, await DbState.SnapshotAsync(_host, owner.TenantId)));

        // Without a session: the page sends to sign-in, the stream is 401.
        using var anonymous = new DashboardClient(_host);
        using (var page = await anonymous.Http.GetAsync($"/ui/executions/{waiting}"))
        {
            Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
            Assert.StartsWith("/ui/signin", page.Headers.Location?.OriginalString, StringComparison.Ordinal);
        }
        using (var stream = await anonymous.Http.GetAsync($"/ui/executions/{waiting}/stream"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, stream.StatusCode);
        }

        // The owner sees and acts.
        Assert.Equal(HttpStatusCode.OK, (await ownerUi.GetAsync($"/ui/executions/{waiting}")).Status);
        var (cancelStatus, _, cancelLocation) = await ownerUi.PostFormAsync($"/ui/executions/{waiting}?handler=Cancel");
        Assert.Equal(HttpStatusCode.SeeOther, cancelStatus);
        Assert.Equal($"/ui/executions/{waiting}?notice=cancelled:1", cancelLocation);
        Assert.Equal(ExecutionStatus.Cancelled, await StatusAsync(waiting));
        var (retryStatus, _, _) = await ownerUi.PostFormAsync($"/ui/executions/{failed}?handler=Retry");
        Assert.Equal(HttpStatusCode.SeeOther, retryStatus);
        var (_, retriedPage) = await ownerUi.GetAsync($"/ui/executions/{failed}");
        Assert.Contains("retried as", retriedPage, StringComparison.Ordinal);
        Assert.DoesNotContain("handler=Retry", retriedPage, StringComparison.Ordinal);
        // Cancelling again: already finished, said in words.
        var (again, againHtml, _) = await ownerUi.PostFormAsync($"/ui/executions/{waiting}?handler=Cancel");
        Assert.Equal(HttpStatusCode.Conflict, again);
        Assert.Contains("already finished", againHtml, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_read_only_session_sees_no_actions_and_its_posts_are_refused()
    {
        var (tenant, api, _) = await TenantAsync();
        var job = await Api.CreateJobAsync(api);
        var id = (await Api.RunAsync(api, job)).ExecutionId;
        var created = await api.PostAsJsonAsync(Routes.ApiKeys, new CreateApiKeyRequest { Name = "viewer", ReadOnly = true }, Api.Json.CreateApiKeyRequest);
        var key = await Api.ReadAsync(created, Api.Json.CreateApiKeyResponse, HttpStatusCode.Created);
        using var viewer = new DashboardClient(_host);
        await viewer.SignInAsync(key.ApiKey);

        var (listStatus, list) = await viewer.GetAsync("/ui/executions");
        Assert.Equal(HttpStatusCode.OK, listStatus);
        Assert.Contains(id.ToString(), list, StringComparison.Ordinal);
        Assert.DoesNotContain("Cancel selected", list, StringComparison.Ordinal);
        Assert.DoesNotContain("all matching", list, StringComparison.Ordinal);
        Assert.DoesNotContain("name=\"id\"", list, StringComparison.Ordinal);
        var (_, page) = await viewer.GetAsync($"/ui/executions/{id}");
        Assert.DoesNotContain("handler=Cancel", page, StringComparison.Ordinal);
        Assert.DoesNotContain("handler=Retry", page, StringComparison.Ordinal);

        var before = await DbState.SnapshotAsync(_host, tenant.TenantId);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostFormAsync($"/ui/executions/{id}?handler=Cancel")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostFormAsync("/ui/executions?handler=CancelSelected", ("id", id.ToString()))).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostFormAsync("/ui/executions?handler=CancelMatching", ("confirm", "yes"), ("asof", "99999999999999999"))).Status);
        Assert.Equal(ExecutionStatus.Pending, await StatusAsync(id));
        Assert.Equal("", DbState.Diff(before, await DbState.SnapshotAsync(_host, tenant.TenantId)));
    }

    [Fact]
    public async Task A_post_without_the_csrf_token_is_refused_and_changes_nothing()
    {
        var (tenant, api, ui) = await TenantAsync();
        using var _ = ui;
        var job = await Api.CreateJobAsync(api);
        var id = (await Api.RunAsync(api, job)).ExecutionId;
        var before = await DbState.SnapshotAsync(_host, tenant.TenantId);

        var (status, html, _) = await ui.PostFormAsync($"/ui/executions/{id}?handler=Cancel", [], csrf: false);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("security token", html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await ui.PostFormAsync("/ui/executions?handler=CancelSelected",
            [new("id", id.ToString()), new("csrf", "forged")], csrf: false)).Status);
        Assert.Equal(ExecutionStatus.Pending, await StatusAsync(id));
        Assert.Equal("", DbState.Diff(before, await DbState.SnapshotAsync(_host, tenant.TenantId)));
    }

    [Fact]
    public async Task The_administrator_sees_every_tenant_filters_by_tenant_and_acts()
    {
        var (first, firstApi, firstUi) = await TenantAsync();
        using var _ = firstUi;
        var (second, secondApi, secondUi) = await TenantAsync();
        using var __ = secondUi;
        var a = (await Api.RunAsync(firstApi, await Api.CreateJobAsync(firstApi, "shared-name"))).ExecutionId;
        var b = (await Api.RunAsync(secondApi, await Api.CreateJobAsync(secondApi, "shared-name"))).ExecutionId;
        using var admin = new DashboardClient(_host);
        await admin.SignInAsync(ControllerHost.AdminSecret);

        var (_, all) = await admin.GetAsync("/ui/executions");
        Assert.Contains(a, Rows(all));
        Assert.Contains(b, Rows(all));
        Assert.Equal(b, Rows(all)[0]);
        var (_, onlyFirst) = await admin.GetAsync($"/ui/executions?tenant={first.TenantId}");
        Assert.Equal([a], Rows(onlyFirst));
        var (_, ambiguous) = await admin.GetAsync("/ui/executions?job=shared-name");
        Assert.Contains("2 tenants have a job named “shared-name”", Text(ambiguous), StringComparison.Ordinal);
        var (_, byJob) = await admin.GetAsync($"/ui/executions?job=shared-name&tenant={second.TenantId}");
        Assert.Equal([b], Rows(byJob));

        var (_, page) = await admin.GetAsync($"/ui/executions/{b}");
        Assert.Contains(second.Name, page, StringComparison.Ordinal);
        var (status, _, _) = await admin.PostFormAsync("/ui/executions?handler=CancelSelected", ("id", b.ToString()), ("tenant", second.TenantId.ToString()));
        Assert.Equal(HttpStatusCode.SeeOther, status);
        Assert.Equal(ExecutionStatus.Cancelled, await StatusAsync(b));
        Assert.Equal(ExecutionStatus.Pending, await StatusAsync(a));
        var audit = Assert.Single(await AuditAsync("dashboard.bulk_cancel", second.TenantId));
        Assert.Equal(1, audit.Details.GetProperty("acted").GetInt32());
        Assert.Equal("administrator", await _host.Database.ScalarAsync<string>(
            "select actor from audit_log where action = 'dashboard.bulk_cancel' and tenant_id = $1", second.TenantId));
    }

    [Fact]
    public async Task Across_tenants_a_sparse_filter_returns_each_match_once_however_the_histories_interleave()
    {
        using var worker = _host.WorkerClient();
        var token = $"token-{Guid.NewGuid():N}";
        var (busy, busyApi, busyUi) = await TenantAsync();
        using var _ = busyUi;
        var (quiet, quietApi, quietUi) = await TenantAsync();
        using var __ = quietUi;
        var busyJob = await Api.CreateJobAsync(busyApi, maxAttempts: 1);
        var quietJob = await Api.CreateJobAsync(quietApi, maxAttempts: 1);
        // Oldest first: a quiet tenant's failure, then a busy tenant's, then many newer runs of the busy tenant. A page
        // that stops part way through the busy tenant's history must not yet show the quiet tenant's older match.
        var quietOld = (await Api.RunAsync(quietApi, quietJob)).ExecutionId;
        Assert.Equal(ExecutionStatus.Failed, await FailAsync(worker, quiet.TenantId, quietOld, token));
        var busyMid = (await Api.RunAsync(busyApi, busyJob)).ExecutionId;
        Assert.Equal(ExecutionStatus.Failed, await FailAsync(worker, busy.TenantId, busyMid, token));
        // More than a page reads of one tenant when it shares the page's bound with at least one other.
        await RunManyAsync(busyApi, busyJob, 10_000);
        await RunManyAsync(busyApi, busyJob, 100);
        var busyNew = (await Api.RunAsync(busyApi, busyJob)).ExecutionId;
        await Api.CancelAsync(busyApi, busyNew);
        await _host.Database.ScalarAsync<int>("update executions set error = $1 where id = $2 returning 1", token, busyNew);
        using var admin = new DashboardClient(_host);
        await admin.SignInAsync(ControllerHost.AdminSecret);

        var seen = new List<Guid>();
        var url = $"/ui/executions?status=FAILED&status=CANCELLED&error={token}";
        var continued = 0;
        for (var pages = 0; url is not null; pages++)
        {
            Assert.True(pages < 500, "paging did not end");
            var (status, html) = await admin.GetAsync(url);
            Assert.Equal(HttpStatusCode.OK, status);
            seen.AddRange(Rows(html));
            url = Link(html, "Older") ?? Link(html, "Continue searching older");
            if (html.Contains("Continue searching older", StringComparison.Ordinal)) continued++;
        }
        Assert.Equal([busyNew, busyMid, quietOld], seen);
        // The search did stop at its bound and went on from there.
        Assert.True(continued > 0);
    }

    private sealed record SseEvent(string? Event, string? Id, string Data);

    /// <summary>Reads one event, skipping comments (keep-alives); null at the end of the stream.</summary>
    private static async Task<SseEvent?> NextEventAsync(StreamReader reader, CancellationToken ct)
    {
        string? type = null, id = null;
        var data = new StringBuilder();
        var any = false;
        while (true)
        {
            var line = await reader.ReadLineAsync(ct);
            if (line is null) return any ? new SseEvent(type, id, data.ToString()) : null;
            if (line.Length == 0)
            {
                if (any) return new SseEvent(type, id, data.ToString());
                continue;
            }
            if (line.StartsWith(':')) continue;
            any = true;
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "event": type = value; break;
                case "id": id = value; break;
                case "data":
                    if (data.Length > 0) data.Append('\n');
                    data.Append(value);
                    break;
            }
        }
    }

    [Fact]
    public async Task The_live_log_streams_a_line_shipped_after_the_page_was_rendered_then_ends_when_the_execution_does()
    {
        using var worker = _host.WorkerClient();
        var (tenant, api, ui) = await TenantAsync();
        using var _ = ui;
        var job = await Api.CreateJobAsync(api);
        var id = (await Api.RunAsync(api, job)).ExecutionId;
        var claim = await Api.ClaimAsync(worker, tenant.TenantId, id);
        await Api.ShipLogsAsync(worker, id, claim.LeaseToken, "rendered with the page");
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60)); // a hang guard, not a timing assertion

        var (_, page) = await ui.GetAsync($"/ui/executions/{id}");
        Assert.Contains("rendered with the page\n", page, StringComparison.Ordinal);
        Assert.Contains("data-live-status", page, StringComparison.Ordinal);
        var live = WebUtility.HtmlDecode(Regex.Match(page, "data-live-log=\"([^\"]+)\"").Groups[1].Value);
        Assert.StartsWith($"/ui/executions/{id}/stream?after=", live, StringComparison.Ordinal);

        using var response = await ui.Http.GetAsync(live, HttpCompletionOption.ResponseHeadersRead, guard.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(guard.Token));

        var first = (await NextEventAsync(reader, guard.Token))!;
        Assert.Equal("status", first.Event);
        Assert.Equal(ExecutionStatus.Running, JsonDocument.Parse(first.Data).RootElement.GetProperty("status").GetString());

        await Api.ShipLogsAsync(worker, id, claim.LeaseToken, "shipped <after> the page");
        var line = (await NextEventAsync(reader, guard.Token))!;
        Assert.Equal("line", line.Event);
        var data = JsonDocument.Parse(line.Data).RootElement;
        Assert.Equal("stdout", data.GetProperty("stream").GetString());
        Assert.Equal("shipped <after> the page", data.GetProperty("text").GetString());
        Assert.NotNull(line.Id);

        Assert.Equal(ExecutionStatus.Succeeded, await Api.ResultAsync(worker, id, claim.LeaseToken, 0));
        var rest = new List<SseEvent>();
        while (await NextEventAsync(reader, guard.Token) is { } e) rest.Add(e);
        Assert.Equal(["status", "end"], rest.Select(e => e.Event));
        Assert.Equal(ExecutionStatus.Succeeded, JsonDocument.Parse(rest[^1].Data).RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Dashboard_streams_count_against_the_tenants_cap_of_followed_logs()
    {
        using var worker = _host.WorkerClient();
        var (tenant, api, ui) = await TenantAsync();
        using var _ = ui;
        var job = await Api.CreateJobAsync(api);
        var id = (await Api.RunAsync(api, job)).ExecutionId;
        await Api.ClaimAsync(worker, tenant.TenantId, id);
        using (var admin = _host.AdminClient())
        {
            var patched = await admin.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson("""{"log_follow_max": 1}"""));
            Assert.Equal(HttpStatusCode.NoContent, patched.StatusCode);
        }
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        // The API's follow holds the tenant's one stream: the dashboard's is refused.
        using (var apiFollow = await api.GetAsync($"/executions/{id}/logs?follow=true", HttpCompletionOption.ResponseHeadersRead, guard.Token))
        {
            Assert.Equal(HttpStatusCode.OK, apiFollow.StatusCode);
            using var refused = await ui.Http.GetAsync($"/ui/executions/{id}/stream", HttpCompletionOption.ResponseHeadersRead, guard.Token);
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        }

        // Once it closed (the server notices), the dashboard's stream opens.
        for (var i = 0; ; i++)
        {
            using var stream = await ui.Http.GetAsync($"/ui/executions/{id}/stream", HttpCompletionOption.ResponseHeadersRead, guard.Token);
            if (stream.StatusCode == HttpStatusCode.OK) break;
            Assert.Equal(HttpStatusCode.TooManyRequests, stream.StatusCode);
            Assert.True(i < 100, "the API's stream slot was never given back");
            await Task.Delay(100, guard.Token);
        }
    }
}

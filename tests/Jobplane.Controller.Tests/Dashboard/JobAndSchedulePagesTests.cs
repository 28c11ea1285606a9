using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests.Dashboard;

/// <summary>
/// The jobs, job, schedules and schedule pages over HTTP, as a browser without JavaScript uses them:
/// what they show matches the database, "Run now" submits what the API would (and nothing when a
/// value is bad), pause/resume/trigger change the schedule with their audit records, and nobody
/// sees or acts on what is not theirs.
/// </summary>
public sealed class JobAndSchedulePagesTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>, IDisposable
{
    private readonly ControllerHost _host = fixture.Host;
    private readonly List<IDisposable> _owned = [];

    private T Own<T>(T client) where T : IDisposable
    {
        _owned.Add(client);
        return client;
    }

    public void Dispose()
    {
        foreach (var client in _owned) client.Dispose();
    }

    private async Task<T> ScalarAsync<T>(string sql, params object[] args)
    {
        await using var cmd = _host.Database.DataSource.CreateCommand(sql);
        foreach (var a in args) cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = a });
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    private Task<long> ExecutionsOfAsync(Guid jobId) => ScalarAsync<long>("select count(*) from executions where job_id = $1", jobId);

    private async Task<(CreateTenantResponse Tenant, HttpClient Api, DashboardClient Ui)> SignedInTenantAsync()
    {
        var (tenant, api) = await _host.TenantClientAsync();
        Own(api);
        var ui = Own(new DashboardClient(_host, followRedirects: true));
        await ui.SignInAsync(tenant.ApiKey);
        return (tenant, api, ui);
    }

    private async Task<DashboardClient> SignedInAdminAsync()
    {
        var ui = Own(new DashboardClient(_host, followRedirects: true));
        await ui.SignInAsync(ControllerHost.AdminSecret);
        return ui;
    }

    private async Task<string> ReadOnlyKeyAsync(HttpClient api)
    {
        var response = await api.PostAsync(Routes.ApiKeys, Api.RawJson("""{"name": "viewer", "read_only": true}"""));
        return (await Api.ReadAsync(response, Api.Json.CreateApiKeyResponse, HttpStatusCode.Created)).ApiKey;
    }

    private static async Task<Guid> CreateScheduleAsync(HttpClient api, Guid jobId, string name = "nightly")
    {
        var response = await api.PostAsync(Routes.Schedules, Api.RawJson(
            $$"""{"name": "{{name}}", "job_id": "{{jobId}}", "cron": "0 3 * * *", "time_zone": "Europe/Berlin"}"""));
        return (await Api.ReadAsync(response, Api.Json.ScheduleView, HttpStatusCode.Created)).Id;
    }

    /// <summary>The instants a page shows in &lt;time datetime&gt;, in order.</summary>
    private static List<DateTimeOffset> Times(string html) =>
        [.. Regex.Matches(html, "<time datetime=\"([^\"]+)\"").Select(m => DateTimeOffset.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))];

    [Fact]
    public async Task The_jobs_page_shows_success_rate_and_run_time_percentiles_of_the_runs_made()
    {
        var (tenant, api, ui) = await SignedInTenantAsync();
        using var worker = _host.WorkerClient();
        var jobId = await Api.CreateJobAsync(api, name: "figures", maxAttempts: 1);
        for (var i = 0; i < 4; i++) await Api.RunAsync(api, jobId);
        var claimed = await Api.DequeueAsync(worker, tenant.TenantId, limit: 10);
        Assert.Equal(4, claimed.Count);
        // Three succeed and one fails, having run 10, 20, 30 and 40 seconds.
        for (var i = 0; i < 4; i++)
        {
            await Api.ResultAsync(worker, claimed[i].ExecutionId, claimed[i].LeaseToken, i == 3 ? 1 : 0);
            await Api.ExecSqlAsync(_host, "update executions set started_at = completed_at - make_interval(secs => $1) where id = $2",
                (double)(10 * (i + 1)), claimed[i].ExecutionId);
        }
        var pending = await Api.RunAsync(api, jobId);

        var (status, html) = await ui.GetAsync("/ui/jobs");

        Assert.Equal(HttpStatusCode.OK, status);
        var row = DashboardClient.Row(html, $"href=\"/ui/jobs/{jobId}\"");
        Assert.Contains("75 %", row);
        Assert.Contains("of 4", row);
        Assert.Contains("25.0 s", row); // p50 of 10, 20, 30, 40
        Assert.Contains("38.5 s", row); // p95, interpolated as percentile_cont does
        Assert.Contains($"href=\"/ui/executions/{pending.ExecutionId}\"", row); // the newest run
        Assert.Contains("PENDING", row);
        Assert.Contains("<code>echo hello</code>", row);

        (status, html) = await ui.GetAsync($"/ui/jobs/{jobId}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("<dt>Success</dt><dd>75 %</dd>", html);
        Assert.Contains("<dt>Failed</dt><dd>1</dd>", html);
        Assert.Contains("<dt>Run time p50</dt><dd>25.0 s</dd>", html);
        foreach (var c in claimed) Assert.Contains($"href=\"/ui/executions/{c.ExecutionId}\"", html);
        Assert.Contains("/ui/executions?job=figures", html);
    }

    [Fact]
    public async Task Run_now_with_count_3_and_priority_7_creates_3_ready_executions_with_priority_7()
    {
        var (_, api, ui) = await SignedInTenantAsync();
        var jobId = await Api.CreateJobAsync(api, priority: "20");
        var (status, html) = await ui.GetAsync($"/ui/jobs/{jobId}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("20", DashboardClient.Field(html, "priority")); // the job's own by default
        Assert.Equal("1", DashboardClient.Field(html, "count"));

        (status, html) = await ui.PostFormAsync($"/ui/jobs/{jobId}?handler=Run", ("priority", "7"), ("at", ""), ("count", "3"));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal($"/ui/jobs/{jobId}?notice=submitted:3", ui.LastRedirect);
        Assert.Contains("Executions submitted: 3.", html);
        Assert.Equal(3, await ExecutionsOfAsync(jobId));
        Assert.Equal(3, await ScalarAsync<long>("select count(*) from executions where job_id = $1 and priority = 7 and status = 'PENDING'", jobId));
        // Ready for workers, and recorded as submitted, exactly as the API's submissions are.
        Assert.Equal(3, await ScalarAsync<long>("select count(*) from ready_queue q join executions e on e.id = q.execution_id where e.job_id = $1", jobId));
        Assert.Equal(3, await ScalarAsync<long>(
            "select count(*) from execution_events v join executions e on e.id = v.execution_id where e.job_id = $1 and v.kind = 'submitted'", jobId));
        Assert.Equal(3, Regex.Matches(html, "status-pending").Count);

        // One run takes the single-run path (the session's key checked in the statement).
        (status, _) = await ui.PostFormAsync($"/ui/jobs/{jobId}?handler=Run", ("priority", ""), ("at", ""), ("count", "1"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, await ScalarAsync<long>("select count(*) from executions where job_id = $1 and priority = 20", jobId));
    }

    [Fact]
    public async Task Run_now_at_a_later_time_makes_scheduled_executions_due_then()
    {
        var (_, api, ui) = await SignedInTenantAsync();
        var jobId = await Api.CreateJobAsync(api);
        var at = DateTime.UtcNow.AddHours(2);
        at = new DateTime(at.Year, at.Month, at.Day, at.Hour, at.Minute, 0, DateTimeKind.Utc);
        await ui.GetAsync($"/ui/jobs/{jobId}");

        var (status, html) = await ui.PostFormAsync($"/ui/jobs/{jobId}?handler=Run",
            ("priority", "50"), ("at", at.ToString("yyyy-MM-dd'T'HH:mm", CultureInfo.InvariantCulture)), ("count", "2"));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Executions scheduled for later: 2.", html);
        Assert.Equal(2, await ScalarAsync<long>("select count(*) from executions where job_id = $1 and status = 'SCHEDULED' and scheduled_at = $2",
            jobId, new DateTimeOffset(at)));
        Assert.Equal(0, await ScalarAsync<long>("select count(*) from ready_queue q join executions e on e.id = q.execution_id where e.job_id = $1", jobId));
    }

    [Theory]
    [InlineData("50", "", "0", "Count must be a whole number from 1 to 1,000")]
    [InlineData("50", "", "1001", "Count must be a whole number from 1 to 1,000")]
    [InlineData("50", "", "three", "Count must be a whole number")]
    [InlineData("101", "", "1", "Priority must be a whole number from 0 to 100")]
    [InlineData("-1", "", "1", "Priority must be a whole number from 0 to 100")]
    [InlineData("50", "tomorrow", "1", "The time must be a UTC date and time")]
    public async Task Run_now_with_a_bad_value_shows_the_problem_and_submits_nothing(string priority, string at, string count, string problem)
    {
        var (_, api, ui) = await SignedInTenantAsync();
        var jobId = await Api.CreateJobAsync(api);
        await ui.GetAsync($"/ui/jobs/{jobId}");

        var (status, html) = await ui.PostFormAsync($"/ui/jobs/{jobId}?handler=Run", ("priority", priority), ("at", at), ("count", count));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Null(ui.LastRedirect);
        Assert.Matches("<p class=\"problem\" role=\"alert\"[^>]*>[^<]*" + Regex.Escape(problem), html);
        Assert.Contains("Nothing was submitted.", html);
        // The form is shown again with what was sent, to correct it.
        Assert.Equal(count, DashboardClient.Field(html, "count"));
        Assert.Equal(priority, DashboardClient.Field(html, "priority"));
        Assert.Equal(0, await ExecutionsOfAsync(jobId));
    }

    [Fact]
    public async Task A_suspended_tenant_is_told_so_and_its_run_is_refused()
    {
        var (tenant, api, ui) = await SignedInTenantAsync();
        using var admin = _host.AdminClient();
        var jobId = await Api.CreateJobAsync(api);
        await ui.GetAsync($"/ui/jobs/{jobId}");
        var staleForm = ui.LastHtml;
        (await admin.PostAsync(Routes.Of(Routes.TenantSuspend, tenant.TenantId), null)).EnsureSuccessStatusCode();

        var (status, html) = await ui.GetAsync($"/ui/jobs/{jobId}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("This tenant is suspended", html);
        Assert.DoesNotContain("handler=Run", html);

        // A form loaded before the suspension is refused too.
        Assert.Contains("handler=Run", staleForm);
        (status, html) = await ui.PostFormAsync($"/ui/jobs/{jobId}?handler=Run", ("priority", "50"), ("at", ""), ("count", "1"));
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("This tenant is suspended", html);
        Assert.Equal(0, await ExecutionsOfAsync(jobId));
    }

    [Fact]
    public async Task The_administrator_sees_every_tenants_jobs_and_no_run_form()
    {
        var (tenantA, apiA) = await _host.TenantClientAsync();
        Own(apiA);
        var (tenantB, apiB) = await _host.TenantClientAsync();
        Own(apiB);
        var jobA = await Api.CreateJobAsync(apiA, name: "a-job");
        var jobB = await Api.CreateJobAsync(apiB, name: "b-job");
        var ui = await SignedInAdminAsync();

        var (status, html) = await ui.GetAsync("/ui/jobs");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains(tenantA.Name, DashboardClient.Row(html, $"/ui/jobs/{jobA}"));
        Assert.Contains(tenantB.Name, DashboardClient.Row(html, $"/ui/jobs/{jobB}"));

        (status, html) = await ui.GetAsync($"/ui/jobs?tenant={tenantA.TenantId}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains($"/ui/jobs/{jobA}", html);
        Assert.DoesNotContain($"/ui/jobs/{jobB}", html);

        (status, html) = await ui.GetAsync($"/ui/jobs/{jobA}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("running one is its tenant's act", DashboardClient.Text(html));
        Assert.Empty(DashboardClient.PostForms(html));
        (status, html) = await ui.PostFormAsync($"/ui/jobs/{jobA}?handler=Run", ("priority", "50"), ("at", ""), ("count", "1"));
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal(0, await ExecutionsOfAsync(jobA));
    }

    [Fact]
    public async Task Names_and_commands_are_shown_as_text()
    {
        var (_, api, ui) = await SignedInTenantAsync();
        const string name = "<script>alert('job')</script>";
        var jobId = await Api.CreateJobAsync(api, name: name, command: ["sh", "-c", "echo \"<b>hi</b>\" && <img src=x onerror=alert(1)>"]);
        var scheduleId = await CreateScheduleAsync(api, jobId, "<i>sched</i>");

        foreach (var path in new[] { "/ui/jobs", $"/ui/jobs/{jobId}", "/ui/schedules", $"/ui/schedules/{scheduleId}" })
        {
            var (status, html) = await ui.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.DoesNotContain("<script>alert", html);
            Assert.DoesNotContain("<img src=x", html);
            Assert.DoesNotContain("<i>sched</i>", html);
            Assert.DoesNotContain("<b>hi</b>", html);
            Assert.Contains("&lt;script&gt;alert(&#x27;job&#x27;)&lt;/script&gt;", html);
        }
        var (_, jobPage) = await ui.GetAsync($"/ui/jobs/{jobId}");
        // Arguments joined with spaces, one with spaces or quotes in quotes, every one encoded.
        Assert.Contains("<code>sh -c &quot;echo \\&quot;&lt;b&gt;hi&lt;/b&gt;\\&quot; &amp;&amp; &lt;img src=x onerror=alert(1)&gt;&quot;</code>", jobPage);
    }

    [Fact]
    public async Task The_schedules_page_shows_the_next_fire_times_the_api_computes()
    {
        var (_, api, ui) = await SignedInTenantAsync();
        var jobId = await Api.CreateJobAsync(api, name: "nightly-job");
        var scheduleId = await CreateScheduleAsync(api, jobId);
        var view = await Api.ReadAsync(await api.GetAsync(Routes.Of(Routes.Schedule, scheduleId)), Api.Json.ScheduleView);
        Assert.Equal(5, view.NextFireTimes.Count);

        var (status, html) = await ui.GetAsync("/ui/schedules");

        Assert.Equal(HttpStatusCode.OK, status);
        var row = DashboardClient.Row(html, $"href=\"/ui/schedules/{scheduleId}\"");
        Assert.Contains("nightly-job", row);
        Assert.Contains("<code>0 3 * * *</code>", row);
        Assert.Contains("Europe/Berlin", row);
        Assert.Contains("status-active", row);
        Assert.Equal(view.NextFireTimes, Times(row));
        // 03:00 in Berlin, whatever the season.
        Assert.Contains("03:00:00 Europe/Berlin", row);
        Assert.Contains("never", row); // no fire yet

        (status, html) = await ui.GetAsync($"/ui/schedules/{scheduleId}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Nothing has fired yet.", html);
        Assert.Equal(["/ui/schedules/" + scheduleId + "?handler=Pause", "/ui/schedules/" + scheduleId + "?handler=Trigger"], DashboardClient.PostForms(html));
    }

    [Fact]
    public async Task Pause_resume_and_trigger_change_the_schedule_and_write_their_audit_records()
    {
        var (tenant, api, ui) = await SignedInTenantAsync();
        var jobId = await Api.CreateJobAsync(api);
        var scheduleId = await CreateScheduleAsync(api, jobId);
        var actor = "api_key:" + await ScalarAsync<string>("select prefix from api_keys where tenant_id = $1", tenant.TenantId);
        Task<long> AuditsAsync(string action) => ScalarAsync<long>(
            "select count(*) from audit_log where tenant_id = $1 and action = $2 and target = $3 and actor = $4", tenant.TenantId, action, scheduleId.ToString(), actor);
        var url = $"/ui/schedules/{scheduleId}";
        await ui.GetAsync(url);

        var (status, html) = await ui.PostFormAsync(url + "?handler=Pause");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(url + "?notice=paused", ui.LastRedirect);
        Assert.Contains("Schedule paused.", html);
        Assert.Contains("status-paused", html);
        Assert.Contains("?handler=Resume", html);
        Assert.True(await ScalarAsync<bool>("select paused_at is not null from schedules where id = $1", scheduleId));
        Assert.Equal(1, await AuditsAsync("schedule.pause"));

        (status, html) = await ui.PostFormAsync(url + "?handler=Resume");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Schedule resumed.", html);
        Assert.True(await ScalarAsync<bool>("select paused_at is null from schedules where id = $1", scheduleId));
        Assert.Equal(1, await AuditsAsync("schedule.resume"));

        (status, html) = await ui.PostFormAsync(url + "?handler=Trigger");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Schedule triggered.", html);
        var run = await ScalarAsync<Guid>("select id from executions where schedule_id = $1", scheduleId);
        Assert.Equal(1, await AuditsAsync("schedule.trigger"));
        Assert.Equal(1, await ScalarAsync<long>("select count(*) from schedule_fires where schedule_id = $1 and trigger = 'manual' and execution_id = $2",
            scheduleId, run));
        var history = DashboardClient.Row(html, $"href=\"/ui/executions/{run}\"");
        Assert.Contains("manual", history);
        Assert.Contains("fired", history);
        // The next due time is not moved by a trigger.
        var view = await Api.ReadAsync(await api.GetAsync(Routes.Of(Routes.Schedule, scheduleId)), Api.Json.ScheduleView);
        Assert.Equal("active", view.State);
        Assert.True(view.NextDueAt > DateTimeOffset.UtcNow);
    }

    [Fact]
    public async Task A_suspended_tenant_may_pause_but_not_resume_or_trigger()
    {
        var (tenant, api, ui) = await SignedInTenantAsync();
        using var admin = _host.AdminClient();
        var jobId = await Api.CreateJobAsync(api);
        var scheduleId = await CreateScheduleAsync(api, jobId);
        var url = $"/ui/schedules/{scheduleId}";
        (await admin.PostAsync(Routes.Of(Routes.TenantSuspend, tenant.TenantId), null)).EnsureSuccessStatusCode();
        await ui.GetAsync(url);

        var (status, _) = await ui.PostFormAsync(url + "?handler=Pause");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(await ScalarAsync<bool>("select paused_at is not null from schedules where id = $1", scheduleId));
        Assert.DoesNotContain("?handler=Resume", ui.LastHtml);
        Assert.DoesNotContain("?handler=Trigger", ui.LastHtml);

        foreach (var handler in new[] { "Resume", "Trigger" })
        {
            var (refused, html) = await ui.PostFormAsync(url + "?handler=" + handler);
            Assert.Equal(HttpStatusCode.Forbidden, refused);
            Assert.Contains("This tenant is suspended", html);
        }
        Assert.True(await ScalarAsync<bool>("select paused_at is not null from schedules where id = $1", scheduleId));
        Assert.Equal(0, await ScalarAsync<long>("select count(*) from executions where schedule_id = $1", scheduleId));
    }

    [Fact]
    public async Task Another_tenants_job_and_schedule_are_404_on_pages_and_actions()
    {
        var (owner, ownerApi) = await _host.TenantClientAsync();
        Own(ownerApi);
        var jobId = await Api.CreateJobAsync(ownerApi, name: "owners-secret-job");
        var scheduleId = await CreateScheduleAsync(ownerApi, jobId, "owners-secret-schedule");
        var (_, otherApi, ui) = await SignedInTenantAsync();
        var audits = await ScalarAsync<long>("select count(*) from audit_log where tenant_id = $1", owner.TenantId);

        foreach (var path in new[] { $"/ui/jobs/{jobId}", $"/ui/schedules/{scheduleId}" })
        {
            var (status, html) = await ui.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, status);
            Assert.DoesNotContain("owners-secret", html);
        }
        // Lists show only the viewer's own, whatever tenant the address names.
        foreach (var path in new[] { "/ui/jobs", $"/ui/jobs?tenant={owner.TenantId}", "/ui/schedules", $"/ui/schedules?tenant={owner.TenantId}" })
            Assert.DoesNotContain("owners-secret", (await ui.GetAsync(path)).Html);

        await ui.GetAsync("/ui/jobs");
        var (runStatus, _) = await ui.PostFormAsync($"/ui/jobs/{jobId}?handler=Run", ("priority", "50"), ("at", ""), ("count", "5"));
        Assert.Equal(HttpStatusCode.NotFound, runStatus);
        foreach (var handler in new[] { "Pause", "Resume", "Trigger" })
        {
            await ui.GetAsync("/ui/jobs");
            var (status, html) = await ui.PostFormAsync($"/ui/schedules/{scheduleId}?handler={handler}");
            Assert.Equal(HttpStatusCode.NotFound, status);
            Assert.DoesNotContain("owners-secret", html);
        }
        Assert.Equal(0, await ExecutionsOfAsync(jobId));
        Assert.True(await ScalarAsync<bool>("select paused_at is null from schedules where id = $1", scheduleId));
        Assert.Equal(audits, await ScalarAsync<long>("select count(*) from audit_log where tenant_id = $1", owner.TenantId));
    }

    [Fact]
    public async Task A_read_only_key_sees_no_forms_and_its_posts_are_refused()
    {
        var (tenant, api) = await _host.TenantClientAsync();
        Own(api);
        var jobId = await Api.CreateJobAsync(api, name: "viewed-job");
        var scheduleId = await CreateScheduleAsync(api, jobId);
        using var ui = new DashboardClient(_host, followRedirects: true);
        await ui.SignInAsync(await ReadOnlyKeyAsync(api));

        foreach (var path in new[] { "/ui/jobs", $"/ui/jobs/{jobId}", "/ui/schedules", $"/ui/schedules/{scheduleId}" })
        {
            var (status, html) = await ui.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Empty(DashboardClient.PostForms(html));
        }
        Assert.Contains("This API key is read-only", (await ui.GetAsync($"/ui/jobs/{jobId}")).Html);

        var (runStatus, _) = await ui.PostFormAsync($"/ui/jobs/{jobId}?handler=Run", ("priority", "50"), ("at", ""), ("count", "1"));
        Assert.Equal(HttpStatusCode.Forbidden, runStatus);
        await ui.GetAsync("/ui/jobs");
        var (pauseStatus, pauseHtml) = await ui.PostFormAsync($"/ui/schedules/{scheduleId}?handler=Pause");
        Assert.Equal(HttpStatusCode.Forbidden, pauseStatus);
        Assert.Contains("read-only", pauseHtml);
        Assert.Equal(0, await ExecutionsOfAsync(jobId));
        Assert.True(await ScalarAsync<bool>("select paused_at is null from schedules where id = $1", scheduleId));
        Assert.Equal(0, await ScalarAsync<long>("select count(*) from audit_log where tenant_id = $1 and action like 'schedule.pause'", tenant.TenantId));
    }

    [Fact]
    public async Task A_form_without_its_csrf_token_is_refused_and_changes_nothing()
    {
        var (_, api, ui) = await SignedInTenantAsync();
        var jobId = await Api.CreateJobAsync(api);
        var scheduleId = await CreateScheduleAsync(api, jobId);
        await ui.GetAsync($"/ui/jobs/{jobId}");

        var (status, _) = await ui.PostFormAsync($"/ui/jobs/{jobId}?handler=Run", [("priority", "50"), ("at", ""), ("count", "2")], csrf: false);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        (status, _) = await ui.PostFormAsync($"/ui/jobs/{jobId}?handler=Run", [("priority", "50"), ("count", "2"), ("csrf", "forged")], csrf: false);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        (status, _) = await ui.PostFormAsync($"/ui/schedules/{scheduleId}?handler=Pause", [], csrf: false);
        Assert.Equal(HttpStatusCode.Forbidden, status);

        Assert.Equal(0, await ExecutionsOfAsync(jobId));
        Assert.True(await ScalarAsync<bool>("select paused_at is null from schedules where id = $1", scheduleId));
    }

    [Fact]
    public async Task The_jobs_list_pages_by_cursor_without_repeating_or_skipping()
    {
        var (_, api, ui) = await SignedInTenantAsync();
        var made = new List<Guid>();
        for (var i = 0; i < global::Jobplane.Controller.Dashboard.Pages.JobsModel.PageSize + 3; i++) made.Add(await Api.CreateJobAsync(api, name: $"paged-{i:D3}"));

        var (_, first) = await ui.GetAsync("/ui/jobs");
        var next = Regex.Match(first, "<a href=\"([^\"]+)\" rel=\"next\">").Groups[1].Value;
        Assert.StartsWith("/ui/jobs?after=", next);
        var (_, second) = await ui.GetAsync(WebUtility.HtmlDecode(next));

        var seen = Regex.Matches(first + second, "<a href=\"/ui/jobs/([0-9a-f-]{36})\">").Select(m => Guid.Parse(m.Groups[1].Value)).ToList();
        Assert.Equal(made.Count, seen.Count);
        Assert.Equal(made.Order(), seen.Order());
        Assert.DoesNotContain("rel=\"next\"", second);
        Assert.Equal(JsonSerializer.Serialize(made.AsEnumerable().Reverse().ToList()), JsonSerializer.Serialize(seen)); // newest first
    }
}

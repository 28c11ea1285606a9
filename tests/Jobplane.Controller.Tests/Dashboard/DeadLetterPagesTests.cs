using System.Net;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Store.Dashboard;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests.Dashboard;

/// <summary>
/// The dead-letters page over HTTP: it lists the scope's unretried dead letters (optionally one
/// job's), retries the selection or all of them and purges all, each "all" only after a confirmation
/// that names the count, each action with one audit record; the administrator acts on one tenant at
/// a time; read-only keys, forms without their token and other tenants' ids change nothing.
/// </summary>
public sealed class DeadLetterPagesTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>, IDisposable
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

    private Task<long> UnretriedAsync(Guid tenantId) =>
        ScalarAsync<long>("select count(*) from dead_letters where tenant_id = $1 and retried_execution_id is null", tenantId);

    private Task<long> DeadLettersAsync(Guid tenantId) => ScalarAsync<long>("select count(*) from dead_letters where tenant_id = $1", tenantId);

    /// <summary>The audit records of <paramref name="action"/> for the tenant, as (actor, details).</summary>
    private async Task<List<(string Actor, JsonElement Details)>> AuditsAsync(Guid tenantId, string action)
    {
        await using var cmd = _host.Database.DataSource.CreateCommand(
            "select actor, details::text from audit_log where tenant_id = $1 and action = $2 order by id");
        cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = tenantId });
        cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = action });
        await using var reader = await cmd.ExecuteReaderAsync();
        var list = new List<(string, JsonElement)>();
        while (await reader.ReadAsync()) list.Add((reader.GetString(0), JsonDocument.Parse(reader.GetString(1)).RootElement.Clone()));
        return list;
    }

    /// <summary>Runs the job <paramref name="count"/> times and fails each run's only attempt: that many dead letters.</summary>
    private async Task<List<Guid>> DeadLettersOfAsync(HttpClient api, Guid tenantId, Guid jobId, int count, string error = "exit 1")
    {
        using var worker = _host.WorkerClient();
        var runs = new List<Guid>();
        for (var i = 0; i < count; i++) runs.Add((await Api.RunAsync(api, jobId)).ExecutionId);
        var claimed = await Api.DequeueAsync(worker, tenantId, limit: count);
        Assert.Equal(count, claimed.Count);
        foreach (var c in claimed)
            Assert.Equal(ExecutionStatus.Failed, await Api.ResultAsync(worker, c.ExecutionId, c.LeaseToken, 1, $"\"error\": {JsonSerializer.Serialize(error)}"));
        return runs;
    }

    private async Task<Guid> DeadLetterIdAsync(Guid executionId) =>
        await ScalarAsync<Guid>("select id from dead_letters where execution_id = $1", executionId);

    private async Task<(CreateTenantResponse Tenant, HttpClient Api, DashboardClient Ui)> SignedInTenantAsync()
    {
        var (tenant, api) = await _host.TenantClientAsync();
        Own(api);
        var ui = Own(new DashboardClient(_host, followRedirects: true));
        await ui.SignInAsync(tenant.ApiKey);
        return (tenant, api, ui);
    }

    [Fact]
    public async Task The_page_lists_the_tenants_dead_letters_with_their_job_execution_and_error_as_text()
    {
        var (tenant, api, ui) = await SignedInTenantAsync();
        var jobId = await Api.CreateJobAsync(api, name: "<b>flaky</b>", maxAttempts: 1);
        var runs = await DeadLettersOfAsync(api, tenant.TenantId, jobId, 2, error: "<script>alert('dlq')</script>");

        var (status, html) = await ui.GetAsync("/ui/dead-letters");

        Assert.Equal(HttpStatusCode.OK, status);
        foreach (var run in runs)
        {
            var row = DashboardClient.Row(html, $"href=\"/ui/executions/{run}\"");
            Assert.Contains($"href=\"/ui/jobs/{jobId}\">&lt;b&gt;flaky&lt;/b&gt;</a>", row);
            Assert.Contains("&lt;script&gt;alert(&#x27;dlq&#x27;)&lt;/script&gt;", row);
            Assert.Contains($"value=\"{await DeadLetterIdAsync(run)}\"", row);
        }
        Assert.DoesNotContain("<script>alert", html);
        Assert.DoesNotContain("<b>flaky</b>", html);
        Assert.Contains("/ui/dead-letters?handler=RetrySelected", html);
        Assert.Contains("/ui/dead-letters?handler=RetryAll", html);
        Assert.Contains("/ui/dead-letters?handler=Purge", html);
    }

    [Fact]
    public async Task Retry_selected_reruns_exactly_the_selection_with_one_audit_record()
    {
        var (tenant, api, ui) = await SignedInTenantAsync();
        var jobId = await Api.CreateJobAsync(api, maxAttempts: 1);
        var runs = await DeadLettersOfAsync(api, tenant.TenantId, jobId, 3);
        var chosen = new[] { await DeadLetterIdAsync(runs[0]), await DeadLetterIdAsync(runs[2]) };
        await ui.GetAsync("/ui/dead-letters");

        var (status, html) = await ui.PostFormAsync("/ui/dead-letters?handler=RetrySelected",
            ("tenant", ""), ("job", ""), ("id", chosen[0].ToString()), ("id", chosen[1].ToString()));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("/ui/dead-letters?notice=retried:2", ui.LastRedirect);
        Assert.Contains("Retries submitted: 2.", html);
        Assert.Equal(1, await UnretriedAsync(tenant.TenantId));
        Assert.Equal(runs[1], await ScalarAsync<Guid>("select execution_id from dead_letters where tenant_id = $1 and retried_execution_id is null", tenant.TenantId));
        Assert.Equal(2, await ScalarAsync<long>(
            "select count(*) from dead_letters d join executions e on e.id = d.retried_execution_id where d.id = any($1) and e.status = 'PENDING'", chosen));
        var audit = Assert.Single(await AuditsAsync(tenant.TenantId, "dashboard.dlq_retry"));
        Assert.StartsWith("api_key:", audit.Actor);
        Assert.Equal(2, audit.Details.GetProperty("count").GetInt32());
        Assert.Equal(2, audit.Details.GetProperty("selected").GetInt32());
        // The page no longer lists them.
        Assert.DoesNotContain($"href=\"/ui/executions/{runs[0]}\"", html);
        Assert.Contains($"href=\"/ui/executions/{runs[1]}\"", html);
    }

    [Fact]
    public async Task Retry_all_asks_with_the_count_first_then_retries_them_all()
    {
        var (tenant, api, ui) = await SignedInTenantAsync();
        var jobId = await Api.CreateJobAsync(api, maxAttempts: 1);
        await DeadLettersOfAsync(api, tenant.TenantId, jobId, 3);
        await ui.GetAsync("/ui/dead-letters");

        var (status, html) = await ui.PostFormAsync("/ui/dead-letters?handler=RetryAll", ("tenant", ""), ("job", ""));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Null(ui.LastRedirect);
        Assert.Contains("Retry 3 dead letters?", html);
        Assert.Equal("yes", DashboardClient.Field(html, "confirm"));
        Assert.Equal(3, await UnretriedAsync(tenant.TenantId));
        Assert.Empty(await AuditsAsync(tenant.TenantId, "dashboard.dlq_retry"));

        (status, html) = await ui.PostFormAsync("/ui/dead-letters?handler=RetryAll", ("tenant", ""), ("job", ""), ("confirm", "yes"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Retries submitted: 3.", html);
        Assert.Contains("No dead letters.", html);
        Assert.Equal(0, await UnretriedAsync(tenant.TenantId));
        Assert.Equal(3, await ScalarAsync<long>("select count(*) from executions where job_id = $1 and status = 'PENDING'", jobId));
        var audit = Assert.Single(await AuditsAsync(tenant.TenantId, "dashboard.dlq_retry"));
        Assert.Equal(3, audit.Details.GetProperty("count").GetInt32());
        Assert.True(audit.Details.GetProperty("all").GetBoolean());

        // Nothing left: the confirmation says so instead of asking.
        (status, html) = await ui.PostFormAsync("/ui/dead-letters?handler=RetryAll", ("tenant", ""), ("job", ""));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Nothing matched; nothing changed.", html);
    }

    [Fact]
    public async Task Purge_asks_with_the_count_first_then_removes_only_the_filtered_jobs_dead_letters()
    {
        var (tenant, api, ui) = await SignedInTenantAsync();
        var purged = await Api.CreateJobAsync(api, name: "to-purge", maxAttempts: 1);
        var kept = await Api.CreateJobAsync(api, name: "to-keep", maxAttempts: 1);
        await DeadLettersOfAsync(api, tenant.TenantId, purged, 2);
        var keptRuns = await DeadLettersOfAsync(api, tenant.TenantId, kept, 1);

        var (status, html) = await ui.GetAsync("/ui/dead-letters?job=to-purge");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.DoesNotContain($"href=\"/ui/executions/{keptRuns[0]}\"", html);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(html, "name=\"id\"").Count);

        (status, html) = await ui.PostFormAsync("/ui/dead-letters?handler=Purge", ("tenant", ""), ("job", "to-purge"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Purge 2 dead letters of job “to-purge”?", DashboardClient.Text(html));
        Assert.Contains("data-confirm=", html);
        Assert.Equal(3, await DeadLettersAsync(tenant.TenantId));

        (status, html) = await ui.PostFormAsync("/ui/dead-letters?handler=Purge", ("tenant", ""), ("job", "to-purge"), ("confirm", "yes"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("/ui/dead-letters?job=to-purge&notice=purged:2", ui.LastRedirect);
        Assert.Contains("Dead letters purged: 2.", html);
        Assert.Equal(1, await DeadLettersAsync(tenant.TenantId));
        Assert.Equal(keptRuns[0], await ScalarAsync<Guid>("select execution_id from dead_letters where tenant_id = $1", tenant.TenantId));
        var audit = Assert.Single(await AuditsAsync(tenant.TenantId, "dashboard.dlq_purge"));
        Assert.Equal(2, audit.Details.GetProperty("count").GetInt32());
        Assert.Equal(purged, audit.Details.GetProperty("job_id").GetGuid());
        // The executions keep their history.
        Assert.Equal(2, await ScalarAsync<long>("select count(*) from executions where job_id = $1 and status = 'FAILED'", purged));
    }

    [Fact]
    public async Task A_job_filter_searches_a_bounded_number_of_dead_letters_per_page_and_says_so()
    {
        var (tenant, api, ui) = await SignedInTenantAsync();
        var rare = await Api.CreateJobAsync(api, name: "rare", maxAttempts: 1);
        var common = await Api.CreateJobAsync(api, name: "common", maxAttempts: 1);
        var rareRuns = await DeadLettersOfAsync(api, tenant.TenantId, rare, 1);
        // More of another job's dead letters, all newer, than one page searches.
        await Api.ExecSqlAsync(_host, """
            with made as (
                insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, max_attempts, scheduled_at, completed_at)
                select gen_random_uuid(), $1, $2, 'FAILED', 50, 60, 1, now(), now() + make_interval(secs => g)
                from generate_series(1, $3) g returning id, completed_at)
            insert into dead_letters (id, tenant_id, execution_id, job_id, error_message, attempts, failed_at)
            select gen_random_uuid(), $1, id, $2, 'boom', 1, completed_at from made
            """, tenant.TenantId, common, DeadLetterQueries.SearchRows + 10);

        var (status, html) = await ui.GetAsync("/ui/dead-letters?job=rare");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.DoesNotContain(rareRuns[0].ToString(), html);
        Assert.Contains($"searched the next {DeadLetterQueries.SearchRows.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} dead letters", DashboardClient.Text(html));
        var more = System.Text.RegularExpressions.Regex.Match(html, "<a href=\"([^\"]+)\">continue searching</a>").Groups[1].Value;
        Assert.StartsWith("/ui/dead-letters?job=rare&amp;after=", more);

        (status, html) = await ui.GetAsync(WebUtility.HtmlDecode(more));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains($"href=\"/ui/executions/{rareRuns[0]}\"", html);
        Assert.DoesNotContain("continue searching", html);
    }

    [Fact]
    public async Task A_job_filter_naming_no_job_lists_nothing_and_acts_on_nothing()
    {
        var (tenant, api, ui) = await SignedInTenantAsync();
        var jobId = await Api.CreateJobAsync(api, maxAttempts: 1);
        await DeadLettersOfAsync(api, tenant.TenantId, jobId, 1);

        var (status, html) = await ui.GetAsync("/ui/dead-letters?job=no-such-job");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("There is no job named “no-such-job”.", DashboardClient.Text(html));
        Assert.DoesNotContain("name=\"id\"", html);

        (status, _) = await ui.PostFormAsync("/ui/dead-letters?handler=Purge", ("tenant", ""), ("job", "no-such-job"), ("confirm", "yes"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(1, await DeadLettersAsync(tenant.TenantId));
    }

    [Fact]
    public async Task The_administrator_lists_every_tenant_and_acts_only_on_a_chosen_tenant()
    {
        var (tenantA, apiA) = await _host.TenantClientAsync();
        Own(apiA);
        var (tenantB, apiB) = await _host.TenantClientAsync();
        Own(apiB);
        var runsA = await DeadLettersOfAsync(apiA, tenantA.TenantId, await Api.CreateJobAsync(apiA, maxAttempts: 1), 2);
        var runsB = await DeadLettersOfAsync(apiB, tenantB.TenantId, await Api.CreateJobAsync(apiB, maxAttempts: 1), 1);
        using var ui = new DashboardClient(_host, followRedirects: true);
        await ui.SignInAsync(ControllerHost.AdminSecret);

        var (status, html) = await ui.GetAsync("/ui/dead-letters");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains(tenantA.Name, DashboardClient.Row(html, $"/ui/executions/{runsA[0]}"));
        Assert.Contains(tenantB.Name, DashboardClient.Row(html, $"/ui/executions/{runsB[0]}"));
        Assert.Contains("acting on every tenant's dead letters at once is not offered", DashboardClient.Text(html));
        Assert.Empty(DashboardClient.PostForms(html));

        (status, html) = await ui.PostFormAsync("/ui/dead-letters?handler=Purge", ("tenant", ""), ("job", ""), ("confirm", "yes"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("Choose a tenant first", html);
        Assert.Equal(2, await DeadLettersAsync(tenantA.TenantId));
        Assert.Equal(1, await DeadLettersAsync(tenantB.TenantId));

        (status, html) = await ui.GetAsync($"/ui/dead-letters?tenant={tenantA.TenantId}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.DoesNotContain($"/ui/executions/{runsB[0]}", html);
        Assert.Contains("?handler=RetryAll", html);
        (status, html) = await ui.PostFormAsync("/ui/dead-letters?handler=RetryAll", ("tenant", tenantA.TenantId.ToString()), ("job", ""));
        Assert.Contains($"Retry 2 dead letters of tenant {tenantA.Name}?", DashboardClient.Text(html));
        (status, html) = await ui.PostFormAsync("/ui/dead-letters?handler=RetryAll", ("tenant", tenantA.TenantId.ToString()), ("job", ""), ("confirm", "yes"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal($"/ui/dead-letters?tenant={tenantA.TenantId}&notice=retried:2", ui.LastRedirect);
        Assert.Equal(0, await UnretriedAsync(tenantA.TenantId));
        Assert.Equal(1, await UnretriedAsync(tenantB.TenantId));
        var audit = Assert.Single(await AuditsAsync(tenantA.TenantId, "dashboard.dlq_retry"));
        Assert.Equal("administrator", audit.Actor);
        Assert.Empty(await AuditsAsync(tenantB.TenantId, "dashboard.dlq_retry"));
    }

    [Fact]
    public async Task A_suspended_tenant_may_purge_but_not_retry()
    {
        var (tenant, api, ui) = await SignedInTenantAsync();
        using var admin = _host.AdminClient();
        var runs = await DeadLettersOfAsync(api, tenant.TenantId, await Api.CreateJobAsync(api, maxAttempts: 1), 2);
        (await admin.PostAsync(Routes.Of(Routes.TenantSuspend, tenant.TenantId), null)).EnsureSuccessStatusCode();

        var (status, html) = await ui.GetAsync("/ui/dead-letters");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("can be purged, not retried", html);
        Assert.DoesNotContain("handler=RetrySelected", html);

        (status, html) = await ui.PostFormAsync("/ui/dead-letters?handler=RetrySelected", ("tenant", ""), ("job", ""), ("id", (await DeadLetterIdAsync(runs[0])).ToString()));
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("This tenant is suspended", html);
        (status, _) = await ui.PostFormAsync("/ui/dead-letters?handler=RetryAll", ("tenant", ""), ("job", ""), ("confirm", "yes"));
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal(2, await UnretriedAsync(tenant.TenantId));

        (status, _) = await ui.PostFormAsync("/ui/dead-letters?handler=Purge", ("tenant", ""), ("job", ""), ("confirm", "yes"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(0, await DeadLettersAsync(tenant.TenantId));
    }

    [Fact]
    public async Task Another_tenants_dead_letters_are_not_listed_and_cannot_be_retried_or_purged()
    {
        var (owner, ownerApi) = await _host.TenantClientAsync();
        Own(ownerApi);
        var ownerRuns = await DeadLettersOfAsync(ownerApi, owner.TenantId, await Api.CreateJobAsync(ownerApi, name: "owners-secret-job", maxAttempts: 1), 2);
        var ownerIds = new[] { await DeadLetterIdAsync(ownerRuns[0]), await DeadLetterIdAsync(ownerRuns[1]) };
        var (other, otherApi, ui) = await SignedInTenantAsync();

        foreach (var path in new[] { "/ui/dead-letters", $"/ui/dead-letters?tenant={owner.TenantId}", "/ui/dead-letters?job=owners-secret-job" })
        {
            var (status, html) = await ui.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, status);
            // The only mentions allowed are the viewer's own filter, echoed ("there is no job named …", the field).
            var text = DashboardClient.Text(html).Replace("named “owners-secret-job”", "", StringComparison.Ordinal)
                .Replace("value=\"owners-secret-job\"", "", StringComparison.Ordinal);
            Assert.DoesNotContain("owners-secret-job", text);
            Assert.DoesNotContain(ownerRuns[0].ToString(), html);
        }

        await ui.GetAsync("/ui/dead-letters");
        var (retried, retriedHtml) = await ui.PostFormAsync("/ui/dead-letters?handler=RetrySelected",
            ("tenant", owner.TenantId.ToString()), ("job", ""), ("id", ownerIds[0].ToString()), ("id", ownerIds[1].ToString()));
        Assert.Equal(HttpStatusCode.OK, retried);
        Assert.Contains("Nothing matched; nothing changed.", retriedHtml);
        await ui.PostFormAsync("/ui/dead-letters?handler=Purge", ("tenant", owner.TenantId.ToString()), ("job", ""), ("confirm", "yes"));
        await ui.PostFormAsync("/ui/dead-letters?handler=RetryAll", ("tenant", owner.TenantId.ToString()), ("job", ""), ("confirm", "yes"));

        Assert.Equal(2, await UnretriedAsync(owner.TenantId));
        Assert.Empty(await AuditsAsync(owner.TenantId, "dashboard.dlq_retry"));
        Assert.Empty(await AuditsAsync(owner.TenantId, "dashboard.dlq_purge"));
        Assert.Empty(await AuditsAsync(other.TenantId, "dashboard.dlq_retry"));
    }

    [Fact]
    public async Task A_read_only_key_sees_no_actions_and_a_form_without_its_token_is_refused()
    {
        var (tenant, api) = await _host.TenantClientAsync();
        Own(api);
        var runs = await DeadLettersOfAsync(api, tenant.TenantId, await Api.CreateJobAsync(api, maxAttempts: 1), 1);
        var key = await Api.ReadAsync(await api.PostAsync(Routes.ApiKeys, Api.RawJson("""{"name": "viewer", "read_only": true}""")),
            Api.Json.CreateApiKeyResponse, HttpStatusCode.Created);
        using (var viewer = new DashboardClient(_host, followRedirects: true))
        {
            await viewer.SignInAsync(key.ApiKey);
            var (status, html) = await viewer.GetAsync("/ui/dead-letters");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Contains($"href=\"/ui/executions/{runs[0]}\"", html);
            Assert.Empty(DashboardClient.PostForms(html));
            Assert.DoesNotContain("type=\"checkbox\"", html);
            foreach (var handler in new[] { "RetrySelected", "RetryAll", "Purge" })
            {
                await viewer.GetAsync("/ui/dead-letters");
                var (refused, _) = await viewer.PostFormAsync($"/ui/dead-letters?handler={handler}",
                    ("tenant", ""), ("job", ""), ("confirm", "yes"), ("id", (await DeadLetterIdAsync(runs[0])).ToString()));
                Assert.Equal(HttpStatusCode.Forbidden, refused);
            }
        }

        using var ui = new DashboardClient(_host, followRedirects: true);
        await ui.SignInAsync(tenant.ApiKey);
        await ui.GetAsync("/ui/dead-letters");
        var (noToken, _) = await ui.PostFormAsync("/ui/dead-letters?handler=Purge", [("tenant", ""), ("job", ""), ("confirm", "yes")], csrf: false);
        Assert.Equal(HttpStatusCode.Forbidden, noToken);
        Assert.Equal(1, await UnretriedAsync(tenant.TenantId));
        Assert.Empty(await AuditsAsync(tenant.TenantId, "dashboard.dlq_purge"));
    }
}

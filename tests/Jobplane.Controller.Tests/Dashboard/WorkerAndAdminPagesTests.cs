using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Jobplane.Api;
using Jobplane.Client;
using Jobplane.Controller.Queue;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests.Dashboard;

/// <summary>
/// The workers page and the administration pages, driven over HTTP like a browser without
/// JavaScript: what each viewer sees, and what each form changes in the database (and its audit
/// record). Real controller, real PostgreSQL.
/// </summary>
public sealed partial class WorkerAndAdminPagesTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private ControllerHost Host => fixture.Host;

    // ---- Workers ----

    [Fact]
    public async Task A_worker_that_dequeued_shows_with_its_version_and_slots_in_use()
    {
        var (tenant, api) = await Host.TenantClientAsync();
        var job = await Api.CreateJobAsync(api);
        var run = await Api.RunAsync(api, job);
        var workerId = $"w-version-{Guid.NewGuid():N}";
        var worker = VersionedWorker("1.4.2+3f2a9c1");
        var claimed = await worker.DequeueAsync(new DequeueRequest
        {
            Limit = 1,
            WorkerId = workerId,
            TenantIds = [tenant.TenantId],
            Runtime = "exec",
            Capabilities = new WorkerCapabilities { Slots = 4, Network = true, MaxMemoryMib = 512 },
        }, CancellationToken.None);
        Assert.Equal(run.ExecutionId, Assert.Single(claimed.Executions).ExecutionId);

        using var admin = await AdminAsync();
        var (status, html, _) = await admin.GetAsync("/ui/workers");
        Assert.Equal(HttpStatusCode.OK, status);
        var row = Row(html, workerId);
        Assert.Contains("1.4.2+3f2a9c1", WebUtility.HtmlDecode(row));
        Assert.Contains("connected", row);
        Assert.Contains("exec", row);
        Assert.Contains(tenant.Name, row);
        Assert.Contains("512 MiB", row);
        // Slots 4, in use 1, free 3.
        var numbers = Numbers(row);
        Assert.Equal(new[] { "4", "1", "3" }, numbers.Take(3));
        Assert.Equal("1.4.2+3f2a9c1", await ScalarAsync<string>("select version from workers where worker_id = $1", workerId));
    }

    [Fact]
    public async Task A_worker_whose_user_agent_names_no_readable_version_is_recorded_without_one()
    {
        var tenant = await Host.CreateTenantAsync();
        var workerId = $"w-noversion-{Guid.NewGuid():N}";
        using var worker = Host.WorkerClient();
        worker.DefaultRequestHeaders.TryAddWithoutValidation("User-Agent", "jobplane-worker/1.0<script>");
        await worker.PostAsJsonAsync(Routes.WorkerDequeue,
            new DequeueRequest { Limit = 1, WorkerId = workerId, TenantIds = [tenant.TenantId] }, Api.Json.DequeueRequest);
        Assert.Null(await ScalarAsync<string?>("select version from workers where worker_id = $1", workerId));
    }

    [Theory]
    [InlineData("jobplane-worker/1.0.0", "1.0.0")]
    [InlineData("jobplane-worker/1.0.0+9de4cfe0a1 (linux)", "1.0.0+9de4cfe0a1")]
    [InlineData("other/2 jobplane-worker/0.9.1-rc.2", "0.9.1-rc.2")]
    [InlineData("jobplane-worker/", null)]
    [InlineData("jobplane-worker/1.0_beta", null)]
    [InlineData("jobplane-worker/1.0;drop", null)]
    [InlineData("jobctl/1.0.0", null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void The_version_is_read_from_the_user_agent_or_is_null(string? userAgent, string? version) =>
        Assert.Equal(version, WorkerRegistry.VersionOf(userAgent));

    [Fact]
    public void A_version_longer_than_100_characters_is_not_recorded()
    {
        Assert.Equal(new string('1', 100), WorkerRegistry.VersionOf("jobplane-worker/" + new string('1', 100)));
        Assert.Null(WorkerRegistry.VersionOf("jobplane-worker/" + new string('1', 101)));
    }

    [Fact]
    public async Task A_tenant_sees_only_workers_that_may_serve_it_and_only_its_own_usage()
    {
        var (a, apiA) = await Host.TenantClientAsync($"alpha-{Guid.NewGuid():N}");
        var (b, apiB) = await Host.TenantClientAsync($"beta-{Guid.NewGuid():N}");
        var runA = await Api.RunAsync(apiA, await Api.CreateJobAsync(apiA));
        var runB = await Api.RunAsync(apiB, await Api.CreateJobAsync(apiB));
        var onlyA = $"w-only-a-{Guid.NewGuid():N}";
        var both = $"w-both-{Guid.NewGuid():N}";
        var worker = VersionedWorker("2.0.0");
        await worker.DequeueAsync(new DequeueRequest { Limit = 1, WorkerId = onlyA, TenantIds = [a.TenantId], Capabilities = new() { Slots = 2 } }, CancellationToken.None);
        // The first dequeue took A's execution; this one takes B's.
        var claimed = await worker.DequeueAsync(new DequeueRequest
        {
            Limit = 2,
            WorkerId = both,
            TenantIds = [a.TenantId, b.TenantId],
            Capabilities = new() { Slots = 8 },
        }, CancellationToken.None);
        Assert.Equal(new[] { runB.ExecutionId }, claimed.Executions.Select(e => e.ExecutionId));
        Assert.Equal(runA.ExecutionId, await ScalarAsync<Guid>("select id from executions where worker_id = $1", onlyA));

        using var uiB = new DashboardClient(Host);
        await uiB.SignInAsync(b.ApiKey);
        var (status, html, _) = await uiB.GetAsync("/ui/workers");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.DoesNotContain(onlyA, html);
        Assert.DoesNotContain(a.Name, html);
        // A tenant is shown its own pseudonym of each worker (as the API gives it), never the id.
        Assert.DoesNotContain(both, html);
        var row = Row(html, Pseudonym(b.TenantId, both));
        Assert.Contains("some tenants, this one among them", row);
        // Slots 8, and B's own running execution only (A's runs elsewhere, and is not B's to count); no free column.
        Assert.Equal(new[] { "8", "1" }, Numbers(row).Take(2));
        Assert.DoesNotContain(">Free<", html);

        using var uiA = new DashboardClient(Host);
        await uiA.SignInAsync(a.ApiKey);
        var pageA = (await uiA.GetAsync("/ui/workers")).Html;
        Assert.Equal(new[] { "2", "1" }, Numbers(Row(pageA, Pseudonym(a.TenantId, onlyA))).Take(2));
        Assert.Equal(new[] { "8", "0" }, Numbers(Row(pageA, Pseudonym(a.TenantId, both))).Take(2));
        Assert.NotEqual(Pseudonym(a.TenantId, both), Pseudonym(b.TenantId, both));
        Assert.DoesNotContain(b.Name, pageA);

        using var admin = await AdminAsync();
        var all = (await admin.GetAsync("/ui/workers")).Html;
        var bothRow = Row(all, both);
        Assert.Contains(a.Name, bothRow);
        Assert.Contains(b.Name, bothRow);
        Assert.Equal(new[] { "8", "1", "7" }, Numbers(bothRow).Take(3));
    }

    private string Pseudonym(Guid tenantId, string workerId) =>
        Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Jobplane.Controller.Auth.WorkerPseudonyms>(Host.Services)
            .For(tenantId, workerId);

    [Fact]
    public async Task A_worker_not_heard_from_for_a_minute_is_shown_as_gone()
    {
        var tenant = await Host.CreateTenantAsync();
        var workerId = $"w-gone-{Guid.NewGuid():N}";
        var worker = VersionedWorker("1.0.0");
        await worker.DequeueAsync(new DequeueRequest { Limit = 1, WorkerId = workerId, TenantIds = [tenant.TenantId] }, CancellationToken.None);
        await Api.ExecSqlAsync(Host, "update workers set seen_at = now() - interval '5 minutes' where worker_id = $1", workerId);
        using var admin = await AdminAsync();
        var row = Row((await admin.GetAsync("/ui/workers")).Html, workerId);
        Assert.Contains(">gone<", row);
        Assert.Contains("5 min", row);
    }

    // ---- Tenants ----

    [Fact]
    public async Task The_administrator_suspends_and_resumes_a_tenant_with_audit_records()
    {
        var tenant = await Host.CreateTenantAsync($"suspend-{Guid.NewGuid():N}");
        using var admin = await AdminAsync();
        var (status, html, _) = await admin.GetAsync("/ui/admin");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains(tenant.Name, html);

        var suspend = await admin.PostFormAsync("/ui/admin?handler=Suspend", ("id", tenant.TenantId.ToString()));
        Assert.Equal(HttpStatusCode.SeeOther, suspend.Status);
        Assert.Equal("/ui/admin?notice=suspended", suspend.Headers.Location?.OriginalString);
        Assert.True(await ScalarAsync<bool>("select suspended_at is not null from tenants where id = $1", tenant.TenantId));
        var notice = (await admin.GetAsync(suspend.Headers.Location!.OriginalString)).Html;
        Assert.Contains("Tenant suspended.", notice);
        Assert.Contains("suspended</span>", Row(notice, tenant.Name));

        // From the tenant's page, the answer leads back there.
        await admin.GetAsync($"/ui/admin/tenants/{tenant.TenantId}");
        var resume = await admin.PostFormAsync("/ui/admin?handler=Resume", ("id", tenant.TenantId.ToString()), ("return", $"/ui/admin/tenants/{tenant.TenantId}"));
        Assert.Equal(HttpStatusCode.SeeOther, resume.Status);
        Assert.Equal($"/ui/admin/tenants/{tenant.TenantId}?notice=unsuspended", resume.Headers.Location?.OriginalString);
        Assert.False(await ScalarAsync<bool>("select suspended_at is not null from tenants where id = $1", tenant.TenantId));

        Assert.Equal(new[] { "tenant.suspend", "tenant.resume" }, await AuditActionsAsync(tenant.TenantId, "tenant.suspend", "tenant.resume"));
        Assert.Equal(2, await ScalarAsync<long>(
            "select count(*) from audit_log where tenant_id = $1 and action in ('tenant.suspend', 'tenant.resume') and actor = 'administrator'", tenant.TenantId));
        var audit = (await admin.GetAsync($"/ui/admin/audit?tenant={tenant.TenantId}")).Html;
        Assert.Contains("tenant.suspend", audit);
        Assert.Contains("tenant.resume", audit);
        Assert.Contains("tenant.create", audit);
    }

    [Fact]
    public async Task Editing_limits_with_a_bad_value_shows_the_problem_and_changes_nothing()
    {
        var tenant = await Host.CreateTenantAsync();
        using var admin = await AdminAsync();
        var page = $"/ui/admin/tenants/{tenant.TenantId}";
        var (status, html, _) = await admin.GetAsync(page);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("name=\"weight\"", html);

        foreach (var (field, value, message) in new[]
        {
            ("weight", "5000", "weight must be between 1 and 1000 (got 5000)"),
            ("max_fleet_share", "0", "max_fleet_share must be a fraction"),
            ("rate_limit", "fast", "rate_limit must be a number (got &#x27;fast&#x27;)"),
            ("allowed_runtimes", "podman", "allowed_runtimes entries must be one of exec, docker, kubernetes"),
            ("log_max_bytes_per_execution", "10", "log_max_bytes_per_execution must be a number of bytes between 1024"),
        })
        {
            var fields = LimitsForm(tenant.Name, rateLimit: "7", weight: "3");
            fields.RemoveAll(f => f.Name == field && field != "allowed_runtimes");
            fields.Add((field, value));
            var answer = await admin.PostFormAsync($"{page}?handler=Save", [.. fields]);
            var text = answer.Html;
            Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
            Assert.Contains(message, text);
            Assert.Contains("Nothing was changed.", text);
            // The form shows again as it was sent.
            if (field != "allowed_runtimes") Assert.Contains($"value=\"{WebUtility.HtmlEncode(value)}\"", text);
        }
        Assert.Equal((true, 1), (await ScalarAsync<bool>("select rate_limit is null from tenants where id = $1", tenant.TenantId),
            await ScalarAsync<int>("select weight from tenants where id = $1", tenant.TenantId)));
        Assert.Empty(await AuditActionsAsync(tenant.TenantId, "tenant.update"));

        // The same form with good values is saved, and audited once.
        var saved = await admin.PostFormAsync($"{page}?handler=Save", [.. LimitsForm(tenant.Name, rateLimit: "7", weight: "3"), ("allowed_runtimes", "docker")]);
        Assert.Equal(HttpStatusCode.SeeOther, saved.Status);
        Assert.Equal($"{page}?notice=saved", saved.Headers.Location?.OriginalString);
        Assert.Equal(7.0, await ScalarAsync<double>("select rate_limit from tenants where id = $1", tenant.TenantId));
        Assert.Equal(3, await ScalarAsync<int>("select weight from tenants where id = $1", tenant.TenantId));
        Assert.Equal(new[] { "docker" }, await ScalarAsync<string[]>("select allowed_runtimes from tenants where id = $1", tenant.TenantId));
        Assert.Equal(new[] { "tenant.update" }, await AuditActionsAsync(tenant.TenantId, "tenant.update"));
        var after = (await admin.GetAsync(saved.Headers.Location!.OriginalString)).Html;
        Assert.Contains("Saved.", after);
        Assert.Contains("id=\"rate_limit\" name=\"rate_limit\" inputmode=\"decimal\" value=\"7\"", after);

        // Blank rate limit removes it, as rate_limit 0 does on the API.
        await admin.PostFormAsync($"{page}?handler=Save", [.. LimitsForm(tenant.Name, rateLimit: "", weight: "3")]);
        Assert.True(await ScalarAsync<bool>("select rate_limit is null from tenants where id = $1", tenant.TenantId));
    }

    [Fact]
    public async Task A_tenant_created_from_the_form_shows_its_first_key_once()
    {
        using var admin = await AdminAsync();
        await admin.GetAsync("/ui/admin");
        var name = $"created-{Guid.NewGuid():N}";
        var answer = await admin.PostFormAsync("/ui/admin?handler=Create", ("name", name));
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        var html = answer.Html;
        Assert.Contains("shown this once and never again", html);
        var key = SecretValue(html, "created-key");
        using var api = Host.Client(key);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync(Routes.Jobs)).StatusCode);
        Assert.DoesNotContain(key, (await admin.GetAsync("/ui/admin")).Html);

        // The same name again is refused with the API's words, and no second tenant exists.
        var again = await admin.PostFormAsync("/ui/admin?handler=Create", ("name", name));
        Assert.Equal(HttpStatusCode.BadRequest, again.Status);
        Assert.Contains("already exists", again.Html);
        Assert.Equal(1, await ScalarAsync<long>("select count(*) from tenants where name = $1", name));
    }

    // ---- API keys ----

    [Fact]
    public async Task A_key_created_from_the_form_works_against_the_api_and_is_never_shown_again()
    {
        var tenant = await Host.CreateTenantAsync();
        using var admin = await AdminAsync();
        var page = $"/ui/admin/tenants/{tenant.TenantId}";
        await admin.GetAsync(page);
        var answer = await admin.PostFormAsync($"{page}?handler=CreateKey", ("name", "ci <deploy>"), ("expires_at", "2099-01-31T12:00"));
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        var html = answer.Html;
        Assert.Contains("shown this once and never again", html);
        Assert.Contains("ci &lt;deploy&gt;", html);
        var key = SecretValue(html, "created-key");
        Assert.StartsWith("jp_", key, StringComparison.Ordinal);

        using var api = Host.Client(key);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync(Routes.Jobs)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await api.PostAsync(Routes.Jobs,
            Api.RawJson("""{"name": "from-new-key", "image": "exec", "command": ["true"]}"""))).StatusCode);

        var again = (await admin.GetAsync(page)).Html;
        Assert.DoesNotContain(key, again);
        Assert.Contains(key.Split('_')[1], again); // the prefix is listed
        Assert.Contains("2099-01-31 12:00:00", again);
        Assert.Equal(1, await ScalarAsync<long>(
            "select count(*) from audit_log where tenant_id = $1 and action = 'api_key.create' and actor = 'administrator' and details->>'name' = 'ci <deploy>'",
            tenant.TenantId));
    }

    [Fact]
    public async Task A_read_only_key_created_from_the_form_may_read_and_is_refused_on_post()
    {
        var tenant = await Host.CreateTenantAsync();
        using var admin = await AdminAsync();
        var page = $"/ui/admin/tenants/{tenant.TenantId}";
        await admin.GetAsync(page);
        var answer = await admin.PostFormAsync($"{page}?handler=CreateKey", ("name", "viewer"), ("read_only", "true"));
        var html = answer.Html;
        Assert.Contains("It is read-only.", html);
        var key = SecretValue(html, "created-key");

        using var api = Host.Client(key);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync(Routes.Jobs)).StatusCode);
        await Api.AssertErrorAsync(await api.PostAsync(Routes.Jobs, Api.RawJson("""{"name": "nope", "image": "exec", "command": ["true"]}""")),
            HttpStatusCode.Forbidden, ErrorCodes.ReadOnlyKey);
        Assert.Contains("read-only", Row((await admin.GetAsync(page)).Html, "viewer"));
    }

    [Fact]
    public async Task A_key_form_with_a_bad_expiry_or_past_the_cap_creates_nothing()
    {
        var tenant = await Host.CreateTenantAsync();
        using var admin = await AdminAsync();
        var page = $"/ui/admin/tenants/{tenant.TenantId}";
        await admin.GetAsync(page);
        var bad = await admin.PostFormAsync($"{page}?handler=CreateKey", ("name", "x"), ("expires_at", "soon"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Contains("expires_at must be a date and time", bad.Html);
        var past = await admin.PostFormAsync($"{page}?handler=CreateKey", ("name", "x"), ("expires_at", "2001-01-01T00:00"));
        Assert.Equal(HttpStatusCode.BadRequest, past.Status);
        Assert.Contains("expires_at must be in the future", past.Html);
        Assert.Equal(1, await ScalarAsync<long>("select count(*) from api_keys where tenant_id = $1", tenant.TenantId));

        // MAX_API_KEYS_PER_TENANT (20 by default) holds here as on the API.
        await Api.ExecSqlAsync(Host, """
            insert into api_keys (id, tenant_id, prefix, secret_hash, name)
            select gen_random_uuid(), $1, 'cap' || substr(md5(random()::text), 1, 9), '\x00', 'filler' from generate_series(1, 19)
            """, tenant.TenantId);
        var capped = await admin.PostFormAsync($"{page}?handler=CreateKey", ("name", "one-too-many"));
        Assert.Equal(HttpStatusCode.BadRequest, capped.Status);
        Assert.Contains("MAX_API_KEYS_PER_TENANT=20", capped.Html);
        Assert.Equal(20, await ScalarAsync<long>("select count(*) from api_keys where tenant_id = $1", tenant.TenantId));
    }

    [Fact]
    public async Task Revoking_a_key_ends_the_dashboard_sessions_made_with_it()
    {
        var tenant = await Host.CreateTenantAsync();
        using var admin = await AdminAsync();
        var page = $"/ui/admin/tenants/{tenant.TenantId}";
        await admin.GetAsync(page);
        var key = SecretValue((await admin.PostFormAsync($"{page}?handler=CreateKey", ("name", "laptop"))).Html, "created-key");

        using var ui = new DashboardClient(Host);
        Assert.Equal(HttpStatusCode.SeeOther, (await ui.TrySignInAsync(key)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ui.GetAsync("/ui/workers")).Status);

        var keyId = await ScalarAsync<Guid>("select id from api_keys where tenant_id = $1 and name = 'laptop'", tenant.TenantId);
        Assert.Contains($"name=\"key\" value=\"{keyId}\"", (await admin.GetAsync(page)).Html);
        var revoked = await admin.PostFormAsync($"{page}?handler=RevokeKey", ("key", keyId.ToString()));
        Assert.Equal(HttpStatusCode.SeeOther, revoked.Status);
        Assert.Equal($"{page}?notice=key_revoked:0", revoked.Headers.Location?.OriginalString);

        var (status, _, location) = await ui.GetAsync("/ui/workers");
        Assert.Equal(HttpStatusCode.Redirect, status);
        Assert.StartsWith("/ui/signin", location, StringComparison.Ordinal);
        using var api = Host.Client(key);
        Assert.Equal(HttpStatusCode.Unauthorized, (await api.GetAsync(Routes.Jobs)).StatusCode);
        Assert.Equal(new[] { "api_key.revoke" }, await AuditActionsAsync(tenant.TenantId, "api_key.revoke"));
        // Another tenant's key id on this tenant's page: not found, nothing revoked.
        var other = await Host.CreateTenantAsync();
        var otherKey = await ScalarAsync<Guid>("select id from api_keys where tenant_id = $1", other.TenantId);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostFormAsync($"{page}?handler=RevokeKey", ("key", otherKey.ToString()))).Status);
        Assert.False(await ScalarAsync<bool>("select revoked_at is not null from api_keys where id = $1", otherKey));
    }

    // ---- Worker credentials ----

    [Fact]
    public async Task A_worker_credential_is_shown_once_restricted_as_asked_and_revoked()
    {
        var tenant = await Host.CreateTenantAsync($"cred-{Guid.NewGuid():N}");
        using var admin = await AdminAsync();
        var (status, html, _) = await admin.GetAsync("/ui/admin/credentials");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains($"value=\"{tenant.TenantId}\"", html);
        var name = $"pool-{Guid.NewGuid():N}";
        var answer = await admin.PostFormAsync("/ui/admin/credentials?handler=Create", ("name", name), ("tenant", tenant.TenantId.ToString()));
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        var created = answer.Html;
        var token = SecretValue(created, "created-token");
        Assert.StartsWith("jpw_", token, StringComparison.Ordinal);
        Assert.Contains($"It serves {tenant.Name}", created);

        using var worker = Host.Client(token);
        var dequeue = new DequeueRequest { Limit = 1, WorkerId = "cred-worker", TenantIds = [tenant.TenantId] };
        Assert.Equal(HttpStatusCode.OK, (await worker.PostAsJsonAsync(Routes.WorkerDequeue, dequeue, Api.Json.DequeueRequest)).StatusCode);

        var listed = (await admin.GetAsync("/ui/admin/credentials")).Html;
        Assert.DoesNotContain(token, listed);
        Assert.Contains(tenant.Name, Row(listed, name));
        var id = await ScalarAsync<Guid>("select id from worker_credentials where name = $1", name);
        var revoked = await admin.PostFormAsync("/ui/admin/credentials?handler=Revoke", ("id", id.ToString()));
        Assert.Equal(HttpStatusCode.SeeOther, revoked.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await worker.PostAsJsonAsync(Routes.WorkerDequeue, dequeue, Api.Json.DequeueRequest)).StatusCode);
        Assert.Equal(new[] { "worker_credential.create", "worker_credential.revoke" },
            await AuditActionsAsync(tenant.TenantId, "worker_credential.create", "worker_credential.revoke"));

        // A restriction naming no tenant, or an unknown one, is refused and issues nothing.
        await admin.GetAsync("/ui/admin/credentials");
        var bad = await admin.PostFormAsync("/ui/admin/credentials?handler=Create", ("name", "bad-restriction"), ("tenant", Guid.NewGuid().ToString()));
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Contains("tenant_ids: no tenant", bad.Html);
        Assert.Equal(0, await ScalarAsync<long>("select count(*) from worker_credentials where name = 'bad-restriction'"));
    }

    // ---- Audit log ----

    [Fact]
    public async Task The_audit_log_pages_newest_first_by_id_and_shows_details_as_text()
    {
        var tenant = await Host.CreateTenantAsync();
        await Api.ExecSqlAsync(Host, """
            insert into audit_log (actor, action, tenant_id, target, details)
            select 'administrator', 'test.entry', $1, 'entry-' || i, jsonb_build_object('n', i, 'note', '<b>bold</b>')
            from generate_series(1, 130) i
            """, tenant.TenantId);
        using var admin = await AdminAsync();
        var first = (await admin.GetAsync($"/ui/admin/audit?tenant={tenant.TenantId}")).Html;
        Assert.Contains("entry-130", first);
        Assert.Contains("entry-31<", first);
        Assert.DoesNotContain("entry-30<", first);
        Assert.Contains("&lt;b&gt;bold&lt;/b&gt;", first);
        Assert.DoesNotContain("<b>bold</b>", first);
        var older = OlderLink().Match(first);
        Assert.True(older.Success, "no link to older entries");
        var second = (await admin.GetAsync(WebUtility.HtmlDecode(older.Groups[1].Value))).Html;
        Assert.Contains("entry-30<", second);
        Assert.Contains("tenant.create", second);
        Assert.DoesNotContain("entry-31<", second);
    }

    // ---- Who may see the administration ----

    [Fact]
    public async Task A_tenant_session_gets_404_on_every_administration_page_and_form()
    {
        var tenant = await Host.CreateTenantAsync();
        using var ui = new DashboardClient(Host);
        await ui.SignInAsync(tenant.ApiKey);
        var home = (await ui.GetAsync("/ui/workers")).Html;
        Assert.DoesNotContain("/ui/admin", home);
        // The same page as for an address that does not exist: nothing says the administration is there.
        var (missingStatus, missing) = await ui.GetAsync("/ui/no-such-page");
        Assert.Equal(HttpStatusCode.NotFound, missingStatus);
        Assert.Contains("<h1>Not found</h1>", missing);
        foreach (var page in new[] { "/ui/admin", $"/ui/admin/tenants/{tenant.TenantId}", "/ui/admin/credentials", $"/ui/admin/audit?tenant={tenant.TenantId}" })
        {
            var answer = await ui.GetAsync(page);
            Assert.Equal(HttpStatusCode.NotFound, answer.Status);
            Assert.Equal(missing, answer.Html);
        }

        var keys = await ScalarAsync<long>("select count(*) from api_keys where tenant_id = $1", tenant.TenantId);
        var posts = new (string Path, (string, string)[] Fields)[]
        {
            ("/ui/admin?handler=Suspend", [("id", tenant.TenantId.ToString())]),
            ("/ui/admin?handler=Create", [("name", $"by-tenant-{Guid.NewGuid():N}")]),
            ($"/ui/admin/tenants/{tenant.TenantId}?handler=Save", [.. LimitsForm(tenant.Name, rateLimit: "1000", weight: "1000")]),
            ($"/ui/admin/tenants/{tenant.TenantId}?handler=CreateKey", [("name", "sneaky")]),
            ($"/ui/admin/tenants/{tenant.TenantId}?handler=RevokeKey", [("key", Guid.NewGuid().ToString())]),
            ("/ui/admin/credentials?handler=Create", [("name", "sneaky-credential")]),
            ("/ui/admin/credentials?handler=Revoke", [("id", Guid.NewGuid().ToString())]),
        };
        foreach (var (path, fields) in posts)
            Assert.Equal(HttpStatusCode.NotFound, (await ui.PostFormAsync(path, fields)).Status);

        Assert.False(await ScalarAsync<bool>("select suspended_at is not null from tenants where id = $1", tenant.TenantId));
        Assert.True(await ScalarAsync<bool>("select rate_limit is null and weight = 1 from tenants where id = $1", tenant.TenantId));
        Assert.Equal(keys, await ScalarAsync<long>("select count(*) from api_keys where tenant_id = $1", tenant.TenantId));
        Assert.Equal(0, await ScalarAsync<long>("select count(*) from tenants where name like 'by-tenant-%'"));
        Assert.Equal(0, await ScalarAsync<long>("select count(*) from worker_credentials where name = 'sneaky-credential'"));
    }

    [Fact]
    public async Task An_administration_form_without_its_csrf_token_is_refused_and_changes_nothing()
    {
        var tenant = await Host.CreateTenantAsync();
        using var admin = await AdminAsync();
        await admin.GetAsync("/ui/admin");
        var answer = await admin.PostFormAsync("/ui/admin?handler=Suspend", [new("id", tenant.TenantId.ToString())], csrf: false);
        Assert.Equal(HttpStatusCode.Forbidden, answer.Status);
        var stale = await admin.PostFormAsync("/ui/admin?handler=Suspend", [new("id", tenant.TenantId.ToString()), new("csrf", "stale")], csrf: false);
        Assert.Equal(HttpStatusCode.Forbidden, stale.Status);
        Assert.False(await ScalarAsync<bool>("select suspended_at is not null from tenants where id = $1", tenant.TenantId));
    }

    [Fact]
    public async Task Tenant_names_are_shown_as_text_on_every_page()
    {
        var name = $"<script>alert('{Guid.NewGuid():N}')</script>&\"";
        var tenant = await Host.CreateTenantAsync(name);
        var workerId = $"w-escape-{Guid.NewGuid():N}";
        await VersionedWorker("1.0.0").DequeueAsync(new DequeueRequest { Limit = 1, WorkerId = workerId, TenantIds = [tenant.TenantId] }, CancellationToken.None);
        using var admin = await AdminAsync();
        foreach (var page in new[] { "/ui/admin", $"/ui/admin/tenants/{tenant.TenantId}", "/ui/admin/credentials", $"/ui/admin/audit?tenant={tenant.TenantId}", "/ui/workers" })
        {
            var (status, html, _) = await admin.GetAsync(page);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.DoesNotContain("<script>alert(", html);
            Assert.Contains("&lt;script&gt;alert(", html);
        }
    }

    // ---- helpers ----

    private async Task<DashboardClient> AdminAsync()
    {
        var ui = new DashboardClient(Host);
        Assert.Equal(HttpStatusCode.SeeOther, (await ui.TrySignInAsync(ControllerHost.AdminSecret)).StatusCode);
        return ui;
    }

    /// <summary>The real worker client, naming a version in its User-Agent as the worker does.</summary>
    private WorkerClient VersionedWorker(string version) =>
        new(new HttpClient(Host.CreateHandler()), Host.BaseAddress, ControllerHost.WorkerToken, new ProductInfoHeaderValue(Wire.WorkerProduct, version));

    /// <summary>Every field of the limits form, as the page fills it for a tenant with no settings, with these values.</summary>
    private static List<(string Name, string Value)> LimitsForm(string name, string rateLimit, string weight) =>
    [
        ("name", name), ("rate_limit", rateLimit), ("rate_limit_burst", ""), ("max_concurrent_executions", "0"), ("weight", weight),
        ("retention_days", ""), ("log_max_bytes_per_execution", ""), ("log_follow_max", ""), ("max_fleet_share", ""),
    ];

    private async Task<T> ScalarAsync<T>(string sql, params object[] args)
    {
        await using var cmd = Host.Database.DataSource.CreateCommand(sql);
        foreach (var a in args) cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = a });
        var value = await cmd.ExecuteScalarAsync();
        return value is DBNull or null ? default! : (T)value;
    }

    /// <summary>The tenant's audit actions among <paramref name="actions"/>, oldest first.</summary>
    private async Task<List<string>> AuditActionsAsync(Guid tenantId, params string[] actions)
    {
        await using var cmd = Host.Database.DataSource.CreateCommand("select action from audit_log where tenant_id = $1 and action = any($2) order by id");
        cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = tenantId });
        cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = actions });
        var list = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) list.Add(reader.GetString(0));
        return list;
    }

    /// <summary>The table row that mentions <paramref name="text"/>.</summary>
    private static string Row(string html, string text)
    {
        foreach (Match m in TableRow().Matches(html))
        {
            if (m.Value.Contains(text, StringComparison.Ordinal)) return m.Value;
        }
        throw new Xunit.Sdk.XunitException($"no table row mentions {text}");
    }

    /// <summary>The contents of the row's numeric cells, in order.</summary>
    private static List<string> Numbers(string row) => [.. NumericCell().Matches(row).Select(m => m.Groups[1].Value.Trim())];

    /// <summary>The value of the read-only input that shows a secret once.</summary>
    private static string SecretValue(string html, string id)
    {
        var m = Regex.Match(html, $"id=\"{id}\"[^>]*value=\"([^\"]+)\"");
        Assert.True(m.Success, $"no {id} on the page");
        return WebUtility.HtmlDecode(m.Groups[1].Value);
    }

    [GeneratedRegex("<tr[^>]*>.*?</tr>", RegexOptions.Singleline)]
    private static partial Regex TableRow();

    [GeneratedRegex("<td class=\"num\">([^<]*)</td>")]
    private static partial Regex NumericCell();

    [GeneratedRegex("<a href=\"([^\"]*before=[^\"]*)\">Older entries</a>")]
    private static partial Regex OlderLink();
}

using System.Net;
using System.Net.Http.Json;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests.Dashboard;

/// <summary>
/// Signing in to the dashboard, the session cookie, and what ends a session: signing out, revoking
/// the key, a new administrator secret. Real controller, real PostgreSQL.
/// </summary>
public sealed class DashboardSessionTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private ControllerHost Host => fixture.Host;

    [Fact]
    public async Task A_tenant_key_signs_in_with_a_strict_http_only_cookie_and_sees_its_own_overview()
    {
        var tenant = await Host.CreateTenantAsync($"acme <b>{Guid.NewGuid():N}</b>");
        using var ui = new DashboardClient(Host);
        var answer = await ui.TrySignInAsync(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.SeeOther, answer.StatusCode);
        Assert.Equal("/ui", answer.Headers.Location?.OriginalString);
        var cookie = Assert.Single(answer.Headers.GetValues("Set-Cookie"), c => c.StartsWith("jp_session=", StringComparison.Ordinal));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("max-age=", cookie, StringComparison.OrdinalIgnoreCase);

        var response = await ui.GetAsync("/ui");
        var (status, html) = response;
        Assert.Equal(HttpStatusCode.OK, status);
        // The name is shown as text, never as markup; the page cannot run inline script at all.
        Assert.Contains("acme &lt;b&gt;", html);
        Assert.DoesNotContain("acme <b>", html);
        Assert.Contains("script-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.DoesNotContain("Administration", html);
    }

    [Fact]
    public async Task A_wrong_key_is_refused_with_a_message_and_no_session()
    {
        using var ui = new DashboardClient(Host);
        var answer = await ui.TrySignInAsync("jp_000000000000_" + new string('x', 43));
        Assert.Equal(HttpStatusCode.Unauthorized, answer.StatusCode);
        Assert.Contains("role=\"alert\"", await answer.Content.ReadAsStringAsync());
        Assert.False(answer.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("jp_session=", StringComparison.Ordinal)));
        var (status, _, location) = await ui.GetAsync("/ui");
        Assert.Equal(HttpStatusCode.Redirect, status);
        Assert.Equal("/ui/signin?return=%2Fui", location);
    }

    [Fact]
    public async Task Sign_in_from_a_form_without_its_paired_cookie_is_refused()
    {
        var tenant = await Host.CreateTenantAsync();
        using var ui = new DashboardClient(Host);
        // No GET of the form first: no pre-sign cookie, as when another site posts the form (login CSRF).
        var answer = await ui.PostFormAsync("/ui/signin", [new("key", tenant.ApiKey), new("presign", "0123456789abcdef0123456789abcdef")], csrf: false);
        Assert.Equal(HttpStatusCode.Forbidden, answer.Status);
        Assert.Equal(HttpStatusCode.Redirect, (await ui.GetAsync("/ui")).Status);
    }

    [Fact]
    public async Task Signing_out_ends_the_session_and_needs_the_csrf_token()
    {
        var tenant = await Host.CreateTenantAsync();
        using var ui = new DashboardClient(Host);
        await ui.SignInAsync(tenant.ApiKey);
        await ui.GetAsync("/ui");

        // Without the token, or from another origin: refused, and the session lives on.
        Assert.Equal(HttpStatusCode.Forbidden, (await ui.PostFormAsync("/ui/signout", [], csrf: false)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await ui.PostFormAsync("/ui/signout", [new("csrf", ui.Csrf!)], csrf: false, origin: "https://evil.example")).Status);
        Assert.Equal(HttpStatusCode.OK, (await ui.GetAsync("/ui")).Status);

        var answer = await ui.PostFormAsync("/ui/signout");
        Assert.Equal(HttpStatusCode.SeeOther, answer.Status);
        Assert.Equal(HttpStatusCode.Redirect, (await ui.GetAsync("/ui")).Status);
    }

    [Fact]
    public async Task Revoking_the_key_ends_its_dashboard_sessions()
    {
        var tenant = await Host.CreateTenantAsync();
        using var api = Host.Client(tenant.ApiKey);
        var second = await Api.ReadAsync(await api.PostAsync("/api-keys", Api.RawJson("""{"name": "browser"}""")),
            Api.Json.CreateApiKeyResponse, HttpStatusCode.Created);
        using var ui = new DashboardClient(Host);
        await ui.SignInAsync(second.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await ui.GetAsync("/ui")).Status);

        Assert.Equal(HttpStatusCode.NoContent, (await api.DeleteAsync($"/api-keys/{second.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await ui.GetAsync("/ui")).Status);
    }

    [Fact]
    public async Task One_key_holds_a_bounded_number_of_sessions_and_the_oldest_ends_first()
    {
        var tenant = await Host.CreateTenantAsync();
        using var first = new DashboardClient(Host);
        await first.SignInAsync(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await first.GetAsync("/ui")).Status);
        var others = new List<DashboardClient>();
        try
        {
            // The default cap is 20 sessions per key: 20 more sign-ins push the first one out.
            for (var i = 0; i < 20; i++)
            {
                var ui = new DashboardClient(Host);
                others.Add(ui);
                Assert.Equal(HttpStatusCode.SeeOther, (await ui.TrySignInAsync(tenant.ApiKey)).StatusCode);
            }
            Assert.Equal(HttpStatusCode.Redirect, (await first.GetAsync("/ui")).Status);
            Assert.Equal(HttpStatusCode.OK, (await others[^1].GetAsync("/ui")).Status);
            await using var count = Host.Database.DataSource.CreateCommand(
                $"select count(*) from ui_sessions s join api_keys k on k.id = s.api_key_id where k.tenant_id = '{tenant.TenantId}'");
            Assert.Equal(20L, await count.ExecuteScalarAsync());
        }
        finally
        {
            foreach (var ui in others) ui.Dispose();
        }
    }

    [Fact]
    public async Task Signing_in_again_and_again_with_one_key_adds_one_audit_record_a_minute()
    {
        var tenant = await Host.CreateTenantAsync();
        using var api = Host.Client(tenant.ApiKey);
        var second = await Api.ReadAsync(await api.PostAsync("/api-keys", Api.RawJson("""{"name": "laptop"}""")),
            Api.Json.CreateApiKeyResponse, HttpStatusCode.Created);

        // A hostile loop of sign-ins with one key: each gets a session, the audit log one row.
        for (var i = 0; i < 5; i++)
        {
            using var ui = new DashboardClient(Host);
            Assert.Equal(HttpStatusCode.SeeOther, (await ui.TrySignInAsync(tenant.ApiKey)).StatusCode);
        }
        Assert.Equal([Actor(tenant.ApiKey)], await SignInAuditsAsync(tenant.TenantId));

        // Another key of the same tenant is another signer: its sign-in is recorded too.
        using (var ui = new DashboardClient(Host))
            Assert.Equal(HttpStatusCode.SeeOther, (await ui.TrySignInAsync(second.ApiKey)).StatusCode);
        Assert.Equal([Actor(tenant.ApiKey), Actor(second.ApiKey)], await SignInAuditsAsync(tenant.TenantId));
    }

    [Fact]
    public async Task A_key_with_a_rate_limit_pays_for_each_sign_in_and_past_it_gets_no_session()
    {
        var tenant = await Host.CreateTenantAsync();
        using (var admin = Host.AdminClient())
        {
            var patch = await admin.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson("""{"rate_limit": 0.01, "rate_limit_burst": 2}"""));
            Assert.Equal(HttpStatusCode.NoContent, patch.StatusCode);
        }
        for (var i = 0; i < 2; i++)
        {
            using var ui = new DashboardClient(Host);
            Assert.Equal(HttpStatusCode.SeeOther, (await ui.TrySignInAsync(tenant.ApiKey)).StatusCode);
        }

        using var refused = new DashboardClient(Host);
        var answer = await refused.TrySignInAsync(tenant.ApiKey);
        Assert.Equal((HttpStatusCode)429, answer.StatusCode);
        Assert.True(int.Parse(answer.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Contains("rate limit is reached", await answer.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Redirect, (await refused.GetAsync("/ui")).Status);
        await using var count = Host.Database.DataSource.CreateCommand(
            $"select count(*) from ui_sessions where tenant_id = '{tenant.TenantId}'");
        Assert.Equal(2L, await count.ExecuteScalarAsync());
    }

    /// <summary>The audit log's actor for a key: its public prefix, never the key.</summary>
    private static string Actor(string apiKey)
    {
        Assert.True(Store.ApiKeys.TryParse(apiKey, out var prefix, out _));
        return "api_key:" + prefix;
    }

    private async Task<List<string>> SignInAuditsAsync(Guid tenantId)
    {
        await using var cmd = Host.Database.DataSource.CreateCommand(
            $"select actor from audit_log where tenant_id = '{tenantId}' and action = 'dashboard.sign_in' order by id");
        await using var reader = await cmd.ExecuteReaderAsync();
        var actors = new List<string>();
        while (await reader.ReadAsync()) actors.Add(reader.GetString(0));
        return actors;
    }

    [Fact]
    public async Task The_administrator_sees_every_tenant_and_a_new_secret_ends_the_session()
    {
        var tenant = await Host.CreateTenantAsync($"visible-{Guid.NewGuid():N}");
        using var ui = new DashboardClient(Host);
        Assert.Equal(HttpStatusCode.SeeOther, (await ui.TrySignInAsync(ControllerHost.AdminSecret)).StatusCode);
        var (status, html, _) = await ui.GetAsync("/ui");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("all tenants", html);
        Assert.Contains(tenant.Name, html);
        Assert.Contains("/ui/admin", html);

        // The same session presented to a replica whose SYSTEM_SECRET is another: not signed in.
        var cookie = ui.Cookies.GetCookies(Host.BaseAddress)["jp_session"]!.Value;
        var rotated = new ControllerHost(Host, new Dictionary<string, string?> { ["SYSTEM_SECRET"] = "rotated-admin-secret-0123456789" });
        await rotated.InitializeAsync();
        try
        {
            using var raw = new HttpClient(rotated.CreateHandler()) { BaseAddress = rotated.BaseAddress };
            using var request = new HttpRequestMessage(HttpMethod.Get, "/ui");
            request.Headers.Add("Cookie", $"jp_session={cookie}");
            var answer = await raw.SendAsync(request);
            Assert.Equal(HttpStatusCode.Redirect, answer.StatusCode);
            Assert.StartsWith("/ui/signin", answer.Headers.Location?.OriginalString);
        }
        finally
        {
            await rotated.DisposeAsync();
        }
    }

    [Fact]
    public async Task Over_tls_the_cookie_is_secure_and_bound_to_the_host()
    {
        var tenant = await Host.CreateTenantAsync();
        var cookies = new Microsoft.AspNetCore.Mvc.Testing.Handlers.CookieContainerHandler { InnerHandler = Host.CreateHandler() };
        using var https = new HttpClient(cookies) { BaseAddress = new Uri("https://localhost/") };
        var form = await (await https.GetAsync("/ui/signin")).Content.ReadAsStringAsync();
        var presign = System.Text.RegularExpressions.Regex.Match(form, "name=\"presign\" value=\"([^\"]*)\"").Groups[1].Value;
        var answer = await https.PostAsync("/ui/signin", new FormUrlEncodedContent([new("key", tenant.ApiKey), new("presign", presign)]));
        Assert.Equal(HttpStatusCode.SeeOther, answer.StatusCode);
        var cookie = Assert.Single(answer.Headers.GetValues("Set-Cookie"), c => c.StartsWith("__Host-jp_session=", StringComparison.Ordinal));
        Assert.Contains("secure", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("domain=", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.OK, (await https.GetAsync("/ui")).StatusCode);
    }

    [Fact]
    public async Task A_read_only_key_reads_through_the_api_and_is_refused_every_change()
    {
        var tenant = await Host.CreateTenantAsync();
        using var api = Host.Client(tenant.ApiKey);
        var viewer = await Api.ReadAsync(await api.PostAsync("/api-keys", Api.RawJson("""{"name": "viewer", "read_only": true}""")),
            Api.Json.CreateApiKeyResponse, HttpStatusCode.Created);
        Assert.True(viewer.ReadOnly);
        var before = await DbState.SnapshotAsync(Host, tenant.TenantId);

        using var readOnly = Host.Client(viewer.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await readOnly.GetAsync("/jobs")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await readOnly.GetAsync("/executions")).StatusCode);
        await Api.AssertErrorAsync(await readOnly.PostAsJsonAsync("/jobs", new { name = "x", image = "alpine", command = new[] { "true" } }),
            HttpStatusCode.Forbidden, ErrorCodes.ReadOnlyKey);
        // Nor may it mint a key of its own (which could be writable) or revoke one.
        await Api.AssertErrorAsync(await readOnly.PostAsync("/api-keys", Api.RawJson("{}")), HttpStatusCode.Forbidden, ErrorCodes.ReadOnlyKey);
        await Api.AssertErrorAsync(await readOnly.DeleteAsync($"/api-keys/{viewer.Id}"), HttpStatusCode.Forbidden, ErrorCodes.ReadOnlyKey);
        Assert.Equal(before, await DbState.SnapshotAsync(Host, tenant.TenantId));

        var keys = await Api.ReadAsync(await readOnly.GetAsync("/api-keys"), Api.Json.ApiKeyList);
        Assert.True(keys.ApiKeys.Single(k => k.Id == viewer.Id).ReadOnly);
        Assert.Null(keys.ApiKeys.Single(k => k.Name == "default").ReadOnly);
    }
}

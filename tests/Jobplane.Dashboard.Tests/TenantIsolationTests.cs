using System.Text;
using Jobplane.Api;

namespace Jobplane.Dashboard.Tests;

/// <summary>
/// One tenant signed in cannot see or act on another's data through any page or action: the other's
/// URLs answer 404 as missing ones do, none of its names or ids appears on any page, forms forged
/// with the session's own valid token but the other tenant's ids change nothing, and the
/// administration is 404. Tenant A has one of everything; B is the one signed in.
/// </summary>
public sealed class TenantIsolationTests(DashboardPlatform platform, DashboardBrowser browser) : BrowserTest(platform, browser)
{
    [Fact]
    public async Task Another_tenant_s_pages_answer_404_as_missing_ones_do()
    {
        var a = await TenantData.CreateAsync(Platform, "iso-a-urls");
        var b = await Platform.CreateTenantAsync("iso-b-urls");
        try
        {
            await SignInAsync(b.ApiKey);
            string[] pages =
            [
                $"/ui/executions/{a.Succeeded}", $"/ui/executions/{a.Failed}", $"/ui/executions/{a.Running}", $"/ui/executions/{a.Scheduled}",
                $"/ui/jobs/{a.ReportJob}", $"/ui/jobs/{a.ImportJob}", $"/ui/schedules/{a.Schedule.Id}",
                // What a missing id shows, for comparison: the same.
                $"/ui/executions/{Guid.NewGuid()}", $"/ui/jobs/{Guid.NewGuid()}", $"/ui/schedules/{Guid.NewGuid()}",
            ];
            foreach (var path in pages)
            {
                var response = await Page.GotoAsync(path);
                Assert.True(response?.Status == 404, $"{path} answered {response?.Status}");
                await Expect(Page.Locator("main h1")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("not found$"));
                await ShowsNothingOfAsync(a, path);
            }

            // The live log's stream, asked for directly.
            var stream = await Page.APIRequest.GetAsync($"/ui/executions/{a.Running}/stream");
            Assert.Equal(404, stream.Status);
            Assert.DoesNotContain(a.RunningLine, await stream.TextAsync(), StringComparison.Ordinal);
        }
        finally
        {
            await a.StopAsync();
        }
    }

    [Fact]
    public async Task Another_tenant_s_data_appears_on_none_of_my_pages()
    {
        var a = await TenantData.CreateAsync(Platform, "iso-a-pages");
        var b = await TenantData.CreateAsync(Platform, "iso-b-pages");
        try
        {
            await SignInAsync(b.Tenant.ApiKey);
            // Each page shows B's own data first (so that it has loaded with data), then is searched for A's.
            (string Path, string Shows)[] pages =
            [
                ("/ui?range=hour", "Succeeded"), ("/ui?range=day", "Succeeded"),
                ("/ui/executions", b.ReportJobName), ("/ui/executions?status=FAILED", b.ImportJobName),
                ("/ui/executions?status=RUNNING", b.ResizeJobName), ("/ui/executions?status=SCHEDULED", b.ReportJobName),
                // Filters naming A's things: the tenant filter is the administrator's only, a job name is looked up among B's.
                ($"/ui/executions?tenant={a.Tenant.Id}", b.ReportJobName), ($"/ui/executions?job={a.ReportJobName}", "Executions"),
                ($"/ui/executions?schedule={a.Schedule.Id}", "Executions"), ("/ui/executions?error=exit+code+3", b.ImportJobName),
                ("/ui/jobs", b.ReportJobName), ($"/ui/jobs?tenant={a.Tenant.Id}", b.ReportJobName),
                ("/ui/schedules", b.ScheduleName), ($"/ui/schedules?tenant={a.Tenant.Id}", b.ScheduleName),
                ("/ui/dead-letters", b.ImportJobName), ($"/ui/dead-letters?tenant={a.Tenant.Id}", b.ImportJobName),
                ($"/ui/dead-letters?job={a.ImportJobName}", "Dead letters"),
                ("/ui/workers", "connected"),
                ($"/ui/executions/{b.Succeeded}", b.ReportJobName), ($"/ui/jobs/{b.ReportJob}", b.ReportJobName),
                ($"/ui/schedules/{b.Schedule.Id}", b.ScheduleName),
            ];
            foreach (var (path, shows) in pages)
            {
                await Page.GotoAsync(path);
                await Expect(Main).ToContainTextAsync(shows);
                await ShowsNothingOfAsync(a, path);
            }
        }
        finally
        {
            await a.StopAsync();
            await b.StopAsync();
        }
    }

    [Fact]
    public async Task Forms_forged_with_my_token_and_another_tenant_s_ids_change_nothing()
    {
        var a = await TenantData.CreateAsync(Platform, "iso-a-forms");
        var b = await Platform.CreateTenantAsync("iso-b-forms");
        try
        {
            var deadLetter = Assert.Single((await a.Tenant.Client.ListDlqAsync(null, null, null, CancellationToken.None)).Value);
            var before = await a.SnapshotAsync(Platform);
            await SignInAsync(b.ApiKey);
            await Page.GotoAsync("/ui/executions");

            (string Action, (string, string)[] Fields, int Status)[] forged =
            [
                ($"/ui/executions/{a.Running}?handler=Cancel", [], 404),
                ($"/ui/executions/{a.Scheduled}?handler=Cancel", [], 404),
                ($"/ui/executions/{a.Failed}?handler=Retry", [], 404),
                ("/ui/executions?handler=CancelSelected", [("id", a.Running.ToString()), ("id", a.Scheduled.ToString())], 404),
                ("/ui/executions?handler=RetrySelected", [("id", a.Failed.ToString())], 404),
                // "All matching", naming A as the tenant (the administrator's filter) and A's job: B's scope only, where nothing matches.
                ("/ui/executions?handler=CancelMatching", [("tenant", a.Tenant.Id.ToString()), ("confirm", "yes"), ("asof", Micros(DateTimeOffset.UtcNow))], 303),
                ("/ui/executions?handler=RetryMatching", [("tenant", a.Tenant.Id.ToString()), ("confirm", "yes"), ("asof", Micros(DateTimeOffset.UtcNow))], 303),
                ("/ui/executions?handler=CancelMatching", [("job", a.ResizeJobName), ("confirm", "yes"), ("asof", Micros(DateTimeOffset.UtcNow))], 400),
                ($"/ui/jobs/{a.ReportJob}?handler=Run", [("count", "3")], 404),
                ($"/ui/schedules/{a.Schedule.Id}?handler=Pause", [], 404),
                ($"/ui/schedules/{a.Schedule.Id}?handler=Trigger", [], 404),
                ("/ui/dead-letters?handler=RetrySelected", [("id", deadLetter.Id.ToString())], 303),
                ("/ui/dead-letters?handler=RetryAll", [("tenant", a.Tenant.Id.ToString()), ("confirm", "yes")], 303),
                ("/ui/dead-letters?handler=Purge", [("tenant", a.Tenant.Id.ToString()), ("confirm", "yes")], 303),
                ("/ui/dead-letters?handler=Purge", [("job", a.ImportJobName), ("confirm", "yes")], 400),
                ("/ui/admin?handler=Suspend", [("id", a.Tenant.Id.ToString())], 404),
                ($"/ui/admin/tenants/{a.Tenant.Id}?handler=Save", [("name", "taken-over"), ("weight", "1000")], 404),
                ($"/ui/admin/tenants/{a.Tenant.Id}?handler=CreateKey", [("name", "stolen")], 404),
                ("/ui/admin/credentials?handler=Create", [("name", "stolen"), ("tenant", a.Tenant.Id.ToString())], 404),
            ];
            var answers = new StringBuilder();
            foreach (var (action, fields, status) in forged)
            {
                var response = await ForgedForm.PostAsync(Page, action, fields);
                if (response.Status != status) answers.Append(action).Append(" answered ").Append(response.Status).Append(", not ").Append(status).AppendLine();
                await ShowsNothingOfAsync(a, action, fields.Select(f => f.Item2));
                // Back to one of B's own pages for the next form's token.
                await Page.GotoAsync("/ui/executions");
            }
            Assert.True(answers.Length == 0, answers.ToString());
            Assert.Equal(before, await a.SnapshotAsync(Platform));
            Assert.Null((await a.Tenant.Client.GetExecutionAsync(a.Running, CancellationToken.None)).Value.CancelRequestedAt);
        }
        finally
        {
            await a.StopAsync();
        }
    }

    [Fact]
    public async Task The_administration_is_404_for_a_tenant_and_not_offered()
    {
        var a = await Platform.CreateTenantAsync("iso-a-admin");
        var b = await Platform.CreateTenantAsync("iso-b-admin");
        await SignInAsync(b.ApiKey);

        await Expect(Page.GetByRole(AriaRole.Link, new() { Name = "Administration" })).ToHaveCountAsync(0);
        foreach (var path in new[]
        {
            "/ui/admin", $"/ui/admin/tenants/{a.Id}", $"/ui/admin/tenants/{b.Id}", "/ui/admin/credentials", "/ui/admin/audit", $"/ui/admin/audit?tenant={a.Id}",
        })
        {
            var response = await Page.GotoAsync(path);
            Assert.True(response?.Status == 404, $"{path} answered {response?.Status}");
            var html = await Page.ContentAsync();
            Assert.DoesNotContain("iso-a-admin", html, StringComparison.Ordinal);
            Assert.DoesNotContain(a.Id.ToString(), html, StringComparison.Ordinal);
        }
    }

    // A worker's id is usually its host name: the API and every page show a tenant the tenant's own
    // pseudonym of it instead (WorkerPseudonyms). The workers page once showed the real id, which
    // also linked the pseudonym on an execution page to the host.
    [Fact]
    public async Task A_tenant_is_shown_the_workers_pseudonyms_never_their_ids()
    {
        var worker = await Platform.WorkerAsync();
        var workerId = worker.Name;
        var tenant = await Platform.CreateTenantAsync("iso-pseudonyms");
        var job = await DashboardPlatform.CreateJobAsync(tenant, "runs-once", ["true"]);
        var run = await DashboardPlatform.RunAsync(tenant, job);
        await DashboardPlatform.WaitForStatusAsync(tenant, run, ExecutionStatus.Succeeded, TimeSpan.FromSeconds(60));
        await SignInAsync(tenant.ApiKey);

        foreach (var (path, shows) in new[] { ($"/ui/executions/{run}", "Attempt 1 succeeded."), ("/ui/executions", "runs-once"), ("/ui/workers", "connected") })
        {
            await Page.GotoAsync(path);
            await Expect(Main).ToContainTextAsync(shows);
            Assert.False((await Page.ContentAsync()).Contains(workerId, StringComparison.Ordinal), $"{path} shows the worker's id {workerId}");
        }
    }

    /// <summary>
    /// The page's whole HTML (attributes, hidden fields and scripts included) holds no name or id of
    /// <paramref name="a"/>'s, apart from what B itself sent (<paramref name="sent"/>, and the values in
    /// the query of <paramref name="where"/>), which a page may show back: a filter as typed, or
    /// "there is no job named …".
    /// </summary>
    private async Task ShowsNothingOfAsync(TenantData a, string where, IEnumerable<string>? sent = null)
    {
        var html = await Page.ContentAsync();
        var query = where.Contains('?', StringComparison.Ordinal) ? where[(where.IndexOf('?', StringComparison.Ordinal) + 1)..] : "";
        var echoes = query.Split('&', StringSplitOptions.RemoveEmptyEntries).Select(p => Uri.UnescapeDataString(p[(p.IndexOf('=', StringComparison.Ordinal) + 1)..].Replace('+', ' ')))
            .Concat(sent ?? []).Where(v => v.Length > 0).OrderByDescending(v => v.Length);
        foreach (var echo in echoes) html = html.Replace(System.Net.WebUtility.HtmlEncode(echo), "", StringComparison.Ordinal).Replace(echo, "", StringComparison.Ordinal);
        foreach (var trace in a.Traces())
            Assert.False(html.Contains(trace, StringComparison.Ordinal), $"{where} shows \"{trace}\" of the other tenant");
    }

    private static string Micros(DateTimeOffset at) => ((at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10).ToString(System.Globalization.CultureInfo.InvariantCulture);
}

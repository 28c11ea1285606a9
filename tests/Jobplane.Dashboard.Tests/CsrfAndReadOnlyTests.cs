using Jobplane.Api;

namespace Jobplane.Dashboard.Tests;

/// <summary>
/// Forms the dashboard did not send itself, and keys that may only look: a page of another site (a
/// real second server) that posts a form to the dashboard of a signed-in user is refused and changes
/// nothing, even carrying the session's real token; a read-only key's session is shown no form that
/// changes anything, and each such form forged with its valid token is refused with the read-only
/// message, nothing changed.
/// </summary>
public sealed class CsrfAndReadOnlyTests(DashboardPlatform platform, DashboardBrowser browser) : BrowserTest(platform, browser)
{
    private const string CrossSiteRefusal = "This form was sent from another site; it was refused and nothing changed.";
    private const string ReadOnlyRefusal = "This API key is read-only: it may view, and change nothing. Nothing changed.";

    [Theory]
    // Another site: the browser sends no SameSite=Strict cookie, and the Origin is another host.
    [InlineData("localhost", false)]
    // The same site on another port: the cookie goes along; the Origin check alone refuses it.
    [InlineData("127.0.0.1", true)]
    public async Task A_form_posted_from_another_origin_is_refused_and_changes_nothing(string attackerHost, bool cookieSent)
    {
        await Platform.WorkerAsync();
        var tenant = await Platform.CreateTenantAsync($"csrf-{attackerHost}");
        var job = await DashboardPlatform.CreateJobAsync(tenant, "expensive", ["true"]);
        await SignInAsync(tenant.ApiKey);
        await Page.GotoAsync($"/ui/jobs/{job}");
        // The worst case: the attacker even has the session's token.
        var token = await Page.Locator("input[name='csrf']").First.InputValueAsync();

        await using var attacker = await CrossSitePage.StartAsync();
        attacker.PostOnLoad($"{Platform.Url.AbsoluteUri}ui/jobs/{job}?handler=Run", [("csrf", token), ("count", "50")]);
        var response = await Page.RunAndWaitForResponseAsync(() => Page.GotoAsync(attacker.Url(attackerHost)),
            r => r.Request.Method == "POST" && r.Url.StartsWith(Platform.Url.AbsoluteUri, StringComparison.Ordinal));

        Assert.Equal(403, response.Status);
        var sent = await response.Request.AllHeadersAsync();
        Assert.Equal(attacker.Url(attackerHost).TrimEnd('/'), sent.GetValueOrDefault("origin"));
        Assert.Equal(cookieSent, sent.TryGetValue("cookie", out var cookie) && cookie.Contains("jp_session", StringComparison.Ordinal));
        await Expect(Page.GetByRole(AriaRole.Alert)).ToHaveTextAsync(CrossSiteRefusal);
        Assert.Empty((await tenant.Client.ListExecutionsAsync(null, job, 10, null, null, CancellationToken.None)).Value.Executions);

        // The session itself is untouched: the dashboard's own form still runs the job.
        await Page.GotoAsync($"/ui/jobs/{job}");
        await Page.GetByRole(AriaRole.Button, new() { Name = "Run now" }).ClickAsync();
        await Expect(Page.GetByRole(AriaRole.Status)).ToContainTextAsync("Executions submitted: 1.");
    }

    [Fact]
    public async Task A_read_only_key_s_session_is_shown_no_form_that_changes_anything()
    {
        var data = await TenantData.CreateAsync(Platform, "read-only-views");
        try
        {
            await SignInAsync(await Platform.CreateReadOnlyKeyAsync(data.Tenant));
            await Expect(Page.Locator("header .tag")).ToHaveTextAsync("read-only");

            (string Path, string Shows)[] pages =
            [
                ("/ui", "Succeeded"),
                ("/ui/executions", data.ResizeJobName),
                ($"/ui/executions/{data.Running}", "RUNNING"),
                ($"/ui/executions/{data.Failed}", "FAILED"),
                ($"/ui/executions/{data.Scheduled}", "SCHEDULED"),
                ("/ui/jobs", data.ReportJobName),
                ($"/ui/jobs/{data.ReportJob}", "This API key is read-only: it can view this job, not run it."),
                ("/ui/schedules", data.ScheduleName),
                ($"/ui/schedules/{data.Schedule.Id}", data.ScheduleName),
                ("/ui/dead-letters", data.ImportJobName),
                ("/ui/workers", "connected"),
            ];
            foreach (var (path, shows) in pages)
            {
                await Page.GotoAsync(path);
                await Expect(Main).ToContainTextAsync(shows);
                // The only forms are filters (GET); the only buttons submit them.
                await Expect(Main.Locator("form[method='post']")).ToHaveCountAsync(0);
                foreach (var button in await Main.GetByRole(AriaRole.Button).AllAsync())
                    await Expect(button).ToHaveTextAsync("Filter");
                await Expect(Main.GetByRole(AriaRole.Checkbox).And(Page.Locator("[name='id']"))).ToHaveCountAsync(0);
            }
        }
        finally
        {
            await data.StopAsync();
        }
    }

    [Fact]
    public async Task A_read_only_key_s_forged_forms_are_refused_with_the_read_only_message()
    {
        var data = await TenantData.CreateAsync(Platform, "read-only-forges");
        try
        {
            var deadLetter = Assert.Single((await data.Tenant.Client.ListDlqAsync(null, null, null, CancellationToken.None)).Value);
            await SignInAsync(await Platform.CreateReadOnlyKeyAsync(data.Tenant));
            // After the key's creation and its sign-in, both in the audit log.
            var before = await data.SnapshotAsync(Platform);
            var asOf = ((DateTimeOffset.UtcNow.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10).ToString(System.Globalization.CultureInfo.InvariantCulture);

            (string Action, (string, string)[] Fields)[] forged =
            [
                ($"/ui/executions/{data.Running}?handler=Cancel", []),
                ($"/ui/executions/{data.Failed}?handler=Retry", []),
                ("/ui/executions?handler=CancelSelected", [("id", data.Running.ToString()), ("id", data.Scheduled.ToString())]),
                ("/ui/executions?handler=RetrySelected", [("id", data.Failed.ToString())]),
                ("/ui/executions?handler=CancelMatching", [("confirm", "yes"), ("asof", asOf)]),
                ("/ui/executions?handler=RetryMatching", [("confirm", "yes"), ("asof", asOf)]),
                ($"/ui/jobs/{data.ReportJob}?handler=Run", [("count", "2")]),
                ($"/ui/schedules/{data.Schedule.Id}?handler=Pause", []),
                ($"/ui/schedules/{data.Schedule.Id}?handler=Trigger", []),
                ("/ui/dead-letters?handler=RetrySelected", [("id", deadLetter.Id.ToString())]),
                ("/ui/dead-letters?handler=RetryAll", [("confirm", "yes")]),
                ("/ui/dead-letters?handler=Purge", [("confirm", "yes")]),
            ];
            foreach (var (action, fields) in forged)
            {
                await Page.GotoAsync("/ui/executions");
                var response = await ForgedForm.PostAsync(Page, action, fields);
                Assert.True(response.Status == 403, $"{action} answered {response.Status}");
                await Expect(Page.GetByRole(AriaRole.Alert)).ToHaveTextAsync(ReadOnlyRefusal);
            }
            Assert.Equal(before, await data.SnapshotAsync(Platform));

            // Signing out is the one form a read-only session may send.
            await Page.GotoAsync("/ui");
            await Page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
            await Expect(Page.GetByLabel("API key or administrator secret")).ToBeVisibleAsync();
        }
        finally
        {
            await data.StopAsync();
        }
    }
}

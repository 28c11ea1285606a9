using Jobplane.Api;

namespace Jobplane.Dashboard.Tests;

/// <summary>
/// Markup in anything a tenant writes is shown as text: a tenant, job, schedule, API key and worker
/// credential named with script, a command, log lines (rendered, and streamed live) and a result
/// holding it, and a filter typed with it. Every page it appears on shows it as text, holds no
/// element it would have made, and ran none of it. The browser here ignores the pages'
/// Content-Security-Policy, so that the escaping alone is tested: with the policy a script that got
/// through would still be refused, and the test could not fail.
/// </summary>
public sealed class EscapingTests(DashboardPlatform platform, DashboardBrowser browser) : BrowserTest(platform, browser)
{
    private const string Script = "<img src=x onerror=window.__pwned=1><script>window.__pwned=1</script>";

    protected override bool BypassCsp => true;

    /// <summary>What carries the script: the tenant and its things, and executions that printed it, one still running.</summary>
    private sealed record Marked(PlatformTenant Tenant, Guid Job, Guid Failing, Guid Succeeded, Guid Running, Guid Schedule, Gate Gate);

    private async Task<Marked> MarkedTenantAsync(string suffix)
    {
        await Platform.WorkerAsync();
        var tenant = await Platform.CreateTenantAsync(Script + suffix);
        var gate = new Gate();
        // Prints the script to stdout and stderr and writes it into result.json; waits for the gate
        // when given one (the running execution), so that it prints once more while followed live.
        var job = await DashboardPlatform.CreateJobAsync(tenant, Script, ["sh", "-c",
            """
            printf '%s\n' "$1"; printf '%s\n' "$1" >&2
            printf '{"html": "%s"}' "$1" > "$JOBPLANE_OUTPUT_DIR/result.json"
            if [ -n "$2" ]; then while [ ! -e "$2" ]; do sleep 0.1; done; printf 'after the gate %s\n' "$1"; fi
            """, "sh", Script, ""]);
        var waiting = await DashboardPlatform.CreateJobAsync(tenant, Script + " waits", ["sh", "-c",
            "printf '%s\\n' \"$1\"; while [ ! -e \"$2\" ]; do sleep 0.1; done; printf 'after the gate %s\\n' \"$1\"", "sh", Script, gate.Path]);
        var failing = await DashboardPlatform.CreateJobAsync(tenant, Script + " fails", ["sh", "-c", "printf '%s\\n' \"$1\" >&2; exit 1", "sh", Script]);
        var schedule = await DashboardPlatform.CreateScheduleAsync(tenant, Script, job);
        await Platform.Admin.CreateApiKeyAsync(tenant.Id, Script, CancellationToken.None);
        await Platform.Admin.CreateWorkerCredentialAsync(new CreateWorkerCredentialRequest { Name = Script + suffix, TenantIds = [tenant.Id] },
            CancellationToken.None);

        var succeeded = await DashboardPlatform.RunAsync(tenant, job);
        var failed = await DashboardPlatform.RunAsync(tenant, failing);
        var running = await DashboardPlatform.RunAsync(tenant, waiting);
        await DashboardPlatform.WaitForStatusAsync(tenant, succeeded, ExecutionStatus.Succeeded, TimeSpan.FromSeconds(60));
        await DashboardPlatform.WaitForStatusAsync(tenant, failed, ExecutionStatus.Failed, TimeSpan.FromSeconds(60));
        await DashboardPlatform.WaitForStatusAsync(tenant, running, ExecutionStatus.Running, TimeSpan.FromSeconds(60));
        return new Marked(tenant, job, failing, succeeded, running, schedule.Id, gate);
    }

    [Fact]
    public async Task Script_in_everything_a_tenant_sees_is_shown_as_text()
    {
        var m = await MarkedTenantAsync("");
        using var gate = m.Gate;
        await SignInAsync(m.Tenant.ApiKey);
        await InlineScriptsWouldRunAsync();

        // The running execution: its first line rendered, its next one streamed in by the page's script.
        await Page.GotoAsync($"/ui/executions/{m.Running}");
        await Expect(Page.Locator("pre.log")).ToContainTextAsync(Script);
        gate.Open();
        await Expect(Page.Locator("pre.log")).ToContainTextAsync("after the gate " + Script);
        await Expect(Page.Locator("[data-live-status]")).ToHaveTextAsync(ExecutionStatus.Succeeded);
        await ShownAsTextAsync("the execution followed live", 2);

        var job = Uri.EscapeDataString(Script);
        (string Path, int AtLeast)[] pages =
        [
            ("/ui", 1),
            ("/ui/executions", 3), ($"/ui/executions?job={job}", 2), ($"/ui/executions?error={job}", 1),
            ($"/ui/executions/{m.Succeeded}", 4), ($"/ui/executions/{m.Running}", 3),
            ("/ui/jobs", 6), ($"/ui/jobs/{m.Job}", 2),
            ("/ui/schedules", 2), ($"/ui/schedules/{m.Schedule}", 2),
            ("/ui/dead-letters", 1), ($"/ui/dead-letters?job={job}+fails", 1), ($"/ui/dead-letters?job={job}+is+not+a+job", 1),
            ("/ui/workers", 0),
        ];
        foreach (var (path, atLeast) in pages)
        {
            await Page.GotoAsync(path);
            await ShownAsTextAsync(path, atLeast);
        }

        // A form value the page shows back in its problem.
        await Page.GotoAsync($"/ui/jobs/{m.Job}");
        var refused = await ForgedForm.PostAsync(Page, $"/ui/jobs/{m.Job}?handler=Run", [("count", Script)]);
        Assert.Equal(400, refused.Status);
        await Expect(Page.GetByRole(AriaRole.Alert)).ToContainTextAsync($"(got “{Script}”)");
        await ShownAsTextAsync("the run form's problem", 3);
    }

    [Fact]
    public async Task Script_in_everything_the_administrator_sees_is_shown_as_text()
    {
        var m = await MarkedTenantAsync(" (administered)");
        using var gate = m.Gate;
        await SignInAsync(DashboardPlatform.AdminSecret);
        await InlineScriptsWouldRunAsync();

        (string Path, int AtLeast)[] pages =
        [
            ("/ui", 1), ("/ui?range=day", 1),
            ("/ui/executions", 6), ($"/ui/executions?tenant={m.Tenant.Id}", 6),
            ($"/ui/executions/{m.Succeeded}", 5), ($"/ui/executions/{m.Running}", 3),
            ("/ui/jobs", 6), ($"/ui/jobs/{m.Job}", 3),
            ("/ui/schedules", 3), ($"/ui/schedules/{m.Schedule}", 3),
            ("/ui/dead-letters", 2), ($"/ui/dead-letters?tenant={m.Tenant.Id}", 2),
            ("/ui/workers", 0),
            ("/ui/admin", 1), ($"/ui/admin/tenants/{m.Tenant.Id}", 2), ("/ui/admin/credentials", 1), ("/ui/admin/audit", 3),
        ];
        foreach (var (path, atLeast) in pages)
        {
            await Page.GotoAsync(path);
            await ShownAsTextAsync(path, atLeast);
        }
        gate.Open();
    }

    /// <summary>
    /// The check means something: in this browser an inline script added to a dashboard page runs
    /// (the page's policy is ignored), so a script the page itself let through would run too.
    /// </summary>
    private async Task InlineScriptsWouldRunAsync()
    {
        await Page.GotoAsync("/ui");
        await Page.EvaluateAsync("() => { const s = document.createElement('script'); s.textContent = 'window.__canary = 1'; document.body.appendChild(s); s.remove(); }");
        Assert.True(await Page.EvaluateAsync<bool>("() => window.__canary === 1"), "an inline script did not run: the page's policy is in force");
    }

    /// <summary>
    /// The script shows as text, at least <paramref name="atLeast"/> times; the page has no element
    /// it would have made (no image, no script in the body), and nothing of it ran.
    /// </summary>
    private async Task ShownAsTextAsync(string where, int atLeast)
    {
        await Expect(Page.Locator("main h1")).ToBeVisibleAsync();
        // (Not the first match: a tenant filter lists its name in an <option>, which is not visible.)
        if (atLeast > 0) await Expect(Page.GetByText(Script).Locator("visible=true").First).ToBeVisibleAsync();
        var shown = await Page.EvaluateAsync<int>("s => document.body.innerText.split(s).length - 1", Script);
        Assert.True(shown >= atLeast, $"{where} shows the script as text {shown} times, not at least {atLeast}");
        Assert.Equal(0, await Page.Locator("body img, body script").CountAsync());
        Assert.True(await Page.EvaluateAsync<bool>("() => window.__pwned === undefined"), $"{where} ran the script");
    }
}

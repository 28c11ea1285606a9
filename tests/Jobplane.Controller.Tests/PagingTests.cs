using System.Net;
using System.Text;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Testing;
using Microsoft.Extensions.Configuration;

namespace Jobplane.Controller.Tests;

/// <summary>
/// Cursor paging of every list: each row seen once while rows are inserted between pages, bad
/// cursors and offsets refused, and a cursor never reaching past the caller's own rows.
/// </summary>
public sealed class PagingTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    /// <summary>One page: its items' ids and the cursor of the next page (null on the last).</summary>
    private static async Task<(List<string> Ids, string? Next)> PageAsync(HttpClient client, string path, string? array)
    {
        using var response = await client.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {text}");
        using var doc = JsonDocument.Parse(text);
        if (array is null)
        {
            // The dead-letter list is a bare array: its next cursor comes in a header.
            var next = response.Headers.TryGetValues(Wire.NextCursorHeader, out var values) ? values.Single() : null;
            if (next is not null)
                Assert.Contains($"cursor={next}", Assert.Single(response.Headers.GetValues("Link")));
            return ([.. doc.RootElement.EnumerateArray().Select(e => e.GetProperty("id").GetString()!)], next);
        }
        var root = doc.RootElement;
        var items = root.GetProperty(array).EnumerateArray().Select(e => e.GetProperty(array == "tenants" ? "name" : "id").GetString()!).ToList();
        return (items, root.TryGetProperty("next_cursor", out var cursor) && cursor.ValueKind == JsonValueKind.String ? cursor.GetString() : null);
    }

    /// <summary>Pages through a list to its end, calling <paramref name="between"/> after each page.</summary>
    private static async Task<List<string>> PageThroughAsync(HttpClient client, string path, string? array, int limit, Func<Task> between)
    {
        var seen = new List<string>();
        string? cursor = null;
        var separator = path.Contains('?') ? '&' : '?';
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < 1000, "paging never ended");
            var (ids, next) = await PageAsync(client, $"{path}{separator}limit={limit}" + (cursor is null ? "" : $"&cursor={cursor}"), array);
            Assert.True(ids.Count <= limit);
            seen.AddRange(ids);
            if (next is null) return seen;
            Assert.Equal(limit, ids.Count);
            cursor = next;
            await between();
        }
    }

    private static void AssertEachOnce(IReadOnlyCollection<string> before, List<string> seen)
    {
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Empty(before.Except(seen));
    }

    private static async Task<IReadOnlyList<Guid>> RunManyAsync(HttpClient client, Guid jobId, int count)
    {
        var response = await client.PostAsync($"/jobs/{jobId}/runs", Api.RawJson($"{{\"count\": {count}}}"));
        return (await Api.ReadAsync(response, Api.Json.BatchRunResponse, HttpStatusCode.Created)).ExecutionIds;
    }

    [Fact]
    public async Task Paging_executions_while_new_ones_are_submitted_sees_every_earlier_execution_once()
    {
        var (_, client) = await _host.TenantClientAsync();
        var job = await Api.CreateJobAsync(client);
        // One statement: these share created_at, so the id alone orders them across page boundaries.
        var before = (await RunManyAsync(client, job, 7)).Select(i => i.ToString()).ToList();
        before.Add((await Api.RunAsync(client, job)).ExecutionId.ToString());
        before.AddRange((await RunManyAsync(client, job, 4)).Select(i => i.ToString()));

        var seen = await PageThroughAsync(client, "/executions", "executions", 3, async () =>
        {
            await Api.RunAsync(client, job);
            await RunManyAsync(client, job, 2);
        });

        AssertEachOnce(before, seen);

        var filtered = await PageThroughAsync(client, $"/executions?job_id={job}&status=PENDING", "executions", 4, () => Task.CompletedTask);
        Assert.Equal(filtered.Count, filtered.Distinct().Count());
        Assert.Empty(before.Except(filtered));
    }

    [Fact]
    public async Task Paging_jobs_while_new_ones_are_created_sees_every_earlier_job_once()
    {
        var (_, client) = await _host.TenantClientAsync();
        var before = new List<string>();
        for (var i = 0; i < 7; i++) before.Add((await Api.CreateJobAsync(client)).ToString());

        var seen = await PageThroughAsync(client, "/jobs", "jobs", 2, async () => await Api.CreateJobAsync(client));

        AssertEachOnce(before, seen);
    }

    [Fact]
    public async Task Paging_dead_letters_while_more_fail_sees_every_earlier_one_once_with_the_cursor_in_headers()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var job = await Api.CreateJobAsync(client, maxAttempts: 1);
        async Task<Guid> FailAsync()
        {
            var run = await Api.RunAsync(client, job);
            var claim = await Api.ClaimAsync(worker, tenant.TenantId, run.ExecutionId);
            Assert.Equal(ExecutionStatus.Failed, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 1));
            return run.ExecutionId;
        }
        for (var i = 0; i < 5; i++) await FailAsync();
        var before = (await Api.ReadAsync(await client.GetAsync("/executions/dlq"), Api.Json.IReadOnlyListDlqEntry)).Select(d => d.Id.ToString()).ToList();
        Assert.Equal(5, before.Count);

        var seen = await PageThroughAsync(client, "/executions/dlq", null, 2, async () => await FailAsync());

        AssertEachOnce(before, seen);
        // The last page says nothing more: no cursor header, no Link.
        using var last = await client.GetAsync("/executions/dlq?limit=1000");
        Assert.False(last.Headers.Contains(Wire.NextCursorHeader));
        Assert.False(last.Headers.Contains("Link"));
    }

    [Fact]
    public async Task Paging_api_keys_on_both_routes_while_keys_are_added_sees_every_earlier_key_once()
    {
        var (tenant, client) = await _host.TenantClientAsync();
        using var admin = _host.AdminClient();
        for (var i = 0; i < 5; i++) (await client.PostAsync("/api-keys", null)).EnsureSuccessStatusCode();
        var before = (await Api.ReadAsync(await client.GetAsync("/api-keys"), Api.Json.ApiKeyList)).ApiKeys.Select(k => k.Id.ToString()).ToList();
        Assert.Equal(6, before.Count);

        var seen = await PageThroughAsync(client, "/api-keys", "api_keys", 2, async () => (await client.PostAsync("/api-keys", null)).EnsureSuccessStatusCode());
        AssertEachOnce(before, seen);
        // Oldest first: new keys come at the end, so this walk saw them too.
        Assert.Equal(before, seen.Take(before.Count));

        var asAdmin = await PageThroughAsync(admin, $"/tenants/{tenant.TenantId}/api-keys", "api_keys", 3,
            async () => (await admin.PostAsync($"/tenants/{tenant.TenantId}/api-keys", null)).EnsureSuccessStatusCode());
        AssertEachOnce(seen, asAdmin);
    }

    [Fact]
    public async Task Paging_tenants_and_worker_credentials_while_more_are_made_sees_every_earlier_one_once()
    {
        using var admin = _host.AdminClient();
        for (var i = 0; i < 5; i++) await _host.CreateTenantAsync($"paging-{Guid.NewGuid():N}");
        var tenants = (await Api.ReadAsync(await admin.GetAsync("/tenants?limit=1000"), Api.Json.TenantList)).Tenants.Select(t => t.Name).ToList();

        var seenTenants = await PageThroughAsync(admin, "/tenants", "tenants", 2, async () => await _host.CreateTenantAsync($"paging-{Guid.NewGuid():N}"));
        AssertEachOnce(tenants, seenTenants);

        async Task CredentialAsync() => (await admin.PostAsync("/worker-credentials", Api.RawJson($"{{\"name\": \"w-{Guid.NewGuid():N}\"}}"))).EnsureSuccessStatusCode();
        for (var i = 0; i < 5; i++) await CredentialAsync();
        var credentials = (await Api.ReadAsync(await admin.GetAsync("/worker-credentials?limit=1000"), Api.Json.WorkerCredentialList))
            .WorkerCredentials.Select(c => c.Id.ToString()).ToList();
        var seenCredentials = await PageThroughAsync(admin, "/worker-credentials", "worker_credentials", 2, CredentialAsync);
        AssertEachOnce(credentials, seenCredentials);
    }

    public static TheoryData<string> TenantLists => ["/executions", "/jobs", "/executions/dlq", "/api-keys"];

    [Theory]
    [MemberData(nameof(TenantLists))]
    public async Task Bad_cursors_and_offsets_are_refused_naming_the_field(string path)
    {
        var (_, client) = await _host.TenantClientAsync();
        var job = await Api.CreateJobAsync(client);
        await RunManyAsync(client, job, 3);
        using var admin = _host.AdminClient();
        var jobsBefore = await (await client.GetAsync("/jobs")).Content.ReadAsStringAsync();

        // A cursor of another list (the tenants list's) is refused rather than misread.
        var otherList = (await Api.ReadAsync(await admin.GetAsync("/tenants?limit=1"), Api.Json.TenantList)).NextCursor;
        Assert.NotNull(otherList);
        string[] cursors =
        [
            "not a cursor!", "%00", Convert.ToBase64String(Encoding.UTF8.GetBytes("e1.12.zz")).TrimEnd('='), "e1", new string('A', 5000),
            Convert.ToBase64String(Encoding.UTF8.GetBytes("e1.99999999999999999999." + Guid.NewGuid().ToString("N"))).TrimEnd('='),
            otherList!,
        ];
        foreach (var cursor in cursors)
        {
            var error = await Api.AssertErrorAsync(await client.GetAsync($"{path}?cursor={Uri.EscapeDataString(cursor)}"), HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument);
            Assert.Contains("cursor", error.Error);
        }
        var empty = await Api.AssertErrorAsync(await client.GetAsync($"{path}?cursor="), HttpStatusCode.BadRequest);
        Assert.Contains("cursor", empty.Error);

        var deep = await Api.AssertErrorAsync(await client.GetAsync($"{path}?offset=10001"), HttpStatusCode.BadRequest);
        Assert.Contains("offset", deep.Error);
        Assert.Contains("cursor", deep.Error);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"{path}?offset=10000")).StatusCode);

        var page = await client.GetAsync("/executions?limit=1");
        var next = (await Api.ReadAsync(page, Api.Json.ExecutionList)).NextCursor;
        Assert.NotNull(next);
        var both = await Api.AssertErrorAsync(await client.GetAsync($"/executions?offset=1&cursor={next}"), HttpStatusCode.BadRequest);
        Assert.Contains("offset", both.Error);

        // Refused requests changed nothing.
        Assert.Equal(jobsBefore, await (await client.GetAsync("/jobs")).Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Admin_lists_refuse_bad_cursors_naming_the_field()
    {
        using var admin = _host.AdminClient();
        foreach (var path in new[] { "/tenants", "/worker-credentials" })
        {
            var error = await Api.AssertErrorAsync(await admin.GetAsync($"{path}?cursor=%21%21"), HttpStatusCode.BadRequest);
            Assert.Contains("cursor", error.Error);
            var deep = await Api.AssertErrorAsync(await admin.GetAsync($"{path}?offset=20000"), HttpStatusCode.BadRequest);
            Assert.Contains("offset", deep.Error);
        }
        // A tenant-name cursor with a control character never reaches the database.
        var control = Convert.ToBase64String(Encoding.UTF8.GetBytes("t1.a\u0000b")).TrimEnd('=');
        Assert.Contains("cursor", (await Api.AssertErrorAsync(await admin.GetAsync($"/tenants?cursor={control}"), HttpStatusCode.BadRequest)).Error);
    }

    [Fact]
    public async Task Another_tenants_cursor_shows_only_the_callers_own_rows()
    {
        var (_, victim) = await _host.TenantClientAsync();
        var (_, attacker) = await _host.TenantClientAsync();
        var victimJob = await Api.CreateJobAsync(victim);
        var victimRuns = await RunManyAsync(victim, victimJob, 5);
        var attackerJob = await Api.CreateJobAsync(attacker);
        var attackerRun = (await Api.RunAsync(attacker, attackerJob)).ExecutionId;

        var victimPage = await Api.ReadAsync(await victim.GetAsync("/executions?limit=2"), Api.Json.ExecutionList);
        // A cursor placed after every row there is: the attacker still walks only its own.
        var forged = Convert.ToBase64String(Encoding.UTF8.GetBytes($"e1.{DateTimeOffset.UtcNow.AddYears(10).ToUnixTimeMilliseconds() * 1000}.{Guid.Empty:N}"))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');
        foreach (var cursor in new[] { victimPage.NextCursor!, forged })
        {
            var page = await Api.ReadAsync(await attacker.GetAsync($"/executions?limit=1000&cursor={cursor}"), Api.Json.ExecutionList);
            Assert.Empty(page.Executions.Select(e => e.Id).Intersect(victimRuns));
            Assert.All(page.Executions, e => Assert.Equal(attackerRun, e.Id));
        }
        var jobs = await Api.ReadAsync(await attacker.GetAsync($"/jobs?cursor={Jobs(forged)}"), Api.Json.JobList);
        Assert.All(jobs.Jobs, j => Assert.Equal(attackerJob, j.Id));
    }

    /// <summary>The forged executions cursor re-tagged as a jobs cursor.</summary>
    private static string Jobs(string executionsCursor)
    {
        var text = Encoding.UTF8.GetString(Convert.FromBase64String(Pad(executionsCursor.Replace('-', '+').Replace('_', '/'))));
        return Convert.ToBase64String(Encoding.UTF8.GetBytes("j" + text[1..])).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    private static string Pad(string s) => s + new string('=', (4 - s.Length % 4) % 4);

    [Fact]
    public async Task A_page_of_executions_with_1_MiB_results_leaves_them_out_and_stays_small()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var job = await Api.CreateJobAsync(client);
        var big = JsonSerializer.Serialize(new string('r', Wire.MaxResultBytes - 100));
        var ids = new List<Guid>();
        for (var i = 0; i < 6; i++)
        {
            var run = await Api.RunAsync(client, job);
            var claim = await Api.ClaimAsync(worker, tenant.TenantId, run.ExecutionId);
            Assert.Equal(ExecutionStatus.Succeeded, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 0, $"\"result\": {{\"data\": {big}}}"));
            ids.Add(run.ExecutionId);
        }

        using var response = await client.GetAsync("/executions?limit=1000");
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // Six rows of a few hundred bytes each, not six MiB of results.
        Assert.True(body.Length < 16 * 1024, $"a page of 6 executions took {body.Length} bytes");
        using var doc = JsonDocument.Parse(body);
        var rows = doc.RootElement.GetProperty("executions").EnumerateArray().ToList();
        Assert.Equal(6, rows.Count);
        Assert.All(rows, r => Assert.False(r.TryGetProperty("result", out _)));
        // The single execution still answers its whole result.
        var one = await Api.GetExecutionAsync(client, ids[0]);
        Assert.Equal(Wire.MaxResultBytes - 100, one.Result!.Value.GetProperty("data").GetString()!.Length);
    }

    [Fact]
    public async Task A_long_command_is_cut_in_the_job_list_and_marked_while_the_job_answers_it_whole()
    {
        var (_, client) = await _host.TenantClientAsync();
        var command = Enumerable.Range(0, 400).Select(i => $"{i:D4}-" + new string('c', 995)).ToArray();
        var longJob = await Api.CreateJobAsync(client, command: command);
        var shortJob = await Api.CreateJobAsync(client, command: ["echo", "hi"]);

        using var response = await client.GetAsync("/jobs");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(body.Length < 8 * 1024, $"the job list took {body.Length} characters");
        var list = JsonSerializer.Deserialize(body, Api.Json.JobList)!;
        var cut = Assert.Single(list.Jobs, j => j.Id == longJob);
        Assert.True(cut.CommandTruncated);
        Assert.Equal(1024, cut.Command.Sum(a => a.Length));
        Assert.Equal(command[0], cut.Command[0]);
        Assert.Equal(command[1][..24], cut.Command[1]);
        var whole = Assert.Single(list.Jobs, j => j.Id == shortJob);
        Assert.Null(whole.CommandTruncated);
        Assert.Equal(["echo", "hi"], whole.Command);
        using (var doc = JsonDocument.Parse(body))
        {
            var shortRow = doc.RootElement.GetProperty("jobs").EnumerateArray().Single(j => j.GetProperty("id").GetString() == shortJob.ToString());
            Assert.False(shortRow.TryGetProperty("command_truncated", out _));
        }

        var single = await Api.ReadAsync(await client.GetAsync($"/jobs/{longJob}"), Api.Json.JobView);
        Assert.Equal(command, single.Command);
        Assert.Null(single.CommandTruncated);
    }

    [Fact]
    public async Task A_log_page_of_huge_lines_stays_under_its_byte_budget_and_paging_reaches_the_end()
    {
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker);
        var lines = Enumerable.Range(0, 60).Select(i => $"{i:D3}:" + new string((char)('a' + i % 26), 60_000)).ToArray();
        foreach (var batch in lines.Chunk(10)) await Api.ShipLogsAsync(worker, claim.ExecutionId, claim.LeaseToken, batch);

        var seen = new List<string>();
        long after = 0;
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < 100, "paging never ended");
            using var response = await client.GetAsync($"/executions/{claim.ExecutionId}/logs?limit=5000&after_id={after}");
            var body = await response.Content.ReadAsByteArrayAsync();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var page = JsonSerializer.Deserialize(body, Api.Json.LogPage)!;
            if (page.Logs.Count == 0) break;
            // 1 MiB of line content, and some JSON around it.
            Assert.True(body.Length < 1024 * 1024 + 64 * 1024, $"a log page took {body.Length} bytes");
            Assert.True(page.Logs.Sum(l => Encoding.UTF8.GetByteCount(l.Content)) <= 1024 * 1024);
            seen.AddRange(page.Logs.Select(l => l.Content));
            after = page.Logs[^1].Id;
        }
        Assert.Equal(lines, seen);
    }

    [Fact]
    public async Task The_document_describes_cursors_next_cursor_and_the_dead_letter_headers()
    {
        using var client = _host.Client();
        using var doc = JsonDocument.Parse(await client.GetStringAsync("/openapi.json"));
        var paths = doc.RootElement.GetProperty("paths");
        foreach (var path in new[] { "/executions", "/jobs", "/executions/dlq", "/api-keys", "/tenants", "/tenants/{id}/api-keys", "/worker-credentials" })
        {
            var parameters = paths.GetProperty(path).GetProperty("get").GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
            Assert.Contains("cursor", parameters);
            Assert.Contains("limit", parameters);
        }
        var schemas = doc.RootElement.GetProperty("components").GetProperty("schemas");
        foreach (var schema in new[] { "ExecutionList", "JobList", "TenantList", "ApiKeyList", "WorkerCredentialList" })
            Assert.True(schemas.GetProperty(schema).GetProperty("properties").TryGetProperty("next_cursor", out _), schema);
        Assert.True(schemas.GetProperty("JobView").GetProperty("properties").TryGetProperty("command_truncated", out _));
        var headers = paths.GetProperty("/executions/dlq").GetProperty("get").GetProperty("responses").GetProperty("200").GetProperty("headers");
        Assert.True(headers.TryGetProperty(Wire.NextCursorHeader, out _));
        Assert.True(headers.TryGetProperty("Link", out _));
    }
}

/// <summary>A controller whose log pages hold at most 1 KiB of line content.</summary>
public sealed class SmallLogPageFixture : IAsyncLifetime
{
    public ControllerHost Host { get; } = new(new Dictionary<string, string?> { ["LOG_PAGE_MAX_BYTES"] = "1024" });

    public Task InitializeAsync() => Host.InitializeAsync();

    public Task DisposeAsync() => Host.DisposeAsync();
}

/// <summary>LOG_PAGE_MAX_BYTES: a page stops at the budget, and a line larger than it still comes alone.</summary>
public sealed class LogPageBudgetTests(SmallLogPageFixture fixture) : IClassFixture<SmallLogPageFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    [Fact]
    public async Task Lines_larger_than_the_budget_come_one_per_page_and_small_ones_fill_a_page_up_to_it()
    {
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker);
        string[] big = ["B1" + new string('x', 3000), "B2" + new string('y', 3000)];
        var small = Enumerable.Range(0, 30).Select(i => $"s{i:D2}" + new string('z', 97)).ToArray(); // 100 bytes each
        await Api.ShipLogsAsync(worker, claim.ExecutionId, claim.LeaseToken, [.. big, .. small]);

        var pages = new List<IReadOnlyList<LogEntry>>();
        long after = 0;
        while (true)
        {
            var page = await Api.ReadAsync(await client.GetAsync($"/executions/{claim.ExecutionId}/logs?after_id={after}"), Api.Json.LogPage);
            if (page.Logs.Count == 0) break;
            pages.Add(page.Logs);
            after = page.Logs[^1].Id;
            Assert.True(pages.Count < 50, "paging never ended");
        }

        Assert.Equal([.. big, .. small], pages.SelectMany(p => p.Select(l => l.Content)));
        Assert.Equal(big[0], Assert.Single(pages[0]).Content);
        Assert.Equal(big[1], Assert.Single(pages[1]).Content);
        // 10 lines of 100 bytes make 1000 bytes; an eleventh would pass 1024.
        Assert.All(pages.Skip(2), p => Assert.Equal(10, p.Count));
    }

    [Theory]
    [InlineData("LOG_PAGE_MAX_BYTES", "12")]
    [InlineData("LOG_PAGE_MAX_BYTES", "lots")]
    [InlineData("LIST_COMMAND_MAX_CHARS", "0")]
    public void A_bad_budget_setting_is_refused_at_start_naming_it(string key, string value)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = "Host=localhost;Database=x",
            [key] = value,
        }).Build();
        var e = Assert.ThrowsAny<Exception>(() => ControllerOptions.FromConfiguration(config));
        Assert.Contains(key, e.Message);
    }
}

using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>Running jobs, reading one execution, listing with filters and pages.</summary>
public sealed partial class ExecutionTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")]
    private static partial Regex Rfc3339();

    [Fact]
    public async Task Run_returns_201_with_a_pending_execution_readable_with_every_field()
    {
        var (_, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client, priority: "\"high\"");

        using var response = await client.PostAsync($"/jobs/{jobId}/run", null);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using (var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync()))
        {
            Assert.True(Guid.TryParse(doc.RootElement.GetProperty("execution_id").GetString(), out _));
            Assert.Equal("PENDING", doc.RootElement.GetProperty("status").GetString());
        }
        var run = await Api.RunAsync(client, jobId);
        Assert.Equal(ExecutionStatus.Pending, run.Status);

        using var get = await client.GetAsync($"/executions/{run.ExecutionId}");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        var raw = await get.Content.ReadAsStringAsync();
        using var view = JsonDocument.Parse(raw);
        var root = view.RootElement;
        Assert.Equal(run.ExecutionId, root.GetProperty("id").GetGuid());
        Assert.Equal(jobId, root.GetProperty("job_id").GetGuid());
        Assert.Equal("PENDING", root.GetProperty("status").GetString());
        Assert.Equal(75, root.GetProperty("priority").GetInt32());
        Assert.Equal(0, root.GetProperty("attempt").GetInt32());
        foreach (var field in new[] { "scheduled_at", "created_at" })
        {
            var text = root.GetProperty(field).GetString()!;
            Assert.Matches(Rfc3339(), text);
        }
        // Never-set optional fields are absent, not invented.
        Assert.False(root.TryGetProperty("completed_at", out _), raw);
        Assert.False(root.TryGetProperty("exit_code", out _), raw);

        // A run with an empty JSON object is the same as no body.
        var withEmpty = await Api.RunAsync(client, jobId, "{}");
        Assert.Equal(ExecutionStatus.Pending, withEmpty.Status);
    }

    [Fact]
    public async Task Run_of_an_unknown_job_is_404()
    {
        var (_, client) = await _host.TenantClientAsync();
        using var response = await client.PostAsync($"/jobs/{Guid.NewGuid()}/run", null);
        await Api.AssertErrorAsync(response, HttpStatusCode.NotFound, ErrorCodes.NotFound);
    }

    [Fact]
    public async Task A_run_scheduled_in_the_future_is_scheduled_and_not_claimable()
    {
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);
        // Whole seconds, written with a non-UTC offset: the stored instant must be exactly this one.
        var at = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(1).AddHours(3), TimeSpan.Zero).ToOffset(TimeSpan.FromHours(2));
        var run = await Api.RunAsync(client, jobId, $$"""{"scheduled_at": "{{at:yyyy-MM-ddTHH:mm:sszzz}}"}""");
        Assert.Equal(ExecutionStatus.Scheduled, run.Status);

        var view = await Api.GetExecutionAsync(client, run.ExecutionId);
        Assert.Equal(ExecutionStatus.Scheduled, view.Status);
        Assert.Equal(at.UtcDateTime, view.ScheduledAt.UtcDateTime);

        using var worker = _host.WorkerClient();
        Assert.Empty(await Api.DequeueAsync(worker, tenant.TenantId));

        // A time in the past runs now.
        var past = await Api.RunAsync(client, jobId, """{"scheduled_at": "2001-01-01T00:00:00Z"}""");
        Assert.Equal(ExecutionStatus.Pending, past.Status);
    }

    [Fact]
    public async Task List_filters_by_status_and_job_and_pages_newest_first()
    {
        var (tenant, client) = await _host.TenantClientAsync();
        var jobA = await Api.CreateJobAsync(client);
        var jobB = await Api.CreateJobAsync(client);
        var runsA = new List<Guid>();
        for (var i = 0; i < 5; i++) runsA.Add((await Api.RunAsync(client, jobA)).ExecutionId);
        var runB = (await Api.RunAsync(client, jobB)).ExecutionId;
        var scheduled = (await Api.RunAsync(client, jobB, $$"""{"scheduled_at": "{{DateTimeOffset.UtcNow.AddDays(1):O}}"}""")).ExecutionId;

        var all = await Api.ReadAsync(await client.GetAsync("/executions"), Api.Json.ExecutionList);
        Assert.Equal(7, all.Executions.Count);
        Assert.Equal(scheduled, all.Executions[0].Id); // newest first

        var onlyA = await Api.ReadAsync(await client.GetAsync($"/executions?job_id={jobA}"), Api.Json.ExecutionList);
        Assert.Equal(runsA.AsEnumerable().Reverse(), onlyA.Executions.Select(e => e.Id));

        var onlyScheduled = await Api.ReadAsync(await client.GetAsync("/executions?status=SCHEDULED"), Api.Json.ExecutionList);
        Assert.Equal(scheduled, Assert.Single(onlyScheduled.Executions).Id);

        var pendingB = await Api.ReadAsync(await client.GetAsync($"/executions?status=PENDING&job_id={jobB}"), Api.Json.ExecutionList);
        Assert.Equal(runB, Assert.Single(pendingB.Executions).Id);

        var none = await Api.ReadAsync(await client.GetAsync("/executions?status=SUCCEEDED"), Api.Json.ExecutionList);
        Assert.Empty(none.Executions);

        // Pages of 2 over job A: disjoint, in order, and together the whole list.
        var paged = new List<Guid>();
        for (var offset = 0; ; offset += 2)
        {
            var page = await Api.ReadAsync(await client.GetAsync($"/executions?job_id={jobA}&limit=2&offset={offset}"), Api.Json.ExecutionList);
            Assert.Equal(2, page.Limit);
            Assert.Equal(offset, page.Offset);
            Assert.True(page.Executions.Count <= 2);
            if (page.Executions.Count == 0) break;
            paged.AddRange(page.Executions.Select(e => e.Id));
        }
        Assert.Equal(onlyA.Executions.Select(e => e.Id), paged);

        // A claimed one moves to RUNNING in the status filter.
        using var worker = _host.WorkerClient();
        var claimed = Assert.Single(await Api.DequeueAsync(worker, tenant.TenantId));
        var running = await Api.ReadAsync(await client.GetAsync("/executions?status=RUNNING"), Api.Json.ExecutionList);
        Assert.Equal(claimed.ExecutionId, Assert.Single(running.Executions).Id);
    }

    [Fact]
    public async Task An_empty_dead_letter_queue_is_exactly_an_empty_array()
    {
        var (_, client) = await _host.TenantClientAsync();
        using var response = await client.GetAsync("/executions/dlq");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("[]", (await response.Content.ReadAsStringAsync()).Trim());
    }

    [Fact]
    public async Task Lists_of_jobs_page_and_an_unknown_execution_is_404()
    {
        var (_, client) = await _host.TenantClientAsync();
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++) ids.Add(await Api.CreateJobAsync(client));
        var page1 = await Api.ReadAsync(await client.GetAsync("/jobs?limit=2"), Api.Json.JobList);
        var page2 = await Api.ReadAsync(await client.GetAsync("/jobs?limit=2&offset=2"), Api.Json.JobList);
        Assert.Equal(2, page1.Jobs.Count);
        Assert.Single(page2.Jobs);
        Assert.Equal(ids.AsEnumerable().Reverse(), page1.Jobs.Concat(page2.Jobs).Select(j => j.Id));

        using var missing = await client.GetAsync($"/executions/{Guid.NewGuid()}");
        await Api.AssertErrorAsync(missing, HttpStatusCode.NotFound, ErrorCodes.NotFound);
        using var missingLogs = await client.GetAsync($"/executions/{Guid.NewGuid()}/logs");
        await Api.AssertErrorAsync(missingLogs, HttpStatusCode.NotFound, ErrorCodes.NotFound);
    }
}

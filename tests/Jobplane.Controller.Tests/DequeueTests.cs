using System.Net.Http.Json;
using Jobplane.Api;
using Jobplane.Controller.Queue;
using Jobplane.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Jobplane.Controller.Tests;

/// <summary>Dequeue over HTTP: the long-poll, the priority order, and the tenant filter.</summary>
public sealed class DequeueTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    [Fact]
    public async Task A_long_poll_on_an_empty_queue_returns_the_execution_submitted_while_it_waits()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);

        var poll = Api.DequeueAsync(worker, tenant.TenantId, waitSeconds: 10);
        await Task.Delay(500);
        Assert.False(poll.IsCompleted, "the long-poll answered before there was work (it should wait up to 10 s)");
        var run = await Api.RunAsync(client, jobId);

        var claimed = await poll;
        Assert.Equal(run.ExecutionId, Assert.Single(claimed).ExecutionId);
        Assert.Equal(ExecutionStatus.Running, (await Api.GetExecutionAsync(client, run.ExecutionId)).Status);
    }

    [Fact]
    public async Task A_dequeue_without_wait_on_an_empty_queue_returns_an_empty_list()
    {
        using var worker = _host.WorkerClient();
        var tenant = await _host.CreateTenantAsync();
        using var response = await worker.PostAsync("/internal/executions/dequeue",
            Api.RawJson($$"""{"limit": 5, "wait_seconds": 0, "tenant_ids": ["{{tenant.TenantId}}"]}"""));
        var body = await Api.ReadAsync(response, Api.Json.DequeueResponse);
        Assert.NotNull(body.Executions);
        Assert.Empty(body.Executions);
        Assert.Contains("\"executions\":[]", (await response.Content.ReadAsStringAsync()).Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Higher_priority_is_claimed_first_and_equal_priority_in_submission_order()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var low = await Api.CreateJobAsync(client, priority: "\"low\"");
        var normal = await Api.CreateJobAsync(client);
        var critical = await Api.CreateJobAsync(client, priority: "\"critical\"");

        var l1 = (await Api.RunAsync(client, low)).ExecutionId;
        var n1 = (await Api.RunAsync(client, normal)).ExecutionId;
        var c1 = (await Api.RunAsync(client, critical)).ExecutionId;
        var n2 = (await Api.RunAsync(client, normal)).ExecutionId;
        var boosted = (await Api.RunAsync(client, low, """{"priority": 90}""")).ExecutionId; // a per-run override

        var order = new List<Guid>();
        for (var i = 0; i < 5; i++) order.Add(Assert.Single(await Api.DequeueAsync(worker, tenant.TenantId)).ExecutionId);
        Assert.Equal([c1, boosted, n1, n2, l1], order);
        Assert.Empty(await Api.DequeueAsync(worker, tenant.TenantId));
    }

    [Fact]
    public async Task A_batch_claim_returns_the_highest_priorities()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var low = await Api.CreateJobAsync(client, priority: "10");
        var high = await Api.CreateJobAsync(client, priority: "80");
        for (var i = 0; i < 3; i++) await Api.RunAsync(client, low);
        var highRuns = new HashSet<Guid>();
        for (var i = 0; i < 2; i++) highRuns.Add((await Api.RunAsync(client, high)).ExecutionId);

        var batch = await Api.DequeueAsync(worker, tenant.TenantId, limit: 2);
        Assert.Equal(highRuns, batch.Select(c => c.ExecutionId).ToHashSet());
        Assert.Equal(3, (await Api.DequeueAsync(worker, tenant.TenantId, limit: 10)).Count);
    }

    [Fact]
    public async Task The_tenant_filter_claims_only_the_named_tenants_work()
    {
        using var worker = _host.WorkerClient();
        var (a, clientA) = await _host.TenantClientAsync();
        var (b, clientB) = await _host.TenantClientAsync();
        var (c, clientC) = await _host.TenantClientAsync();
        var runA = (await Api.RunAsync(clientA, await Api.CreateJobAsync(clientA, priority: "\"critical\""))).ExecutionId;
        var runB = (await Api.RunAsync(clientB, await Api.CreateJobAsync(clientB, priority: "\"low\""))).ExecutionId;
        var runC = (await Api.RunAsync(clientC, await Api.CreateJobAsync(clientC))).ExecutionId;

        // Only B is named: B's low-priority run is claimed, A's critical one is left alone.
        var onlyB = await Api.DequeueAsync(worker, b.TenantId, limit: 10);
        Assert.Equal(runB, Assert.Single(onlyB).ExecutionId);
        Assert.Equal(b.TenantId, onlyB[0].Payload.TenantId);
        Assert.Equal(ExecutionStatus.Pending, (await Api.GetExecutionAsync(clientA, runA)).Status);

        // Several tenants may be named at once.
        var request = new DequeueRequest { Limit = 10, TenantIds = [a.TenantId, c.TenantId], WorkerId = "w" };
        using var response = await worker.PostAsJsonAsync("/internal/executions/dequeue", request, Api.Json.DequeueRequest);
        var both = await Api.ReadAsync(response, Api.Json.DequeueResponse);
        Assert.Equal([runA, runC], both.Executions.Select(e => e.ExecutionId)); // priority order across tenants
    }

    [Fact]
    public async Task One_new_job_wakes_one_of_many_idle_long_polls_not_all_of_them()
    {
        var waiters = _host.Services.GetRequiredService<ReadySignal>().Waiters;
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);
        using var end = new CancellationTokenSource();
        var polls = Enumerable.Range(0, 20).Select(_ => PollAsync(worker, tenant.TenantId, end.Token)).ToList();
        await WaitForAsync(() => waiters.Count == 20, "the 20 long-polls never all waited");

        var wakesBefore = waiters.Wakes;
        var rechecksBefore = waiters.RecheckWakes;
        var run = await Api.RunAsync(client, jobId);
        var first = await await Task.WhenAny(polls).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(run.ExecutionId, Assert.Single(first).ExecutionId);
        // The claimer's turn, the two it passes on (they find nothing), and any periodic re-checks meanwhile:
        // not one claim per idle poll.
        await WaitForAsync(() => waiters.Count == 19, "the polls that found nothing did not wait again");
        var wakes = waiters.Wakes - wakesBefore - (waiters.RecheckWakes - rechecksBefore);
        Assert.InRange(wakes, 1, 3);
        Assert.Equal(19, polls.Count(p => !p.IsCompleted));

        await end.CancelAsync();
        await Task.WhenAll(polls.Select(p => p.ContinueWith(_ => { }, TaskScheduler.Default)));
    }

    [Fact]
    public async Task A_burst_reaches_every_idle_long_poll_through_the_polls_that_found_work()
    {
        var waiters = _host.Services.GetRequiredService<ReadySignal>().Waiters;
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);
        var polls = Enumerable.Range(0, 20).Select(_ => PollAsync(worker, tenant.TenantId, CancellationToken.None)).ToList();
        await WaitForAsync(() => waiters.Count == 20, "the 20 long-polls never all waited");

        var rechecksBefore = waiters.RecheckWakes;
        var response = await client.PostAsync(Routes.Of(Routes.JobRuns, jobId), Api.RawJson("""{"count": 20}"""));
        var batch = await Api.ReadAsync(response, Api.Json.BatchRunResponse, System.Net.HttpStatusCode.Created);

        // One notification; each poll that claims passes its turn on to two more, so all 20 get one
        // execution each long before the periodic re-check (one poll a second) could have served them.
        var claimed = await Task.WhenAll(polls).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(batch.ExecutionIds.ToHashSet(), claimed.Select(c => Assert.Single(c).ExecutionId).ToHashSet());
        Assert.InRange(waiters.RecheckWakes - rechecksBefore, 0, 10);
    }

    private static async Task<IReadOnlyList<ClaimedExecution>> PollAsync(HttpClient worker, Guid tenantId, CancellationToken ct)
    {
        var request = new DequeueRequest { Limit = 1, TenantIds = [tenantId], WorkerId = "idle-worker", WaitSeconds = 60 };
        using var response = await worker.PostAsJsonAsync(Routes.WorkerDequeue, request, Api.Json.DequeueRequest, ct);
        return (await Api.ReadAsync(response, Api.Json.DequeueResponse)).Executions;
    }

    private static async Task WaitForAsync(Func<bool> condition, string failure)
    {
        for (var i = 0; i < 600 && !condition(); i++) await Task.Delay(50);
        Assert.True(condition(), failure);
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Client;
using Jobplane.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Jobplane.Worker.Tests.Agent;

/// <summary>
/// The worker's result batcher against the real controller and database: reports that arrive
/// together share calls, each is answered as if sent alone, and a controller without the batch
/// route (an older version) still gets every report.
/// </summary>
public sealed class ResultBatcherTests : IAsyncLifetime
{
    private readonly ControllerHost _host = new();

    public Task InitializeAsync() => _host.InitializeAsync();
    public Task DisposeAsync() => _host.DisposeAsync();

    [Fact]
    public async Task Reports_that_end_together_share_calls_and_each_gets_its_own_answer()
    {
        var (client, counter) = Client();
        var (tenant, claims) = await ClaimAsync(client, 60);
        await using var batcher = new ResultBatcher(client, NullLogger.Instance);

        var reports = claims.Select((c, i) => batcher.ReportAsync(c.ExecutionId, new ResultRequest
        {
            LeaseToken = c.LeaseToken,
            ExitCode = i % 2,
            Error = i % 2 == 0 ? null : "exit code 1",
            Result = JsonDocument.Parse($$"""{"i": {{i}}}""").RootElement,
            Retryable = false,
        })).ToList();
        var answers = await Task.WhenAll(reports);

        Assert.Equal(claims.Select((_, i) => i % 2 == 0 ? ExecutionStatus.Succeeded : ExecutionStatus.Failed), answers.Select(a => a.Status));
        // Sixty reports, a handful of calls: they waited only for the call in flight.
        Assert.InRange(counter.BatchCalls, 1, 10);
        Assert.Equal(0, counter.SingleCalls);
        var stored = await ExecutionAsync(tenant, claims[4].ExecutionId);
        Assert.Equal(4, stored.Result!.Value.GetProperty("i").GetInt32());
    }

    [Fact]
    public async Task A_lost_lease_and_a_refused_result_are_answered_like_single_reports()
    {
        var (client, _) = Client();
        var (_, claims) = await ClaimAsync(client, 2);
        await using var batcher = new ResultBatcher(client, NullLogger.Instance);

        var lost = batcher.ReportAsync(claims[0].ExecutionId, new ResultRequest { LeaseToken = Guid.NewGuid(), ExitCode = 0 });
        var gone = await Assert.ThrowsAsync<ApiException>(() => lost);
        Assert.True(gone.LeaseGone);

        // Not storable as jsonb: refused as a client error, so the agent reports again without the result.
        var refused = batcher.ReportAsync(claims[1].ExecutionId, new ResultRequest
        {
            LeaseToken = claims[1].LeaseToken,
            ExitCode = 0,
            Result = JsonDocument.Parse("""{"s": "a\u0000b"}""").RootElement,
        });
        var error = await Assert.ThrowsAsync<ApiException>(() => refused);
        Assert.Equal(HttpStatusCode.BadRequest, error.Status);
        Assert.False(error.LeaseGone);
        var again = await batcher.ReportAsync(claims[1].ExecutionId, new ResultRequest { LeaseToken = claims[1].LeaseToken, ExitCode = 0 });
        Assert.Equal(ExecutionStatus.Succeeded, again.Status);
    }

    [Fact]
    public async Task A_controller_without_the_batch_route_still_gets_every_report_one_by_one()
    {
        var (client, counter) = Client(batchRouteMissing: true);
        var (_, claims) = await ClaimAsync(client, 5);
        await using var batcher = new ResultBatcher(client, NullLogger.Instance);

        var answers = await Task.WhenAll(claims.Select(c =>
            batcher.ReportAsync(c.ExecutionId, new ResultRequest { LeaseToken = c.LeaseToken, ExitCode = 0 })));

        Assert.All(answers, a => Assert.Equal(ExecutionStatus.Succeeded, a.Status));
        Assert.Equal(5, counter.SingleCalls);
        // Later reports do not try the missing route again.
        var (_, more) = await ClaimAsync(client, 1);
        await batcher.ReportAsync(more[0].ExecutionId, new ResultRequest { LeaseToken = more[0].LeaseToken, ExitCode = 0 });
        Assert.Equal(1, counter.BatchCalls);
        Assert.Equal(6, counter.SingleCalls);
    }

    [Fact]
    public async Task A_large_result_goes_on_its_own_through_the_single_route()
    {
        var (client, counter) = Client();
        var (tenant, claims) = await ClaimAsync(client, 1);
        await using var batcher = new ResultBatcher(client, NullLogger.Instance);
        var big = new string('r', ResultBatcher.SoloResultBytes + 1);

        var answer = await batcher.ReportAsync(claims[0].ExecutionId, new ResultRequest
        {
            LeaseToken = claims[0].LeaseToken,
            ExitCode = 0,
            Result = JsonDocument.Parse($$"""{"big": "{{big}}"}""").RootElement,
        });

        Assert.Equal(ExecutionStatus.Succeeded, answer.Status);
        Assert.Equal((0, 1), (counter.BatchCalls, counter.SingleCalls));
        Assert.Equal(big, (await ExecutionAsync(tenant, claims[0].ExecutionId)).Result!.Value.GetProperty("big").GetString());
    }

    private static async Task<ExecutionView> ExecutionAsync(HttpClient tenant, Guid id) =>
        (await tenant.GetFromJsonAsync(Routes.Of(Routes.Execution, id), JobplaneJsonContext.Default.ExecutionView))!;

    private (WorkerClient Client, ResultCalls Counter) Client(bool batchRouteMissing = false)
    {
        var counter = new ResultCalls(_host.CreateHandler(), batchRouteMissing);
        var options = new WorkerOptions
        {
            ControllerUrl = _host.BaseAddress,
            WorkerToken = ControllerHost.WorkerToken,
            WorkerId = "batcher-test",
            WorkRoot = Path.GetTempPath(),
        };
        return (new WorkerClient(new HttpClient(counter), options.ControllerUrl, options.WorkerToken), counter);
    }

    private async Task<(HttpClient Tenant, IReadOnlyList<ClaimedExecution> Claims)> ClaimAsync(WorkerClient worker, int count)
    {
        var (created, tenant) = await _host.TenantClientAsync();
        var job = await tenant.PostAsJsonAsync(Routes.Jobs,
            new CreateJobRequest { Name = "batched", Image = "exec", Command = ["true"], MaxAttempts = 1 },
            JobplaneJsonContext.Default.CreateJobRequest);
        job.EnsureSuccessStatusCode();
        var jobId = (await job.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.CreateJobResponse))!.JobId;
        (await tenant.PostAsync(Routes.Of(Routes.JobRuns, jobId), new StringContent($$"""{"count": {{count}}}""", System.Text.Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        var answer = await worker.DequeueAsync(new DequeueRequest { Limit = count, TenantIds = [created.TenantId] }, CancellationToken.None);
        Assert.Equal(count, answer.Executions.Count);
        return (tenant, answer.Executions);
    }

    /// <summary>Counts result calls; can play a controller that has no batch route.</summary>
    private sealed class ResultCalls(HttpMessageHandler inner, bool batchRouteMissing) : DelegatingHandler(inner)
    {
        private int _batch, _single;
        public int BatchCalls => Volatile.Read(ref _batch);
        public int SingleCalls => Volatile.Read(ref _single);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var path = request.RequestUri!.AbsolutePath;
            if (path == Routes.WorkerResults)
            {
                Interlocked.Increment(ref _batch);
                if (batchRouteMissing) return Task.FromResult(new HttpResponseMessage(HttpStatusCode.NotFound));
            }
            else if (path.EndsWith("/result", StringComparison.Ordinal)) Interlocked.Increment(ref _single);
            return base.SendAsync(request, cancellationToken);
        }
    }
}

using System.Net.Http.Json;
using Jobplane.Api;
using Jobplane.Client;
using Jobplane.Testing;
using Jobplane.Worker.Runtimes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Jobplane.Worker.Tests.Agent;

/// <summary>A controller that stores 4 KiB of log per execution.</summary>
public sealed class TinyLogCapFixture : IAsyncLifetime
{
    public ControllerHost Host { get; } = new(new Dictionary<string, string?> { ["LOG_MAX_BYTES_PER_EXECUTION"] = "4KiB" });

    public Task InitializeAsync() => Host.InitializeAsync();

    public Task DisposeAsync() => Host.DisposeAsync();
}

/// <summary>The log shipper stops sending an attempt's output once the controller says its log is full.</summary>
public sealed class LogShipperTests(TinyLogCapFixture fixture) : IClassFixture<TinyLogCapFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    /// <summary>Counts the log batches that reach the controller.</summary>
    private sealed class CountingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        public int LogPosts;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            if (request.RequestUri!.AbsolutePath.EndsWith("/logs", StringComparison.Ordinal)) Interlocked.Increment(ref LogPosts);
            return base.SendAsync(request, ct);
        }
    }

    [Fact]
    public async Task Once_the_log_is_full_nothing_more_is_sent_and_the_request_body_is_unchanged()
    {
        var (tenant, client) = await _host.TenantClientAsync();
        var job = await client.PostAsJsonAsync(Routes.Jobs, new { name = "chatty", image = "exec", command = new[] { "true" } });
        var jobId = (await job.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.CreateJobResponse))!.JobId;
        var run = await client.PostAsync(Routes.Of(Routes.JobRun, jobId), null);
        var executionId = (await run.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.RunJobResponse))!.ExecutionId;
        using var worker = _host.WorkerClient();
        var dequeue = await worker.PostAsJsonAsync(Routes.WorkerDequeue,
            new DequeueRequest { Limit = 1, TenantIds = [tenant.TenantId], WorkerId = "shipper-test", WaitSeconds = 5 },
            JobplaneJsonContext.Default.DequeueRequest);
        var claim = Assert.Single((await dequeue.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.DequeueResponse))!.Executions);
        Assert.Equal(executionId, claim.ExecutionId);

        var counting = new CountingHandler(_host.CreateHandler());
        var options = new WorkerOptions
        {
            ControllerUrl = _host.BaseAddress,
            WorkerToken = ControllerHost.WorkerToken,
            WorkerId = "shipper-test",
            WorkRoot = Path.GetTempPath(),
        };
        var controller = new WorkerClient(new HttpClient(counting), options.ControllerUrl, options.WorkerToken);
        var shipper = new LogShipper(controller, claim.ExecutionId, claim.LeaseToken, TimeSpan.FromMilliseconds(20), TimeProvider.System,
            NullLogger.Instance);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60)); // a hang guard
        var line = new string('z', 500);
        while (!shipper.LogFull)
        {
            shipper.Write(LogStream.Stdout, line);
            await Task.Delay(20, guard.Token);
        }
        var sent = Volatile.Read(ref counting.LogPosts);

        for (var i = 0; i < 10_000; i++) shipper.Write(LogStream.Stdout, line);
        await shipper.DisposeAsync(); // ships whatever it still holds
        Assert.Equal(sent, Volatile.Read(ref counting.LogPosts));

        var page = await client.GetFromJsonAsync(Routes.Of(Routes.ExecutionLogs, claim.ExecutionId) + $"?limit=5000", JobplaneJsonContext.Default.LogPage);
        Assert.Contains("LOG_MAX_BYTES_PER_EXECUTION", page!.Logs[^1].Content, StringComparison.Ordinal);
        Assert.True(page.Logs.Take(page.Logs.Count - 1).All(l => l.Content == line));
    }
}

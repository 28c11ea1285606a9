using System.Diagnostics;
using System.Net.Http.Json;
using Jobplane.Api;
using Jobplane.Controller.Observability;
using Jobplane.Observability;
using Jobplane.Testing;
using Jobplane.Worker.Observability;
using Jobplane.Worker.Tests.Agent;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Jobplane.Worker.Tests.Observability;

/// <summary>
/// One execution, one trace: the controller's submit and claim spans and the worker's attempt and
/// runtime spans share the trace id, the trace is stored with the execution, and the job sees it in TRACEPARENT.
/// </summary>
[Collection(TracerCollection.Name)]
public sealed class TracingTests : IAsyncLifetime
{
    // Configured to export, as a deployment with a collector is (only then does it trace at all);
    // nothing listens on that port, and the in-memory list below stands in for the collector.
    private readonly ControllerHost _host = new(new Dictionary<string, string?> { [Telemetry.EndpointSetting] = "http://127.0.0.1:9" });
    private readonly SpanList _spans = new();
    private TracerProvider? _tracing;
    private AgentHarness _agent = null!;

    public async Task InitializeAsync()
    {
        // Both components' sources into one in-memory list, as one OTLP collector would see them.
        _tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource(ControllerTracing.SourceName, WorkerTracing.SourceName)
            .AddInMemoryExporter(_spans)
            .Build();
        await _host.InitializeAsync();
        _agent = await AgentHarness.StartAsync(_host);
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _host.DisposeAsync();
        _tracing?.Dispose();
    }

    [Fact]
    public async Task One_execution_is_one_trace_across_controller_worker_and_job()
    {
        var id = await _agent.SubmitAsync("traced", ["sh", "-c", "echo \"traceparent=$TRACEPARENT\""]);
        var done = await _agent.WaitForAsync(id, e => ExecutionStatus.IsTerminal(e.Status));
        Assert.Equal(ExecutionStatus.Succeeded, done.Status);

        var submit = await SpanAsync("jobplane.submit", id);
        var claim = await SpanAsync("jobplane.claim", id);
        var attempt = await SpanAsync("jobplane.attempt", id);
        var traceId = submit.TraceId;
        Assert.Equal(traceId, claim.TraceId);
        Assert.Equal(traceId, attempt.TraceId);
        // submit -> claim -> attempt -> runtime phases and the result report.
        Assert.Equal(submit.SpanId, claim.ParentSpanId);
        Assert.Equal(claim.SpanId, attempt.ParentSpanId);
        Assert.Equal(1, attempt.GetTagItem("jobplane.attempt"));
        Assert.Equal(ActivityStatusCode.Unset, attempt.Status);
        foreach (var phase in new[] { "jobplane.runtime.start", "jobplane.runtime.wait", "jobplane.result.report" })
        {
            var span = await ChildAsync(phase, attempt);
            Assert.Equal(traceId, span.TraceId);
        }
        // The result went to the controller in a batch: its completion has a span of its own, under the report.
        var complete = await ChildAsync("jobplane.complete", await ChildAsync("jobplane.result.report", attempt));
        Assert.Equal(traceId, complete.TraceId);
        Assert.Equal(ExecutionStatus.Succeeded, complete.GetTagItem("jobplane.execution.status"));

        // Stored with the execution: the submit span's traceparent.
        await using (var cmd = _host.Database.DataSource.CreateCommand("select trace_parent from executions where id = $1"))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = id });
            Assert.Equal(submit.Id, (string?)await cmd.ExecuteScalarAsync());
        }

        // The job joined the trace as a child of its attempt.
        var logs = await _agent.AllLogsAsync(id);
        var line = Assert.Single(logs, l => l.Content.StartsWith("traceparent=", StringComparison.Ordinal)).Content;
        Assert.Equal($"traceparent=00-{traceId}-{attempt.SpanId}-01", line);
    }

    [Fact]
    public async Task A_callers_traceparent_is_continued_and_every_attempt_joins_it()
    {
        var callerTrace = ActivityTraceId.CreateRandom();
        var callerSpan = ActivitySpanId.CreateRandom();
        var created = await _agent.Tenant.PostAsJsonAsync(Routes.Jobs,
            new CreateJobRequest { Name = "flaky-traced", Image = "exec", Command = ["sh", "-c", "exit 5"], MaxAttempts = 2 },
            JobplaneJsonContext.Default.CreateJobRequest);
        var job = (await created.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.CreateJobResponse))!;
        using var request = new HttpRequestMessage(HttpMethod.Post, Routes.Of(Routes.JobRun, job.JobId));
        request.Headers.Add("traceparent", $"00-{callerTrace}-{callerSpan}-01");
        var run = await _agent.Tenant.SendAsync(request);
        run.EnsureSuccessStatusCode();
        var id = (await run.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.RunJobResponse))!.ExecutionId;

        var failed = await _agent.WaitForAsync(id, e => e.Status == ExecutionStatus.Failed);
        Assert.Equal(2, failed.Attempt);

        var submit = await SpanAsync("jobplane.submit", id);
        Assert.Equal(callerTrace, submit.TraceId);
        var attempts = await SpansAsync("jobplane.attempt", id, 2);
        Assert.All(attempts, a => Assert.Equal(callerTrace, a.TraceId));
        Assert.All(attempts, a => Assert.Equal(ActivityStatusCode.Error, a.Status));
        Assert.Equal([1, 2], attempts.Select(a => (int)a.GetTagItem("jobplane.attempt")!).Order());
    }

    private async Task<Activity> SpanAsync(string name, Guid executionId) => (await SpansAsync(name, executionId, 1))[0];

    // Spans are exported when they end, from other threads: wait (bounded) for them to arrive.
    private async Task<List<Activity>> SpansAsync(string name, Guid executionId, int count)
    {
        for (var i = 0; i < 200; i++)
        {
            List<Activity> found = [.. _spans.Snapshot().Where(s => s.OperationName == name && Equals(s.GetTagItem("jobplane.execution.id"), executionId))];
            if (found.Count >= count) return found;
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException($"no {count} '{name}' span(s) for execution {executionId}");
    }

    private async Task<Activity> ChildAsync(string name, Activity parent)
    {
        for (var i = 0; i < 200; i++)
        {
            if (_spans.Snapshot().FirstOrDefault(s => s.OperationName == name && s.ParentSpanId == parent.SpanId) is { } span) return span;
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException($"no '{name}' span under {parent.OperationName} {parent.SpanId}");
    }
}

/// <summary>The exporter's target: spans arrive from whichever thread ends them, while the test reads.</summary>
internal sealed class SpanList : System.Collections.ObjectModel.Collection<Activity>
{
    private readonly Lock _gate = new();

    public List<Activity> Snapshot()
    {
        lock (_gate) return [.. Items];
    }

    protected override void InsertItem(int index, Activity item)
    {
        lock (_gate) base.InsertItem(index, item);
    }
}

/// <summary>
/// Tests that start a tracer, and tests that need none to listen: ActivitySources are process-wide,
/// so these never run alongside each other.
/// </summary>
[CollectionDefinition(Name)]
public sealed class TracerCollection
{
    public const string Name = "tracer";
}

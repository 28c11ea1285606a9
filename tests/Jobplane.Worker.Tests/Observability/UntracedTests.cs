using Jobplane.Api;
using Jobplane.Controller.Observability;
using Jobplane.Observability;
using Jobplane.Testing;
using Jobplane.Worker.Observability;
using Jobplane.Worker.Tests.Agent;
using Npgsql;

namespace Jobplane.Worker.Tests.Observability;

/// <summary>
/// A platform without OTEL_EXPORTER_OTLP_ENDPOINT: no tracer listens, so no span is made, yet the
/// execution's trace id still reaches the database and the job.
/// </summary>
[Collection(TracerCollection.Name)]
public sealed class UntracedTests : IAsyncLifetime
{
    private readonly ControllerHost _host = new();
    private AgentHarness _agent = null!;

    public async Task InitializeAsync()
    {
        await _host.InitializeAsync();
        _agent = await AgentHarness.StartAsync(_host);
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _host.DisposeAsync();
    }

    [Fact]
    public async Task Without_a_tracer_no_span_is_made_and_the_job_still_joins_the_executions_trace()
    {
        Assert.False(WorkerTracing.Source.HasListeners());
        Assert.False(ControllerTracing.Source.HasListeners());

        var id = await _agent.SubmitAsync("untraced", ["sh", "-c", "echo \"traceparent=$TRACEPARENT\""]);
        var done = await _agent.WaitForAsync(id, e => ExecutionStatus.IsTerminal(e.Status));
        Assert.Equal(ExecutionStatus.Succeeded, done.Status);

        // The submit request's own trace context is stored, and passed on to the job as it is.
        string? stored;
        await using (var cmd = _host.Database.DataSource.CreateCommand("select trace_parent from executions where id = $1"))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = id });
            stored = (string?)await cmd.ExecuteScalarAsync();
        }
        Assert.True(TraceParent.IsWellFormed(stored), stored);
        // Submitted without a traceparent: a root, stored as sampled, so the job's own tracer records.
        Assert.EndsWith("-01", stored, StringComparison.Ordinal);
        var logs = await _agent.AllLogsAsync(id);
        Assert.Equal($"traceparent={stored}", Assert.Single(logs, l => l.Content.StartsWith("traceparent=", StringComparison.Ordinal)).Content);
    }
}

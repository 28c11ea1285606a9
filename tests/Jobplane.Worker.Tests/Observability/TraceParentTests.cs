using System.Diagnostics;
using Jobplane.Observability;

namespace Jobplane.Worker.Tests.Observability;

/// <summary>The trace context stored with new executions when no tracer made a span for them.</summary>
public sealed class TraceParentTests
{
    [Fact]
    public void A_root_request_that_no_tracer_sampled_is_stored_as_sampled()
    {
        // What ASP.NET Core makes for a request's log scopes when nothing listens.
        using var request = new Activity("request").Start();
        Assert.False(request.Recorded);
        Assert.Equal($"00-{request.TraceId}-{request.SpanId}-01", TraceParent.ForExecutions(request));
    }

    [Theory]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00")]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
    public void A_callers_sampling_decision_is_kept(string callers)
    {
        using var request = new Activity("request").SetParentId(callers).Start();
        var stored = TraceParent.ForExecutions(request);
        Assert.Equal(request.Id, stored);
        Assert.EndsWith(callers[^3..], stored, StringComparison.Ordinal);
    }

    [Fact]
    public void Nothing_is_stored_without_an_activity() => Assert.Null(TraceParent.ForExecutions(null));
}

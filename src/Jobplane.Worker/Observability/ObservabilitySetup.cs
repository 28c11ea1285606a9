using Jobplane.Observability;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Jobplane.Worker.Observability;

/// <summary>The worker's logs, traces and metrics, wired in one place.</summary>
public static class ObservabilitySetup
{
    public static HostApplicationBuilder AddWorkerObservability(this HostApplicationBuilder builder, WorkerOptions options)
    {
        builder.Logging.AddJobplaneConsole(options.LogFormat);
        builder.Services.AddSingleton<WorkerMetrics>();
        builder.Services.AddHostedService<MetricsEndpoint>();
        builder.Services.AddJobplaneOpenTelemetry(builder.Configuration, "jobplane-worker", t => t
                .AddSource(WorkerTracing.SourceName)
                // Calls about an attempt carry its trace to the controller; log shipping would add a span per batch.
                .AddHttpClientInstrumentation(o => o.FilterHttpRequestMessage = r => r.RequestUri?.AbsolutePath.EndsWith("/logs", StringComparison.Ordinal) != true))
            .WithMetrics(m => m
                .AddMeter(WorkerMetrics.MeterName, "System.Net.Http")
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());
        return builder;
    }
}

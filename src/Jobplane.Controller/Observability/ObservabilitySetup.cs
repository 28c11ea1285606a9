using Jobplane.Observability;
using Jobplane.Store;
using Npgsql;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Jobplane.Controller.Observability;

/// <summary>The controller's logs, traces and metrics, wired in one place.</summary>
public static class ObservabilitySetup
{
    public static WebApplicationBuilder AddControllerObservability(this WebApplicationBuilder builder)
    {
        builder.Logging.AddJobplaneConsole(builder.Configuration[LogFormat.Setting]);
        builder.Services.AddSingleton<QueueStatsStore>();
        builder.Services.AddSingleton<ExecutionTelemetry>();
        builder.Services.AddSingleton<QueueGauges>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<QueueGauges>());
        builder.Services.AddJobplaneOpenTelemetry(builder.Configuration, "jobplane-controller", t => t
                .AddSource(ControllerTracing.SourceName)
                .AddAspNetCoreInstrumentation(o => o.Filter = http => !ControllerTracing.IsQuiet(http.Request.Path))
                .AddNpgsql())
            .WithMetrics(m => m
                .AddMeter(ControllerMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Npgsql")
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());
        return builder;
    }
}

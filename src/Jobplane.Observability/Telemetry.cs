using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Jobplane.Observability;

/// <summary>
/// OpenTelemetry wiring shared by the controller and the worker: the service resource, a sampler
/// that keeps background chatter out of traces, and OTLP export only when
/// OTEL_EXPORTER_OTLP_ENDPOINT is set (protocol from OTEL_EXPORTER_OTLP_PROTOCOL: grpc, the
/// default, or http/protobuf). Without an endpoint no tracer listens, so no span is made at all
/// (a span per attempt, claim and completion, each with its tags and ids, was a large share of
/// the work per job, and nothing read it); the execution's stored traceparent is passed along
/// instead, so trace ids still reach logs, the database and jobs.
/// </summary>
public static class Telemetry
{
    public const string EndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string ProtocolSetting = "OTEL_EXPORTER_OTLP_PROTOCOL";

    /// <summary>Whether OTLP export is configured.</summary>
    public static bool ExportsOtlp(IConfiguration config) => !string.IsNullOrWhiteSpace(config[EndpointSetting]);

    /// <summary>A start-up problem with the OTLP settings, or null.</summary>
    public static string? Validate(Func<string, string?> setting)
    {
        if (setting(EndpointSetting) is { Length: > 0 } endpoint && !string.IsNullOrWhiteSpace(endpoint)
            && (!Uri.TryCreate(endpoint.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
            return $"{EndpointSetting} must be an http(s) URL such as http://localhost:4317 (got '{endpoint}')";
        if (setting(ProtocolSetting) is { Length: > 0 } protocol && protocol.Trim() is not ("grpc" or "http/protobuf"))
            return $"{ProtocolSetting} must be grpc or http/protobuf (got '{protocol}')";
        return null;
    }

    /// <summary>
    /// Adds OpenTelemetry with the service resource; the caller adds its meters through the returned
    /// builder. <paramref name="tracing"/> names the caller's sources and instrumentation; it is
    /// applied, with the shared sampler, only when spans are exported.
    /// </summary>
    public static OpenTelemetryBuilder AddJobplaneOpenTelemetry(this IServiceCollection services, IConfiguration config, string serviceName,
        Action<TracerProviderBuilder> tracing)
    {
        ArgumentNullException.ThrowIfNull(tracing);
        var otel = services.AddOpenTelemetry()
            .ConfigureResource(r =>
            {
                // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (read by the SDK) win over the default name.
                if (string.IsNullOrWhiteSpace(config["OTEL_SERVICE_NAME"])) r.AddService(serviceName);
            });
        services.ConfigureOpenTelemetryMeterProvider((sp, metrics) => metrics.AddView(OnlyThisHost(sp.GetRequiredService<IMeterFactory>())));
        if (ExportsOtlp(config))
        {
            // A tracer provider is a listener: with one registered, every StartActivity of its sources
            // allocates a span even when nothing exports it. So there is none without an exporter.
            otel.WithTracing(t =>
            {
                t.SetSampler(new ParentBasedSampler(new NoBackgroundClientRoots()));
                tracing(t);
            });
            otel.UseOtlpExporter();
        }
        return otel;
    }

    /// <summary>
    /// A view that drops instruments of meters another host's <see cref="IMeterFactory"/> made.
    /// The SDK subscribes to meters by name across the whole process, so without it every
    /// in-process host (tests run many controllers and workers in one process) would also count the
    /// others' measurements under the same name. Meters made without a factory (Npgsql, the runtime)
    /// are process-wide by nature and stay.
    /// </summary>
    private static Func<Instrument, MetricStreamConfiguration?> OnlyThisHost(IMeterFactory meters) =>
        instrument => instrument.Meter.Scope is null || ReferenceEquals(instrument.Meter.Scope, meters) ? null : MetricStreamConfiguration.Drop;

    /// <summary>
    /// Root sampler: a client span with no parent is background chatter (queue maintenance SQL, a
    /// worker's heartbeats and idle long-polls) and starts no trace; everything else is recorded.
    /// Work about an execution always has a parent: the trace its submission started.
    /// </summary>
    private sealed class NoBackgroundClientRoots : Sampler
    {
        public override SamplingResult ShouldSample(in SamplingParameters parameters) =>
            new(parameters.Kind == ActivityKind.Client ? SamplingDecision.Drop : SamplingDecision.RecordAndSample);
    }
}

using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using OpenTelemetry.Metrics;

namespace Jobplane.Worker.Observability;

/// <summary>
/// Serves the worker's metrics in Prometheus text format at http://*:WORKER_METRICS_PORT/metrics
/// (default 9464; 0 turns it off) on a small listener of its own: the worker serves nothing else.
/// A port that cannot be bound (another worker on this host has it) is logged and the worker runs
/// on without the endpoint: metrics never stop jobs.
/// </summary>
public sealed partial class MetricsEndpoint(WorkerOptions options, MeterProvider meters, ILogger<MetricsEndpoint> logger) : IHostedService
{
    private WebApplication? _app;

    /// <summary>The port actually listened on (differs from the setting only in tests that ask for any port), or null.</summary>
    public int? Port { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.MetricsPort is not { } port) return;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Any, port));
        var app = builder.Build();
        app.MapPrometheusScrapingEndpoint("/metrics", meters, null, null);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            LogCannotListen(port, e.Message);
            await app.DisposeAsync();
            return;
        }
        _app = app;
        Port = new Uri(app.Urls.First()).Port;
        LogListening(Port.Value);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is null) return;
        await _app.StopAsync(cancellationToken);
        await _app.DisposeAsync();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Metrics at http://*:{Port}/metrics")]
    private partial void LogListening(int port);

    [LoggerMessage(Level = LogLevel.Error, Message = "Metrics endpoint cannot listen on port {Port} ({Reason}); running without it (set WORKER_METRICS_PORT to a free port, or 0 to turn it off)")]
    private partial void LogCannotListen(int port, string reason);
}

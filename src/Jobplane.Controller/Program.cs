using Jobplane.Api;
using Jobplane.Controller;
using Jobplane.Controller.Auth;
using Jobplane.Controller.Dashboard;
using Jobplane.Controller.Database;
using Jobplane.Controller.Endpoints;
using Jobplane.Controller.Http;
using Jobplane.Controller.Observability;
using Jobplane.Controller.Queue;
using Jobplane.Controller.RateLimiting;
using Jobplane.Store;
using Npgsql;

// jobplane-controller: the stateless control plane. Any number of replicas may serve the same
// database; none keeps job state in memory.
//   jobplane-controller                 serve (the schema must be current)
//   jobplane-controller --migrate       apply migrations, then serve
//   jobplane-controller --migrate-only  apply migrations and exit
var migrate = args.Contains("--migrate") || args.Contains("--migrate-only");
var migrateOnly = args.Contains("--migrate-only");

var builder = WebApplication.CreateBuilder(args);
// Logs (LOG_FORMAT), traces (OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set) and metrics (/metrics).
builder.AddControllerObservability();
// ASP.NET Core's own per-request lines (request starting, endpoint executing, request finished)
// would be several console lines per worker call, thousands a second under load; warnings still show.
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

builder.Services.AddSingleton(sp => ControllerOptions.FromConfiguration(sp.GetRequiredService<IConfiguration>()));
builder.Services.AddSingleton(TimeProvider.System);
// Two pools, the tenant one under a statement timeout, and the stores on them (see StoreRegistration).
builder.Services.AddJobplaneStore();
builder.Services.AddSingleton<TenantRateLimiter>();
builder.Services.AddSingleton<WorkerRegistry>();
builder.Services.AddSingleton<RecentKeys>();
builder.Services.AddSingleton<Authenticator>();
builder.Services.AddSingleton<WorkerPseudonyms>();
builder.Services.AddSingleton<AuthFailureThrottle>();
builder.Services.AddSingleton<ControllerMetrics>();
builder.Services.AddSingleton(sp =>
{
    var o = sp.GetRequiredService<ControllerOptions>();
    return new RetryBackoff(o.RetryBackoffBase, o.RetryBackoffMax);
});
builder.Services.AddSingleton<Jobplane.Controller.Logs.LogFollowers>();
builder.Services.AddSingleton<Jobplane.Controller.Images.ImageAdmission>();
builder.Services.AddSingleton<Jobplane.Controller.Endpoints.JobSubmission>();
builder.Services.AddSingleton<ReadySignal>();
builder.Services.AddSingleton<LongPollDequeue>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<ReadySignal>());
builder.Services.AddHostedService<MaintenanceService>();
builder.Services.AddHostedService<Jobplane.Controller.Schedules.ScheduleFiringService>();
builder.Services.AddSingleton<Jobplane.Controller.Webhooks.WebhookGuard>();
// The dispatcher's claims and records run on the platform pool, not under a tenant's statement timeout.
builder.Services.AddSingleton(sp => new Jobplane.Controller.Webhooks.WebhookDispatcher(
    new Jobplane.Store.Webhooks.WebhookDeliveryStore(sp.GetRequiredService<Npgsql.NpgsqlDataSource>()),
    sp.GetRequiredService<Jobplane.Controller.Webhooks.WebhookGuard>(), sp.GetRequiredService<ControllerOptions>(),
    sp.GetRequiredService<ControllerMetrics>(), sp.GetRequiredService<TimeProvider>(),
    sp.GetRequiredService<ILogger<Jobplane.Controller.Webhooks.WebhookDispatcher>>()));
builder.Services.AddHostedService(sp => sp.GetRequiredService<Jobplane.Controller.Webhooks.WebhookDispatcher>());
// The wire contracts' source-generated JSON (snake_case) also drives the OpenAPI schemas.
builder.Services.ConfigureHttpJsonOptions(o => OpenApiMetadata.UseWireJson(o.SerializerOptions));
builder.Services.AddOpenApi(o => o.AddJobplaneTransformers());
builder.Services.AddJobplaneDashboard();

builder.WebHost.ConfigureJobplaneKestrel();
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));

WebApplication app;
ControllerOptions options;
try
{
    app = builder.Build();
    options = app.Services.GetRequiredService<ControllerOptions>();
}
catch (ConfigurationException e)
{
    await Console.Error.WriteLineAsync($"jobplane-controller: {e.Message}");
    return 2;
}

var db = app.Services.GetRequiredService<NpgsqlDataSource>();
var migrator = new Migrator(db);
try
{
    if (migrate)
    {
        var applied = await migrator.MigrateAsync();
        app.Logger.LogInformation("Migrations applied: {Applied}", applied.Count == 0 ? "none (schema current)" : string.Join(", ", applied));
        if (migrateOnly) return 0;
    }
    else if (!await migrator.IsCurrentAsync())
    {
        await Console.Error.WriteLineAsync("jobplane-controller: the database schema is not current; run 'jobplane-controller --migrate' (make run-migrate)");
        return 2;
    }
}
catch (NpgsqlException e)
{
    await Console.Error.WriteLineAsync($"jobplane-controller: cannot reach the database: {e.Message}");
    return 1;
}

if (options.SystemSecret is null) app.Logger.LogWarning("SYSTEM_SECRET is not set: administrator routes (tenant management) will refuse every request");
if (options.WorkerToken is null) app.Logger.LogWarning("WORKER_TOKEN is not set: the worker API will refuse every request");

app.UseTrustedProxies(options.TenantLimits);
app.UseExceptionResponses(options);
app.UseStatusCodeResponses();
app.UseMetricsAccess(options);
app.MapJobplaneDashboard();
app.MapJobplaneApi();

await app.RunAsync();
return 0;

/// <summary>Entry point; public so that tests can host the controller in-process.</summary>
public partial class Program;

using Jobplane.Api;
using Jobplane.Controller;
using Jobplane.Controller.Auth;
using Jobplane.Controller.Database;
using Jobplane.Controller.Endpoints;
using Jobplane.Controller.Http;
using Jobplane.Controller.Observability;
using Jobplane.Controller.Queue;
using Jobplane.Controller.RateLimiting;
using Jobplane.Store;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Server.Kestrel.Core;
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
// Two pools (see DatabasePools): the unkeyed one for workers and the controller itself, the keyed one
// for tenants' requests, under a statement timeout.
builder.Services.AddSingleton(sp => DatabasePools.BuildPlatform(sp.GetRequiredService<ControllerOptions>()));
builder.Services.AddKeyedSingleton(DatabasePools.Tenant, (sp, _) => DatabasePools.BuildTenant(sp.GetRequiredService<ControllerOptions>()));
builder.Services.AddSingleton(sp => new TenantStore(sp.GetRequiredKeyedService<NpgsqlDataSource>(DatabasePools.Tenant)));
builder.Services.AddSingleton<WorkerCredentialStore>();
builder.Services.AddSingleton(sp => new AuditLog(sp.GetRequiredKeyedService<NpgsqlDataSource>(DatabasePools.Tenant)));
builder.Services.AddSingleton(sp => new RateBucketStore(sp.GetRequiredKeyedService<NpgsqlDataSource>(DatabasePools.Tenant)));
builder.Services.AddSingleton<TenantRateLimiter>();
builder.Services.AddSingleton(sp => new JobStore(sp.GetRequiredKeyedService<NpgsqlDataSource>(DatabasePools.Tenant)));
builder.Services.AddSingleton(sp => new ExecutionStore(sp.GetRequiredKeyedService<NpgsqlDataSource>(DatabasePools.Tenant)));
builder.Services.AddSingleton<WorkerStore>();
builder.Services.AddSingleton<Jobplane.Controller.Queue.WorkerRegistry>();
builder.Services.AddSingleton<QueueStore>();
builder.Services.AddSingleton<RetentionStore>();
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
builder.Services.AddSingleton<ReadySignal>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<ReadySignal>());
builder.Services.AddHostedService<MaintenanceService>();
// The wire contracts' source-generated JSON (snake_case) also drives the OpenAPI schemas.
builder.Services.ConfigureHttpJsonOptions(o => OpenApiMetadata.UseWireJson(o.SerializerOptions));
builder.Services.AddOpenApi(o => o.AddJobplaneTransformers());

builder.WebHost.ConfigureKestrel((ctx, kestrel) =>
{
    var port = int.TryParse(ctx.Configuration["PORT"], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var p) ? p : Wire.DefaultPort;
    if (string.IsNullOrEmpty(ctx.Configuration["ASPNETCORE_URLS"]) && string.IsNullOrEmpty(ctx.Configuration["urls"]))
    {
        kestrel.ListenAnyIP(port);
        // The metrics port (off unless set): /metrics without a credential, for a private network.
        if (int.TryParse(ctx.Configuration["METRICS_PORT"], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var metricsPort) && metricsPort > 0)
            kestrel.ListenAnyIP(metricsPort);
    }
    kestrel.Limits.MaxRequestBodySize = Limits.MaxRequestBodyBytes;
    kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(15);
    kestrel.Limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 1024, gracePeriod: TimeSpan.FromSeconds(10));
});
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));

WebApplication app;
ControllerOptions options;
try
{
    app = builder.Build();
    options = app.Services.GetRequiredService<ControllerOptions>();
}
catch (InvalidOperationException e) when (e.Message.StartsWith("invalid configuration", StringComparison.Ordinal))
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

// Behind a proxy every request comes from the proxy's address: the client's is in X-Forwarded-For,
// which anyone can write. It is believed only from the proxies the operator names (TRUSTED_PROXIES),
// walking the header from the right and stopping at the first address that is not one of them.
if (options.TenantLimits.TrustedProxies.Count > 0)
{
    var forwarded = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor, ForwardLimit = null };
    forwarded.KnownProxies.Clear();
    forwarded.KnownIPNetworks.Clear();
    foreach (var network in options.TenantLimits.TrustedProxies) forwarded.KnownIPNetworks.Add(network);
    app.UseForwardedHeaders(forwarded);
}

app.UseExceptionHandler(error => error.Run(ctx =>
{
    // Never leak internals (stack traces, SQL) to clients; the log has the details. A database that
    // cannot be reached is the platform's temporary condition, not a fault of the request: 503, so
    // clients retry (safely, with an Idempotency-Key).
    var failure = ctx.Features.Get<Microsoft.AspNetCore.Diagnostics.IExceptionHandlerFeature>()?.Error;
    if (failure is NpgsqlException { IsTransient: true } or TimeoutException ||
        failure is NpgsqlException { InnerException: System.Net.Sockets.SocketException or IOException or TimeoutException } ||
        failure is PostgresException { SqlState: "57P01" or "57P02" or "57P03" or "53300" })
    {
        ctx.Response.Headers.RetryAfter = "1";
        return ApiResults.WriteErrorAsync(ctx, 503, ErrorCodes.Unavailable, "the database is unavailable; retry shortly");
    }
    // A tenant request's statement stopped by the statement timeout: the database is busy or the
    // request asks for too much at once. Nothing was written (the statement failed as a whole).
    if (failure is PostgresException { SqlState: "57014" })
    {
        ctx.Response.Headers.RetryAfter = "5";
        return ApiResults.WriteErrorAsync(ctx, 503, ErrorCodes.QueryTimeout,
            $"the request took longer than the {options.TenantStatementTimeout.TotalSeconds:0.#} s a request may use the database; narrow it (filters, smaller pages) or retry later");
    }
    // Input the validators let through but PostgreSQL cannot store (text that is not valid UTF-8):
    // the same request can never succeed, so it is the request's fault, not a server error a
    // client would retry forever. Nothing was written (the statement failed).
    if (failure is not null && StoreErrors.IsUnstorableValue(failure))
        return ApiResults.WriteErrorAsync(ctx, 400, ErrorCodes.UnstorableText, StoreErrors.DescribeUnstorable(failure));
    return ApiResults.WriteErrorAsync(ctx, 500, ErrorCodes.Internal, "internal error");
}));
app.UseStatusCodePages(ctx => ctx.HttpContext.Response.StatusCode switch
{
    405 => ApiResults.WriteErrorAsync(ctx.HttpContext, 405, "method_not_allowed", $"method {ctx.HttpContext.Request.Method} is not allowed on {ctx.HttpContext.Request.Path}"),
    413 => ApiResults.WriteErrorAsync(ctx.HttpContext, 413, ErrorCodes.PayloadTooLarge, "request body too large"),
    var s => ApiResults.WriteErrorAsync(ctx.HttpContext, s, s == 404 ? ErrorCodes.NotFound : "error", s == 404 ? "not found" : "request failed"),
});

app.UseMetricsAccess(options);
app.MapOpenApi(OpenApiMetadata.DocumentPath);
app.MapHealthEndpoints();
// The metrics name every tenant: a credential on the API port (see MetricsAccess).
app.MapPrometheusScrapingEndpoint("/metrics");
app.MapTenantEndpoints();
app.MapJobEndpoints();
app.MapExecutionEndpoints();
app.MapWorkerEndpoints();
app.MapApiKeyEndpoints();
app.MapAdminEndpoints();
app.MapFallback((HttpContext ctx) => ApiResults.Error(404, ErrorCodes.NotFound, $"no route {ctx.Request.Method} {ctx.Request.Path}"));

await app.RunAsync();
return 0;

/// <summary>Entry point; public so that tests can host the controller in-process.</summary>
public partial class Program;

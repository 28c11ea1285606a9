using Jobplane.Store.Dashboard;
using Microsoft.AspNetCore.Mvc;

namespace Jobplane.Controller.Dashboard;

/// <summary>
/// The web dashboard under /ui: Razor Pages rendered on the server (every page reads without
/// JavaScript; a small script adds live updates over Server-Sent Events), in this process, on the
/// same stores and rules as the API. Razor Pages because each page is one GET and a few POST
/// handlers, forms post back to the page that shows them, and Razor encodes everything it writes
/// unless told otherwise; no client framework and no separate build.
/// </summary>
public static class DashboardSetup
{
    public static IServiceCollection AddJobplaneDashboard(this IServiceCollection services)
    {
        services.AddSingleton<DashboardAssets>();
        services.AddSingleton<DashboardSessions>();
        services.AddSingleton<DashboardPageFilter>();
        // What the dashboard reads for a viewer runs on the tenant pool, under its statement timeout.
        services.AddSingleton(sp => new SessionStore(TenantPool(sp)));
        services.AddSingleton(sp => new ActivityQueries(TenantPool(sp)));
        services.AddSingleton<ActivityCache>();
        services.AddSingleton(sp => new JobQueries(TenantPool(sp)));
        services.AddSingleton(sp => new ScheduleQueries(TenantPool(sp)));
        services.AddSingleton(sp => new DeadLetterQueries(TenantPool(sp)));
        services.AddSingleton(sp => new WorkerQueries(TenantPool(sp)));
        services.AddSingleton(sp => new AdminQueries(TenantPool(sp)));
        services.AddSingleton(sp => new ExecutionQueries(TenantPool(sp)));
        services.AddSingleton<ExecutionBulkActions>();
        services.AddRazorPages(o =>
        {
            o.RootDirectory = "/Dashboard/Pages";
            // Forms carry the session's own synchronizer token (DashboardPageFilter), checked on every
            // replica from the session row; ASP.NET Core's token would need a key ring shared by replicas.
            o.Conventions.ConfigureFilter(new IgnoreAntiforgeryTokenAttribute());
            o.Conventions.ConfigureFilter(new ServiceFilterAttribute(typeof(DashboardPageFilter)));
        });
        return services;
    }

    private static Npgsql.NpgsqlDataSource TenantPool(IServiceProvider sp) =>
        sp.GetRequiredKeyedService<Npgsql.NpgsqlDataSource>(Database.StoreRegistration.TenantPool);

    public static void MapJobplaneDashboard(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<ControllerOptions>();
        if (!options.Dashboard.Enabled) return;
        app.Use(async (http, next) =>
        {
            if (http.Request.Path.StartsWithSegments("/ui"))
            {
                var h = http.Response.Headers;
                // Nothing inline, nothing from elsewhere: a job name or log line that got past encoding still could not run.
                h.ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
                    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
                h.XContentTypeOptions = "nosniff";
                h.XFrameOptions = "DENY";
                h["Referrer-Policy"] = "same-origin";
                if (!http.Request.Path.StartsWithSegments("/ui/assets")) h.CacheControl = "no-store";
                // The server's own time for the page (the benchmark reads it; browsers show it in their tools).
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                http.Response.OnStarting(() =>
                {
                    var ms = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    http.Response.Headers["Server-Timing"] = "app;dur=" + ms.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
                    return Task.CompletedTask;
                });
            }
            await next();
        });
        app.Services.GetRequiredService<DashboardAssets>().Map(app);
        app.MapRazorPages();
        app.MapExecutionLogStream();
        // An address under /ui that is no page: the dashboard's 404 page, not the API's JSON.
        app.MapFallback("/ui/{**rest}", http =>
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            return DashboardStatusPage.WriteAsync(http);
        });
    }
}

using Jobplane.Api;
using Jobplane.Controller.Http;
using Npgsql;

namespace Jobplane.Controller.Endpoints;

/// <summary>Liveness (the process serves requests) and readiness (the database answers).</summary>
public static class HealthEndpoints
{
    public static void MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet(Routes.Healthz, Live)
            .WithTags("Health")
            .Doc("getHealth", "Liveness")
            .Returns<HealthResponse>();

        app.MapGet(Routes.Readyz, ReadyAsync)
            .WithTags("Health")
            .Doc("getReadiness", "Readiness", "Ready when the database answers.")
            .Returns<HealthResponse>()
            .Errors(503);
    }

    private static IResult Live() => Results.Json(new HealthResponse("ok"), JobplaneJsonContext.Default.HealthResponse);

    private static async Task<IResult> ReadyAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            await using var cmd = db.CreateCommand("select 1");
            await cmd.ExecuteScalarAsync(timeout.Token);
            return Results.Json(new HealthResponse("ready"), JobplaneJsonContext.Default.HealthResponse);
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            return ApiResults.Error(503, ErrorCodes.Unavailable, "database unreachable");
        }
    }
}

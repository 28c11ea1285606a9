using Jobplane.Api;
using Jobplane.Store;
using Microsoft.AspNetCore.Diagnostics;
using Npgsql;

namespace Jobplane.Controller.Http;

/// <summary>
/// What a request that threw answers. Never internals (stack traces, SQL): the log has the details.
/// </summary>
public static class ExceptionResponses
{
    public static IApplicationBuilder UseExceptionResponses(this IApplicationBuilder app, ControllerOptions options) =>
        app.UseExceptionHandler(error => error.Run(ctx => WriteAsync(ctx, options)));

    private static Task WriteAsync(HttpContext ctx, ControllerOptions options)
    {
        var failure = ctx.Features.Get<IExceptionHandlerFeature>()?.Error;
        // A database that cannot be reached is the platform's temporary condition, not a fault of the
        // request: 503, so clients retry (safely, with an Idempotency-Key).
        if (IsDatabaseUnavailable(failure))
        {
            ctx.Response.Headers.RetryAfter = "1";
            return ApiResults.WriteErrorAsync(ctx, 503, ErrorCodes.Unavailable, "the database is unavailable; retry shortly");
        }
        // A tenant request's statement stopped by the statement timeout: the database is busy or the
        // request asks for too much at once. Nothing was written (the statement failed as a whole).
        if (failure is PostgresException { SqlState: PostgresErrorCodes.QueryCanceled })
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
    }

    /// <summary>
    /// Npgsql's own classification: a broken connection (socket, I/O, timeout underneath), a server
    /// that cannot take the connection now or has too many. It leaves out a server shutting down
    /// (57P01 admin_shutdown, 57P02 crash_shutdown), which ends every session of a restart or
    /// failover and is over as soon as the server is back: those are added here.
    /// </summary>
    public static bool IsDatabaseUnavailable(Exception? failure) =>
        failure is NpgsqlException { IsTransient: true } or TimeoutException
            or PostgresException { SqlState: PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown };
}

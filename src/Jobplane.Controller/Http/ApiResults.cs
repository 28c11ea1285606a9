using Jobplane.Api;

namespace Jobplane.Controller.Http;

/// <summary>Every error leaves the controller as JSON {error, code}; the status gives the class.</summary>
public static class ApiResults
{
    public static IResult Error(int status, string code, string message) =>
        Results.Json(new ApiError(message, code), JobplaneJsonContext.Default.ApiError, statusCode: status);

    public static IResult BadRequest(string message) => Error(400, ErrorCodes.InvalidArgument, message);
    public static IResult NotFound(string what) => Error(404, ErrorCodes.NotFound, $"{what} not found");
    public static IResult Conflict(string message) => Error(409, ErrorCodes.Conflict, message);
    public static IResult LeaseLost(Guid executionId) => Error(409, ErrorCodes.LeaseLost,
        $"execution {executionId}: this lease token no longer holds the execution (the lease expired and was rescued, or the attempt already ended)");

    public static async Task WriteErrorAsync(HttpContext ctx, int status, string code, string message)
    {
        ctx.Response.StatusCode = status;
        await ctx.Response.WriteAsJsonAsync(new ApiError(message, code), JobplaneJsonContext.Default.ApiError);
    }
}

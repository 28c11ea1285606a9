using System.Text.Json;
using Docker.DotNet;

namespace Jobplane.Worker.Runtimes.Docker;

/// <summary>What the engine said, in its own words, for error messages a user reads.</summary>
internal static class DockerApiErrors
{
    /// <summary>The "message" of the engine's JSON error body, or the body itself.</summary>
    public static string MessageOf(DockerApiException exception)
    {
        var body = exception.ResponseBody?.Trim();
        if (string.IsNullOrEmpty(body)) return $"the Docker Engine answered {(int)exception.StatusCode} {exception.StatusCode}";
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object &&
                document.RootElement.TryGetProperty("message", out var message) &&
                message.ValueKind == JsonValueKind.String)
            {
                return message.GetString()!.Trim();
            }
        }
        catch (JsonException)
        {
            // Not JSON: the body is the message.
        }
        return body;
    }
}

using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Jobplane.Api;

namespace Jobplane.Controller.Http;

/// <summary>
/// Reads a request body strictly (unknown fields, wrong types and trailing garbage are errors) and
/// turns every failure into a 400 naming the field, instead of the framework's default responses.
/// </summary>
public static class JsonBody
{
    public readonly record struct Read<T>(T? Value, IResult? Error);

    /// <summary>
    /// Reads at most <paramref name="maxBytes"/> (the route's documented limit): a larger body is a
    /// 413 naming the limit, before anything is parsed.
    /// </summary>
    public static async Task<Read<T>> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> type, long maxBytes = Limits.DefaultBodyBytes,
        bool optional = false)
        where T : class
    {
        if (request.ContentLength > maxBytes) return new Read<T>(null, TooLarge(maxBytes));
        if (request.ContentType is { } ct && !IsJson(ct))
        {
            return new Read<T>(null, ApiResults.Error(415, ErrorCodes.InvalidArgument, $"unsupported content type '{ct}': send application/json"));
        }
        // Read whole (up to the limit) into a pooled buffer: that lets an empty optional body be
        // told apart from a malformed one, and a worker's claim and report calls (thousands a second)
        // no longer each allocate a read chunk, a growing copy and the final array. A chunked body
        // has no Content-Length, so the limit is checked as it arrives.
        var limit = (int)Math.Min(maxBytes, Array.MaxLength - 1);
        // One more than the body: its end is seen without growing the buffer.
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Max(request.ContentLength + 1 ?? MinRead, MinRead), limit + 1L));
        var length = 0;
        try
        {
            try
            {
                while (true)
                {
                    if (length == buffer.Length)
                    {
                        var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(2L * buffer.Length, limit + 1L));
                        buffer.AsSpan(0, length).CopyTo(larger);
                        Return(buffer, length);
                        buffer = larger;
                    }
                    var n = await request.Body.ReadAsync(buffer.AsMemory(length), request.HttpContext.RequestAborted);
                    if (n == 0) break;
                    length += n;
                    if (length > maxBytes) return new Read<T>(null, TooLarge(maxBytes));
                }
            }
            catch (BadHttpRequestException e) when (e.StatusCode == 413)
            {
                return new Read<T>(null, TooLarge(maxBytes));
            }
            return Parse(buffer.AsSpan(0, length), type, optional);
        }
        finally
        {
            Return(buffer, length);
        }
    }

    // The first buffer for a body of unknown length; it doubles as the body arrives.
    private const int MinRead = 4096;

    // Bodies carry lease tokens and tenants' data: the pool gets the buffer back wiped.
    private static void Return(byte[] buffer, int used)
    {
        buffer.AsSpan(0, Math.Min(used, buffer.Length)).Clear();
        ArrayPool<byte>.Shared.Return(buffer);
    }

    /// <summary>Parses a body read whole. Nothing parsed keeps a reference into <paramref name="body"/> (a JsonElement copies its bytes).</summary>
    private static Read<T> Parse<T>(ReadOnlySpan<byte> body, JsonTypeInfo<T> type, bool optional)
        where T : class
    {
        if (body.Trim(" \t\r\n"u8).IsEmpty)
        {
            return optional ? new Read<T>(null, null) : new Read<T>(null, ApiResults.Error(400, ErrorCodes.InvalidJson, "a JSON request body is required"));
        }
        try
        {
            var value = JsonSerializer.Deserialize(body, type);
            if (value is null)
            {
                return optional ? new Read<T>(null, null) : new Read<T>(null, ApiResults.Error(400, ErrorCodes.InvalidJson, "the request body must be a JSON object, not null"));
            }
            return new Read<T>(value, null);
        }
        catch (InvalidTimestampException e)
        {
            // Its own code: a client can tell "add an offset" from a malformed body.
            var field = string.IsNullOrEmpty(e.Path) ? "a timestamp" : e.Path.TrimStart('$', '.');
            var message = e.Message;
            var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
            if (cut > 0) message = message[..cut];
            return new Read<T>(null, ApiResults.Error(400, ErrorCodes.InvalidTimestamp, $"{field}: {message}"));
        }
        catch (JsonException e)
        {
            return new Read<T>(null, ApiResults.Error(400, ErrorCodes.InvalidJson, Describe(e)));
        }
    }

    // application/json or a structured-syntax JSON type (application/problem+json), parameters allowed.
    private static bool IsJson(string contentType)
    {
        if (!Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media)) return false;
        var type = media.MediaType.Value ?? "";
        return type.Equals("application/json", StringComparison.OrdinalIgnoreCase) ||
            (type.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && type.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
    }

    private static IResult TooLarge(long maxBytes) => ApiResults.Error(413, ErrorCodes.PayloadTooLarge,
        $"request body too large: this route accepts at most {Limits.Describe(maxBytes)}");

    private static string Describe(JsonException e)
    {
        // The serializer's message names the path ($.priority) and the problem; keep that, drop
        // the type names of our internals.
        var path = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? null : e.Path;
        var message = e.Message;
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut > 0) message = message[..cut];
        if (message.Contains("Jobplane.", StringComparison.Ordinal) || message.Contains("System.", StringComparison.Ordinal))
        {
            message = message.Contains("could not be mapped", StringComparison.Ordinal) ? "unknown field" : "wrong type or malformed value";
        }
        return path is null ? $"invalid JSON body: {message}" : $"invalid JSON body at {path}: {message}";
    }
}

using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Jobplane.Api;

namespace Jobplane.Client;

/// <summary>
/// One HTTP exchange of <see cref="JobplaneClient"/>: headers, the per-request bound, and how a
/// refused or unreadable answer becomes an <see cref="ApiException"/> or another client exception.
/// </summary>
public sealed partial class JobplaneClient
{
    private async Task<ApiResponse<T>> SendAsync<T>(HttpMethod method, string path, HttpContent? content, JsonTypeInfo<T> type, CancellationToken ct,
        IReadOnlyList<KeyValuePair<string, string>>? headers = null)
    {
        using var response = await SendRawAsync(method, path, content, HttpCompletionOption.ResponseContentRead, null, ct, headers);
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        var next = response.Headers.TryGetValues(Wire.NextCursorHeader, out var values) ? values.FirstOrDefault() : null;
        return Decode(bytes, type, $"{method} {path}") with { NextCursor = next };
    }

    /// <summary>For answers without a body (204): success is all there is to know.</summary>
    private async Task SendNoContentAsync(HttpMethod method, string path, HttpContent? content, CancellationToken ct)
    {
        using var response = await SendRawAsync(method, path, content, HttpCompletionOption.ResponseContentRead, null, ct);
    }

    /// <summary>Sends one request; returns only 2xx responses, maps everything else to a jobctl exception.</summary>
    private async Task<HttpResponseMessage> SendRawAsync(HttpMethod method, string path, HttpContent? content,
        HttpCompletionOption completion, string? accept, CancellationToken ct, IReadOnlyList<KeyValuePair<string, string>>? headers = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(BaseUrl, path.TrimStart('/'))) { Content = content };
        // Callers validate these values; without validation they go out byte for byte, never reformatted.
        foreach (var (name, value) in headers ?? [])
            request.Headers.TryAddWithoutValidation(name, value);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept ?? "application/json"));
        request.Headers.UserAgent.Add(userAgent);
        if (token is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);

        // The timeout covers sending and (for buffered calls) reading the body; for a stream it covers
        // only the headers, and is disposed (not cancelled) before the caller starts reading.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(RequestTimeout);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, completion, timeout.Token);
        }
        catch (HttpRequestException e)
        {
            throw new ControllerUnreachableException(BaseUrl, Reason(e), e);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new ControllerUnreachableException(BaseUrl, $"no answer within {RequestTimeout.TotalSeconds:0} s", e);
        }

        if (response.IsSuccessStatusCode)
            return response;
        using (response)
            throw await ErrorFromAsync(response, ct);
    }

    private static async Task<ApiException> ErrorFromAsync(HttpResponseMessage response, CancellationToken ct)
    {
        string body;
        try
        {
            body = await response.Content.ReadAsStringAsync(ct);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            body = "";
        }
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (body.Length > 0 && mediaType is not null && mediaType.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var error = JsonSerializer.Deserialize(body, ClientJson.Context.ApiError);
                if (error?.Error is not null)
                    return new ApiException(response.StatusCode, response.ReasonPhrase, error.Error, error.Code, null, RetryAfter(response));
            }
            catch (JsonException)
            {
                // Not our error shape: fall through to the status line.
            }
        }
        var text = mediaType is "text/plain" ? body : null;
        return new ApiException(response.StatusCode, response.ReasonPhrase, null, null, text, RetryAfter(response));
    }

    /// <summary>Retry-After as seconds or as an HTTP date (RFC 9110); a date in the past means "now".</summary>
    private static TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - TimeProvider.System.GetUtcNow() is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };

    private static ApiResponse<T> Decode<T>(ReadOnlySpan<byte> bytes, JsonTypeInfo<T> type, string what)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes.ToArray());
            var value = document.RootElement.Deserialize(type)
                ?? throw new UnexpectedResponseException($"unexpected response from controller ({what}): null body");
            return new ApiResponse<T>(value, document.RootElement.Clone());
        }
        catch (JsonException e)
        {
            throw new UnexpectedResponseException($"unexpected response from controller ({what}): {e.Message}", e);
        }
    }

    private static ByteArrayContent Body<T>(T value, JsonTypeInfo<T> type)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(value, type));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        return content;
    }

    private static string Query(params (string Name, string? Value)[] parameters)
    {
        var builder = new StringBuilder();
        foreach (var (name, value) in parameters)
        {
            if (value is null) continue;
            builder.Append(builder.Length == 0 ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
        }
        return builder.ToString();
    }

    private static string? Str(long? value) => value?.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The most specific human reason: "Connection refused" rather than a wrapper's generic text.</summary>
    private static string Reason(HttpRequestException e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException socket)
                return socket.Message;
        }
        return e.InnerException is { } cause ? $"{e.Message} ({cause.Message})" : e.Message;
    }
}

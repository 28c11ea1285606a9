using System.Net.Http.Headers;
using System.Text.Json;
using Jobplane.Api;

namespace Jobplane.SystemTests;

/// <summary>Direct HTTP reads of the public API, for polling state between steps.</summary>
public sealed class Api(string url, string token) : IDisposable
{
    public string BaseUrl { get; } = url;

    private readonly HttpClient _http = new()
    {
        BaseAddress = new Uri(url),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", token) },
    };

    public HttpClient Http => _http;

    /// <summary>GET a path and parse the JSON answer (failing on a non-2xx status).</summary>
    public async Task<JsonElement> GetJsonAsync(string path)
    {
        var body = await _http.GetStringAsync(path);
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.Clone();
    }

    /// <summary>POST a raw JSON body and parse the JSON answer (failing on a non-2xx status).</summary>
    public async Task<JsonElement> PostJsonAsync(string path, string json)
    {
        using var response = await _http.PostAsync(path, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path}: {(int)response.StatusCode} {body}");
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.Clone();
    }

    public async Task<JsonElement> ExecutionAsync(string id)
    {
        var body = await _http.GetStringAsync(Routes.Of(Routes.Execution, id));
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.Clone();
    }

    /// <summary>Polls until the execution's status satisfies <paramref name="done"/>, or fails the test after the timeout.</summary>
    public async Task<JsonElement> WaitForAsync(string id, Func<string, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        JsonElement e;
        do
        {
            e = await ExecutionAsync(id);
            if (done(e.GetProperty("status").GetString()!)) return e;
            await Task.Delay(100);
        } while (DateTime.UtcNow < deadline);
        throw new TimeoutException($"execution {id} still {e.GetProperty("status")} after {timeout}: {e}");
    }

    public Task<JsonElement> WaitForStatusAsync(string id, string status, TimeSpan timeout) =>
        WaitForAsync(id, s => s == status, timeout);

    public void Dispose() => _http.Dispose();
}

using System.Globalization;
using System.Net.Http.Headers;

namespace Jobplane.Bench;

/// <summary>
/// Bytes a platform process has allocated on the managed heap since it started, read from its
/// Prometheus /metrics (the runtime instrumentation both the controller and the worker export), so
/// that allocations per job can be reported without attaching a diagnostics tool to the process.
/// </summary>
public static class RuntimeAllocations
{
    // The name depends on the runtime instrumentation's version: the .NET runtime's own meter
    // (dotnet.gc.heap.total_allocated) or the instrumentation's older one.
    private static readonly string[] Names =
        ["dotnet_gc_heap_total_allocated_bytes_total", "process_runtime_dotnet_gc_allocations_size_bytes_total"];

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>The process's allocated bytes so far, or null when its /metrics cannot be read or has no such figure.</summary>
    public static async Task<double?> ReadAsync(Uri metrics, string? bearer = null)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, metrics);
            if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            using var response = await Http.SendAsync(request);
            if (!response.IsSuccessStatusCode) return null;
            foreach (var line in (await response.Content.ReadAsStringAsync()).Split('\n'))
            {
                foreach (var name in Names)
                {
                    if (!line.StartsWith(name, StringComparison.Ordinal) || line.Length == name.Length || line[name.Length] is not (' ' or '{')) continue;
                    var fields = line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ');
                    if (double.TryParse(fields[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var bytes)) return bytes;
                }
            }
            return null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }
}

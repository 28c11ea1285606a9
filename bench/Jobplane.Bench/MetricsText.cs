using System.Globalization;
using System.Net.Http.Headers;

namespace Jobplane.Bench;

/// <summary>One figure of a platform process's Prometheus /metrics: the sum of every series of a name (all its label sets).</summary>
public static class MetricsText
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>The sum over the series named exactly <paramref name="name"/>; null when /metrics cannot be read or has none.</summary>
    public static async Task<double?> SumAsync(Uri metrics, string name, string? bearer = null)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, metrics);
            if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            using var response = await Http.SendAsync(request);
            if (!response.IsSuccessStatusCode) return null;
            double? sum = null;
            foreach (var line in (await response.Content.ReadAsStringAsync()).Split('\n'))
            {
                if (!line.StartsWith(name, StringComparison.Ordinal) || line.Length == name.Length || line[name.Length] is not (' ' or '{')) continue;
                // "name{labels} value [timestamp]": the value follows the labels (or the name).
                var rest = line[name.Length..];
                var fields = rest[(rest.LastIndexOf('}') + 1)..].Trim().Split(' ');
                if (double.TryParse(fields[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var value)) sum = (sum ?? 0) + value;
            }
            return sum;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }
}

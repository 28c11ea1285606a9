using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Jobplane.SystemTests;

/// <summary>
/// A real Prometheus server (Debian's package, installed by scripts/ensure-prometheus.sh when
/// missing) with its own configuration, storage directory and port, scraping the given targets.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("jobplane-prometheus-").FullName;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private ChildProcess? _process;

    public int Port { get; } = FreePort.Next();
    public string Url => $"http://127.0.0.1:{Port}";
    public string Output => _process?.Output ?? "";

    /// <summary>Starts Prometheus scraping each job's targets (host:port) every second.</summary>
    public async Task StartAsync(IReadOnlyDictionary<string, string> targets)
    {
        EnsureInstalled();
        var config = Path.Combine(_dir, "prometheus.yml");
        var jobs = string.Join("", targets.Select(t => $"""
              - job_name: {t.Key}
                static_configs:
                  - targets: ['{t.Value}']

            """));
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
            {jobs}
            """);
        _process = ChildProcess.Start(new ChildProcessStart("prometheus", "prometheus")
        {
            Arguments = [$"--config.file={config}", $"--storage.tsdb.path={Path.Combine(_dir, "data")}",
                $"--web.listen-address=127.0.0.1:{Port}", "--log.level=warn"],
        });
        await _process.WaitForHttpAsync(new Uri($"{Url}/-/ready"), TimeSpan.FromSeconds(30));
    }

    /// <summary>GET a Prometheus HTTP API path; returns the "data" member.</summary>
    public async Task<JsonElement> ApiAsync(string pathAndQuery)
    {
        using var doc = JsonDocument.Parse(await _http.GetStringAsync($"{Url}{pathAndQuery}"));
        Assert.Equal("success", doc.RootElement.GetProperty("status").GetString());
        return doc.RootElement.GetProperty("data").Clone();
    }

    /// <summary>The value of an instant query's first sample, or null when the result is empty.</summary>
    public async Task<double?> QueryAsync(string promql)
    {
        var data = await ApiAsync($"/api/v1/query?query={Uri.EscapeDataString(promql)}");
        var result = data.GetProperty("result");
        if (result.GetArrayLength() == 0) return null;
        return double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null) await _process.DisposeAsync();
        _http.Dispose();
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }

    // Tests never skip: a machine without Prometheus gets it from the project's own script.
    public static void EnsureInstalled()
    {
        if (OnPath("prometheus")) return;
        var script = Path.Combine(RepositoryRoot.Find(), "scripts", "ensure-prometheus.sh");
        using var p = Process.Start(new ProcessStartInfo(script) { UseShellExecute = false })!;
        p.WaitForExit();
        if (p.ExitCode != 0 || !OnPath("prometheus")) throw new InvalidOperationException($"{script} could not install prometheus (exit {p.ExitCode})");
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, program)));
}

using System.Diagnostics;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Jobplane.Testing;

/// <summary>
/// The real Docker Engine tests run containers on: JOBPLANE_TEST_DOCKER_HOST (set by
/// scripts/test.sh), or else the private engine that scripts/ensure-docker.sh installs, starts and
/// stocks with the test image, so that a plain `dotnet test` never skips a Docker test.
/// </summary>
public static class TestDocker
{
    /// <summary>A busybox image built locally by scripts/ensure-docker.sh: no registry is needed.</summary>
    public const string Image = "jobplane-test/busybox:1";
    /// <summary>What the test image's own CMD prints.</summary>
    public const string ImageDefaultOutput = "hello from the image default command";

    private static readonly Lazy<string> HostValue = new(Resolve, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The engine's DOCKER_HOST, e.g. unix:///run/jobplane-docker.sock.</summary>
    public static string Host => HostValue.Value;

    public static DockerClient Client() => new DockerClientBuilder().WithEndpoint(new Uri(Host)).Build();

    /// <summary>Every container, running or not, that carries <paramref name="label"/>=<paramref name="value"/>.</summary>
    public static async Task<IList<ContainerListResponse>> ContainersLabelledAsync(string label, string value)
    {
        using var client = Client();
        return await client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [$"{label}={value}"] = true },
            },
        });
    }

    private static string Resolve()
    {
        var configured = Environment.GetEnvironmentVariable("JOBPLANE_TEST_DOCKER_HOST");
        if (!string.IsNullOrWhiteSpace(configured)) return configured.Trim();

        var root = AppContext.BaseDirectory;
        while (root is not null && !File.Exists(Path.Combine(root, "Jobplane.slnx"))) root = Path.GetDirectoryName(root);
        if (root is null) throw new InvalidOperationException("JOBPLANE_TEST_DOCKER_HOST is not set and the repository root (Jobplane.slnx) was not found");
        var script = Path.Combine(root, "scripts", "ensure-docker.sh");
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = root,
        };
        start.ArgumentList.Add(script);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{script} did not finish within 10 minutes");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{script} failed ({process.ExitCode}):\n{stderr.Result}");
        var host = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        return host is { Length: > 0 } ? host : throw new InvalidOperationException($"{script} printed no DOCKER_HOST:\n{stderr.Result}");
    }
}

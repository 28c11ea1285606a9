using System.Diagnostics;

namespace Jobplane.ImagesTests;

/// <summary>
/// One container of the image under test, started detached on the test engine. Disposing it removes
/// it (and its anonymous volumes) whatever its state, so no test leaves a container behind.
/// </summary>
public sealed class Container : IAsyncDisposable
{
    private Container(string name) => Name = name;

    public string Name { get; }

    /// <summary>
    /// docker run -d: <paramref name="options"/> go before the image (--read-only, --network host, ...),
    /// <paramref name="arguments"/> after it; <paramref name="entrypoint"/> replaces the image's
    /// (the controller) when given.
    /// </summary>
    public static async Task<Container> StartAsync(
        string role,
        IReadOnlyList<string> options,
        IReadOnlyDictionary<string, string> environment,
        string? entrypoint = null,
        params string[] arguments)
    {
        await ImageUnderTest.RequireAsync();
        var container = new Container($"jobplane-images-test-{role}-{Guid.NewGuid():N}"[..48]);
        // Locked down as deploy/docker-compose.yml runs it: no capability, no privilege gain.
        List<string> args =
        [
            "run", "--detach", "--name", container.Name, "--label", DockerCli.Label,
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges", .. options,
        ];
        foreach (var (key, value) in environment) args.AddRange(["--env", $"{key}={value}"]);
        if (entrypoint is not null) args.AddRange(["--entrypoint", entrypoint]);
        args.Add(ImageUnderTest.Name);
        args.AddRange(arguments);
        var run = await DockerCli.RunAsync([.. args]);
        if (run.ExitCode != 0)
        {
            await container.DisposeAsync();
            throw new InvalidOperationException($"docker run of {role} failed ({run.ExitCode}):\n{run.Output}");
        }
        return container;
    }

    /// <summary>Its output so far, stdout and stderr together.</summary>
    public async Task<string> LogsAsync() => (await DockerCli.RunAsync("logs", Name)).Output;

    public async Task<bool> IsRunningAsync() =>
        (await DockerCli.RunAsync("inspect", "--format", "{{.State.Running}}", Name)).Output.Trim() == "true";

    /// <summary>A value of `docker inspect` (a Go template such as {{.Config.User}}).</summary>
    public async Task<string> InspectAsync(string template) =>
        (await DockerCli.CheckedAsync("inspect", "--format", template, Name)).Trim();

    /// <summary>
    /// Waits until <paramref name="url"/> answers with a success status; throws, quoting the
    /// container's output, if the container stops first or the time runs out.
    /// </summary>
    public async Task WaitForHttpAsync(Uri url, TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        var elapsed = Stopwatch.StartNew();
        while (elapsed.Elapsed < timeout)
        {
            if (!await IsRunningAsync())
                throw new InvalidOperationException($"{Name} stopped before {url} answered:\n{await LogsAsync()}");
            try
            {
                using var response = await http.GetAsync(url);
                if (response.IsSuccessStatusCode) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"{url} did not answer within {timeout.TotalSeconds:0}s; {Name} said:\n{await LogsAsync()}");
    }

    public async ValueTask DisposeAsync() => await DockerCli.RemoveAsync(Name);
}

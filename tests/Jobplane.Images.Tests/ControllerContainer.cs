using System.Globalization;

namespace Jobplane.ImagesTests;

/// <summary>
/// A controller running from the image, as a deployment runs it: default (non-root) user, read-only
/// root filesystem with a tmpfs /tmp, the host's network, `--migrate` on an empty database of its
/// own. Shared by one test class; every test makes its own tenant.
/// </summary>
public sealed class ControllerContainer : IAsyncLifetime
{
    public const string AdminSecret = "images-admin-secret-0123456789";
    public const string WorkerToken = "images-worker-token-0123456789";

    private Container? _container;

    public ContainerDatabase Database { get; } = new();
    public int Port { get; } = FreePort.Next();
    public Uri Url => new($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/");
    public Container Container => _container ?? throw new InvalidOperationException("the controller container has not started");

    public async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        _container = await Container.StartAsync(
            "controller",
            ["--network", "host", "--read-only", "--tmpfs", "/tmp:size=64m"],
            new Dictionary<string, string>
            {
                ["DATABASE_URL"] = Database.ContainerConnectionString,
                ["PORT"] = Port.ToString(CultureInfo.InvariantCulture),
                ["SYSTEM_SECRET"] = AdminSecret,
                ["WORKER_TOKEN"] = WorkerToken,
            },
            entrypoint: null,
            "--migrate");
        await _container.WaitForHttpAsync(new Uri(Url, "readyz"), TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        if (_container is not null) await _container.DisposeAsync();
        await Database.DisposeAsync();
    }
}

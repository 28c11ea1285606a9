using System.Net;
using System.Net.Sockets;

namespace Jobplane.Cli.Tests;

public sealed class ConnectionTests
{
    [Fact]
    public async Task A_closed_port_exits_1_with_cannot_reach()
    {
        // Bind then release a port: nothing listens there for the few milliseconds this test needs.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var url = $"http://127.0.0.1:{port}";

        var result = await CliRunner.RunWithAsync(null, null, "--url", url, "-t", "x", "status", Guid.NewGuid().ToString());

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.StartsWith($"error: cannot reach controller at {url}: ", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("refused", result.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(result.Stdout);
    }
}

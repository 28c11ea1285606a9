using System.Net;
using System.Net.Sockets;

namespace Jobplane.Testing.Processes;

/// <summary>A loopback TCP port nobody listens on, for a child process to bind.</summary>
public static class FreePort
{
    // The kernel picks the port; a short race with other binders remains and is accepted: the port
    // is taken again at once by the child, and a clash shows as a start failure with its output.
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Jobplane.Webhooks.Tests;

/// <summary>One HTTP request as the receiver read it off the socket.</summary>
internal sealed record ReceivedRequest(string Method, string Target, IReadOnlyDictionary<string, string> Headers, byte[] Body);

/// <summary>
/// A webhook endpoint on 127.0.0.1 speaking just enough HTTP/1.1 (one request per connection), built
/// on a TcpListener so it counts every connection accepted: a refused delivery must leave that count
/// at zero, which a server framework would not show.
/// </summary>
internal sealed class LoopbackReceiver : IAsyncDisposable
{
    private const int MaxHeaderBytes = 64 * 1024;

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<ReceivedRequest> _requests = new();
    private readonly ConcurrentBag<TcpClient> _clients = [];
    private readonly string? _response;
    private readonly Task _acceptLoop;
    private int _accepted;

    private LoopbackReceiver(string? response)
    {
        _response = response;
        _listener.Start();
        _acceptLoop = AcceptAsync();
    }

    /// <summary>Answers every request with <paramref name="status"/> and the given headers, then closes.</summary>
    public static LoopbackReceiver Answering(int status, params string[] headers)
    {
        var response = new StringBuilder($"HTTP/1.1 {status} {(HttpStatusCode)status}\r\n");
        foreach (var header in headers) response.Append(header).Append("\r\n");
        response.Append("Content-Length: 0\r\nConnection: close\r\n\r\n");
        return new LoopbackReceiver(response.ToString());
    }

    /// <summary>Reads each request and never answers it, holding the connection open.</summary>
    public static LoopbackReceiver NeverAnswering() => new(null);

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int AcceptedConnections => Volatile.Read(ref _accepted);

    public IReadOnlyList<ReceivedRequest> Requests => [.. _requests];

    public Uri Url(string host = "127.0.0.1", string path = "/hook") => new($"http://{host}:{Port}{path}");

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                Interlocked.Increment(ref _accepted);
                _clients.Add(client);
                _ = ServeAsync(client);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        try
        {
            var stream = client.GetStream();
            _requests.Enqueue(await ReadRequestAsync(stream, _stop.Token));
            if (_response is null)
            {
                await Task.Delay(Timeout.Infinite, _stop.Token);
                return;
            }
            await stream.WriteAsync(Encoding.ASCII.GetBytes(_response), _stop.Token);
            client.Close();
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The client went away or the receiver is stopping; neither is the test's business.
        }
    }

    private static async Task<ReceivedRequest> ReadRequestAsync(NetworkStream stream, CancellationToken ct)
    {
        var buffer = new List<byte>();
        var one = new byte[1];
        while (!EndsWithBlankLine(buffer))
        {
            if (buffer.Count > MaxHeaderBytes || await stream.ReadAsync(one, ct) == 0)
                throw new IOException("the request's head did not arrive");
            buffer.Add(one[0]);
        }
        var lines = Encoding.ASCII.GetString([.. buffer]).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var start = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        var body = new byte[headers.TryGetValue("Content-Length", out var length) ? int.Parse(length, CultureInfo.InvariantCulture) : 0];
        await stream.ReadExactlyAsync(body, ct);
        return new ReceivedRequest(start[0], start[1], headers, body);
    }

    private static bool EndsWithBlankLine(List<byte> b) =>
        b.Count >= 4 && b[^4] == '\r' && b[^3] == '\n' && b[^2] == '\r' && b[^1] == '\n';

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _acceptLoop;
        foreach (var client in _clients) client.Dispose();
        _stop.Dispose();
    }
}

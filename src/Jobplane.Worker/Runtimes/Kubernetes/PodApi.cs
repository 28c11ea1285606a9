using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Jobplane.Worker.Runtimes.Kubernetes;

/// <summary>
/// The calls the kubernetes runtime makes that the generated client does not offer as it needs
/// them: a pod's log from a sinceTime (the generated method has no such parameter), sent through
/// the client's own handlers and credentials.
/// </summary>
internal sealed class PodApi(IKubernetes client, k8s.Kubernetes raw, string ns)
{
    public IKubernetes Client => client;
    public string Namespace => ns;

    /// <summary>
    /// The body of GET pods/{pod}/log for one container, with timestamps unless told otherwise. Throws <see cref="HttpOperationException"/>
    /// for an error answer (a container not started yet is a 400).
    /// </summary>
    public async Task<Stream> OpenLogAsync(string pod, string container, bool follow, string? stream, string? sinceTime, CancellationToken ct,
        long? limitBytes = null, bool timestamps = true)
    {
        var query = new List<string> { $"container={Uri.EscapeDataString(container)}" };
        if (timestamps) query.Add("timestamps=true");
        if (follow) query.Add("follow=true");
        if (stream is not null) query.Add($"stream={stream}");
        if (sinceTime is not null) query.Add($"sinceTime={Uri.EscapeDataString(sinceTime)}");
        if (limitBytes is { } limit) query.Add(string.Create(CultureInfo.InvariantCulture, $"limitBytes={limit}"));
        var baseUri = raw.BaseUri.ToString().TrimEnd('/');
        using var request = new HttpRequestMessage(HttpMethod.Get,
            $"{baseUri}/api/v1/namespaces/{Uri.EscapeDataString(ns)}/pods/{Uri.EscapeDataString(pod)}/log?{string.Join('&', query)}");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/plain"));
        if (raw.Credentials is { } credentials) await credentials.ProcessHttpRequestAsync(request, ct);
        // The client's own HTTP pipeline (its TLS settings, client certificate and handlers). Should
        // its timeout cut a long follow, the reader goes on from its cursor.
        var response = await raw.HttpClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(ct);
            var status = response.StatusCode;
            response.Dispose();
            throw new HttpOperationException($"reading the log of pod {pod} container {container}: {(int)status} {body}")
            {
                Response = new HttpResponseMessageWrapper(new HttpResponseMessage(status), body),
            };
        }
        return new ResponseStream(response, await response.Content.ReadAsStreamAsync(ct));
    }

    /// <summary>What a retry can mend: a broken connection, an API server that is restarting or overloaded.</summary>
    public static bool IsTransient(Exception e) => e switch
    {
        HttpRequestException or IOException or TimeoutException => true,
        HttpOperationException { Response.StatusCode: var code } => code is HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError,
        KubernetesException => true,
        _ => false,
    };

    public static bool IsNotFound(Exception e) => e is HttpOperationException { Response.StatusCode: HttpStatusCode.NotFound };

    /// <summary>A response's content stream that disposes the response with it.</summary>
    private sealed class ResponseStream(HttpResponseMessage response, Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                response.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}

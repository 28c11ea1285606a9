namespace Jobplane.Testing;

/// <summary>
/// Checks every answer of a test's HttpClient against the served OpenAPI document and fails the call
/// (so the test) with every difference: an undocumented status, or a JSON body its schema refuses.
/// </summary>
public sealed class OpenApiResponseCheck(OpenApiContract contract) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        if (OpenApiContract.IsDocument(request)) return response;
        var violations = await contract.ViolationsAsync(request, response, cancellationToken);
        if (violations.Count == 0) return response;
        response.Dispose();
        throw new OpenApiViolationException($"{request.Method} {request.RequestUri?.PathAndQuery} breaks the OpenAPI document:\n  " +
            string.Join("\n  ", violations));
    }
}

/// <summary>An answer the served OpenAPI document does not describe.</summary>
public sealed class OpenApiViolationException(string message) : Exception(message);

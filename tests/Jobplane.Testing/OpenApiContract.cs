using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Jobplane.Api;
using Json.Schema;

namespace Jobplane.Testing;

/// <summary>
/// The OpenAPI document one controller serves, read as a client generator reads it: every answer a
/// test receives is checked against it (<see cref="OpenApiResponseCheck"/>), so the document and
/// the answers cannot drift apart. Read once per host; immutable afterwards, so parallel tests share it.
/// </summary>
public sealed class OpenApiContract
{
    private const string ComponentsPrefix = "#/components/schemas/";
    private const string DefinitionsPrefix = "#/$defs/";

    private readonly Lazy<Task<JsonObject>> _document;
    private readonly ConcurrentDictionary<string, Lazy<JsonSchema>> _schemas = new(StringComparer.Ordinal);
    private readonly BuildOptions _build = new();
    private long _checked;
    private long _unmatched;

    /// <param name="fetch">Reads the served document (unchecked: it is what the checks read).</param>
    public OpenApiContract(Func<Task<string>> fetch) =>
        _document = new(async () => JsonNode.Parse(await fetch())!.AsObject(), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Answers checked against a documented operation.</summary>
    public long Checked => Interlocked.Read(ref _checked);

    /// <summary>Answers to a path or method the document does not have (the 404 fallback, a 405): nothing to check them against.</summary>
    public long Unmatched => Interlocked.Read(ref _unmatched);

    /// <summary>Every way <paramref name="response"/> breaks the document; empty when it keeps it.</summary>
    public async Task<IReadOnlyList<string>> ViolationsAsync(HttpRequestMessage request, HttpResponseMessage response, CancellationToken ct)
    {
        var document = await _document.Value;
        var method = request.Method.Method.ToLowerInvariant();
        if (Match(document, request.RequestUri!.AbsolutePath) is not { } template || document["paths"]![template]![method] is not JsonObject operation)
        {
            Interlocked.Increment(ref _unmatched);
            return [];
        }
        Interlocked.Increment(ref _checked);
        var status = ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var responses = operation["responses"]!.AsObject();
        if ((responses[status] ?? responses["default"]) is not JsonObject documented)
            return [$"status {status} is not documented (documented: {string.Join(", ", responses.Select(r => r.Key))})"];

        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (mediaType is null) return [];
        if (mediaType is not "application/json")
            return documented["content"]?[mediaType] is null
                ? [$"status {status} answers {mediaType}, which the document does not list for it"]
                : [];
        if (documented["content"]?["application/json"]?["schema"] is not JsonNode schemaNode)
            return [$"status {status} answers JSON, but the document gives it no JSON schema"];
        await response.Content.LoadIntoBufferAsync(ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        using var instance = JsonDocument.Parse(body);
        var schema = _schemas.GetOrAdd($"{method} {template} {status}", _ => new(() => Build(document, schemaNode))).Value;
        var results = schema.Evaluate(instance.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (results.IsValid) return [];
        return [.. (results.Details ?? [results])
            .Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} ({d.EvaluationPath}): {e.Value}"))
            .DefaultIfEmpty("invalid")
            .Select(e => $"status {status}: {e}; body: {Truncate(body)}")];
    }

    /// <summary>The operationId of the documented operation a request fills; null when the document has none for it.</summary>
    public async Task<string?> OperationIdAsync(HttpMethod method, string path)
    {
        var document = await _document.Value;
        return Match(document, path) is { } template
            && document["paths"]![template]![method.Method.ToLowerInvariant()] is JsonObject operation
            ? operation["operationId"]?.GetValue<string>()
            : null;
    }

    /// <summary>Every operationId in the document.</summary>
    public async Task<IReadOnlySet<string>> OperationIdsAsync()
    {
        var document = await _document.Value;
        return document["paths"]!.AsObject()
            .SelectMany(path => path.Value!.AsObject().Select(operation => operation.Value?["operationId"]?.GetValue<string>()))
            .OfType<string>()
            .ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>The documented template a request path fills; a literal segment beats a parameter (/executions/dlq before /executions/{id}).</summary>
    private static string? Match(JsonObject document, string path)
    {
        var segments = path.Split('/');
        string? best = null;
        var bestLiterals = -1;
        foreach (var (template, _) in document["paths"]!.AsObject())
        {
            var parts = template.Split('/');
            if (parts.Length != segments.Length) continue;
            var literals = 0;
            var fits = true;
            for (var i = 0; i < parts.Length && fits; i++)
            {
                if (parts[i].StartsWith('{')) continue;
                fits = string.Equals(parts[i], segments[i], StringComparison.Ordinal);
                literals++;
            }
            if (fits && literals > bestLiterals) (best, bestLiterals) = (template, literals);
        }
        return best;
    }

    /// <summary>One response schema with the document's component schemas beside it as $defs, so its references resolve.</summary>
    private JsonSchema Build(JsonObject document, JsonNode responseSchema)
    {
        var root = new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["allOf"] = new JsonArray(Rewrite(responseSchema)),
            ["$defs"] = Rewrite(document["components"]?["schemas"] ?? new JsonObject()),
        };
        return JsonSchema.FromText(root.ToJsonString(), _build, new Uri($"https://jobplane.test/openapi/{Guid.NewGuid():N}"));
    }

    /// <summary>A copy with every reference to a component schema pointing at its $defs entry.</summary>
    private static JsonNode Rewrite(JsonNode node) => JsonNode.Parse(node.ToJsonString()
        .Replace($"\"$ref\":\"{ComponentsPrefix}", $"\"$ref\":\"{DefinitionsPrefix}", StringComparison.Ordinal))!;

    private static string Truncate(string body) => body.Length <= 500 ? body : body[..500] + "...";

    /// <summary>The route template of the served document itself, which is not checked against itself.</summary>
    internal static bool IsDocument(HttpRequestMessage request) => request.RequestUri?.AbsolutePath == Routes.OpenApi;
}

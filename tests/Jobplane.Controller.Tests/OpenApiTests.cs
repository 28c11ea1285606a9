using System.Net;
using System.Text.Json.Nodes;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>The OpenAPI document at /openapi.json describes exactly the routes the controller serves, with the wire names.</summary>
public sealed class OpenApiTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private async Task<JsonObject> DocumentAsync()
    {
        using var anonymous = _host.Client();
        using var response = await anonymous.GetAsync("/openapi.json");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET /openapi.json: {(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(text)!.AsObject();
    }

    [Fact]
    public async Task The_document_lists_exactly_the_routes_the_controller_serves()
    {
        var document = await DocumentAsync();
        var documented = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var (method, _) in item!.AsObject())
            {
                if (method is "parameters" or "summary" or "description" or "servers") continue;
                documented.Add($"{method.ToUpperInvariant()} {path}");
            }
        }
        var served = new SortedSet<string>(RouteTable.ApiRoutes(_host).Select(r => r.Key), StringComparer.Ordinal);
        Assert.True(served.Count > 30, $"only {served.Count} routes found: {string.Join(", ", served)}");
        Assert.True(served.SetEquals(documented),
            $"served but not documented: {string.Join(", ", served.Except(documented))}\n" +
            $"documented but not served: {string.Join(", ", documented.Except(served))}");
    }

    [Fact]
    public async Task Request_bodies_use_the_wire_names_and_every_operation_documents_its_errors()
    {
        var document = await DocumentAsync();
        var createJob = Schema(document, document["paths"]!["/jobs"]!["post"]!["requestBody"]!["content"]!["application/json"]!["schema"]!);
        var properties = createJob["properties"]!.AsObject().Select(p => p.Key).ToHashSet();
        foreach (var name in new[] { "name", "image", "command", "default_timeout", "priority", "max_attempts", "non_retryable_exit_codes" })
            Assert.Contains(name, properties);
        Assert.DoesNotContain("DefaultTimeout", properties);
        Assert.DoesNotContain("defaultTimeout", properties);

        var result = Schema(document, document["paths"]!["/internal/executions/{id}/result"]!["put"]!["requestBody"]!["content"]!["application/json"]!["schema"]!);
        Assert.Contains("lease_token", result["properties"]!.AsObject().Select(p => p.Key));
        // The wire refuses unknown fields and numbers in strings; the schemas say so.
        Assert.False(createJob["additionalProperties"]!.GetValue<bool>());
        Assert.Equal(["null", "integer"], createJob["properties"]!["default_timeout"]!["type"]!.AsArray().Select(t => t!.GetValue<string>()));

        var missingErrors = new List<string>();
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                var responses = operation!["responses"]!.AsObject();
                var secured = operation["security"] is JsonArray { Count: > 0 };
                if (secured && !responses.ContainsKey("401")) missingErrors.Add($"{method} {path}: no 401");
                if (operation["requestBody"] is not null && !(responses.ContainsKey("400") && responses.ContainsKey("413")))
                    missingErrors.Add($"{method} {path}: a body but no 400/413");
                if (path.Contains("{id}", StringComparison.Ordinal) && !responses.ContainsKey("404"))
                    missingErrors.Add($"{method} {path}: an id but no 404");
                if (!responses.ContainsKey("500"))
                    missingErrors.Add($"{method} {path}: no 500");
                if (operation["security"] is not JsonArray)
                    missingErrors.Add($"{method} {path}: no security declared");
                else if (path != "/healthz" && path != "/readyz" && !secured)
                    missingErrors.Add($"{method} {path}: no security requirement");
                else if (path is "/healthz" or "/readyz" && secured)
                    missingErrors.Add($"{method} {path}: public, but declares a credential");
            }
        }
        Assert.True(missingErrors.Count == 0, string.Join("\n", missingErrors));

        // Errors are {error, code}; the schemes name the three kinds of caller.
        var notFound = Schema(document, document["paths"]!["/jobs/{id}"]!["get"]!["responses"]!["404"]!["content"]!["application/json"]!["schema"]!);
        Assert.Equal(["code", "error"], notFound["properties"]!.AsObject().Select(p => p.Key).Order());
        var schemes = document["components"]!["securitySchemes"]!.AsObject().Select(s => s.Key).Order();
        Assert.Equal(["administrator", "metrics", "tenant", "worker"], schemes);
        Assert.Equal("tenant", document["paths"]!["/jobs"]!["post"]!["security"]![0]!.AsObject().Single().Key);
        Assert.Equal("worker", document["paths"]!["/internal/executions/dequeue"]!["post"]!["security"]![0]!.AsObject().Single().Key);
    }

    [Fact]
    public async Task Every_operation_has_a_stable_unique_operation_id_and_the_server_url_no_trailing_slash()
    {
        var document = await DocumentAsync();
        var ids = new List<string>();
        var missing = new List<string>();
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                if (operation!["operationId"]?.GetValue<string>() is { Length: > 0 } id) ids.Add(id);
                else missing.Add($"{method} {path}");
            }
        }
        Assert.True(missing.Count == 0, $"no operationId: {string.Join(", ", missing)}");
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        // camelCase verb and noun: a generated client's method name as it is.
        Assert.All(ids, id => Assert.Matches("^[a-z]+[A-Za-z]*$", id));
        Assert.Equal("listExecutions", document["paths"]!["/executions"]!["get"]!["operationId"]!.GetValue<string>());
        Assert.Equal("dequeueExecutions", document["paths"]!["/internal/executions/dequeue"]!["post"]!["operationId"]!.GetValue<string>());
        Assert.Equal("getMetrics", document["paths"]!["/metrics"]!["get"]!["operationId"]!.GetValue<string>());

        var servers = document["servers"]?.AsArray() ?? [];
        Assert.All(servers, s => Assert.False(s!["url"]!.GetValue<string>().EndsWith('/'), $"server url {s!["url"]} ends with a slash"));
    }

    [Fact]
    public async Task Required_means_present_no_property_the_wire_leaves_out_when_null_is_required()
    {
        var document = await DocumentAsync();
        var wrong = new List<string>();
        foreach (var (name, schema) in document["components"]!["schemas"]!.AsObject())
        {
            if (schema!["required"] is not JsonArray required) continue;
            foreach (var property in required.Select(r => r!.GetValue<string>()))
            {
                // The wire omits nulls, so a property that may be null may be absent.
                if (schema["properties"]?[property]?["type"] is JsonArray types && types.Any(t => t!.GetValue<string>() == "null"))
                    wrong.Add($"{name}.{property}");
            }
        }
        Assert.True(wrong.Count == 0, $"required but may be absent: {string.Join(", ", wrong)}");
        // The two a live run found missing.
        Assert.DoesNotContain("revoked_at", Required(document, "ApiKeyView"));
        Assert.DoesNotContain("next_before_id", Required(document, "AuditPage"));
        Assert.Contains("id", Required(document, "ApiKeyView"));
    }

    [Fact]
    public async Task A_followed_log_is_a_documented_event_stream_and_an_undocumented_media_type_breaks_the_contract()
    {
        var document = await DocumentAsync();
        var ok = document["paths"]!["/executions/{id}/logs"]!["get"]!["responses"]!["200"]!["content"]!.AsObject();
        Assert.Equal(["application/json", "text/event-stream"], ok.Select(c => c.Key).Order());
        Assert.Contains("'end'", ok["text/event-stream"]!["schema"]!["description"]!.GetValue<string>());
        var metrics = document["paths"]!["/metrics"]!["get"]!["responses"]!["200"]!["content"]!.AsObject();
        Assert.Contains("text/plain", metrics.Select(c => c.Key));

        // The check the tests' clients run: an answer in a media type the operation does not list is a violation.
        var contract = new OpenApiContract(() => Task.FromResult(document.ToJsonString()));
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://controller/jobs");
        using var html = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("<html></html>", System.Text.Encoding.UTF8, "text/html") };
        var violation = Assert.Single(await contract.ViolationsAsync(request, html, CancellationToken.None));
        Assert.Contains("text/html", violation);
        using var logs = new HttpRequestMessage(HttpMethod.Get, $"http://controller/executions/{Guid.NewGuid()}/logs?follow=true");
        using var stream = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("event: end\ndata: {}\n\n", System.Text.Encoding.UTF8, "text/event-stream") };
        Assert.Empty(await contract.ViolationsAsync(logs, stream, CancellationToken.None));
    }

    private static IEnumerable<string> Required(JsonObject document, string schema) =>
        document["components"]!["schemas"]![schema]!["required"]?.AsArray().Select(r => r!.GetValue<string>()) ?? [];

    private static JsonObject Schema(JsonObject document, JsonNode schema)
    {
        if (schema["$ref"]?.GetValue<string>() is { } reference)
            return document["components"]!["schemas"]![reference["#/components/schemas/".Length..]]!.AsObject();
        return schema.AsObject();
    }
}

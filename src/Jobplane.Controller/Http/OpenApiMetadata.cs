using System.Text.Json;
using System.Text.Json.Serialization;
using Jobplane.Api;
using Jobplane.Controller.Auth;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Jobplane.Controller.Http;

/// <summary>
/// Describes the routes for the OpenAPI document served at /openapi.json. Handlers read their
/// bodies themselves (<see cref="JsonBody"/>), so the request type, its size limit, the query
/// parameters and the error answers are declared here, beside each route, instead of inferred.
/// </summary>
public static class OpenApiMetadata
{
    /// <summary>The principal a route group admits, for the document's security requirements.</summary>
    public sealed record PrincipalRequirement(PrincipalKind Kind);

    /// <summary>
    /// A route's JSON request body and the limit its handler enforces (<see cref="JsonBody"/>). Not
    /// accepts-metadata: that would let routing refuse a request by content type before the handler
    /// could answer with its own JSON error.
    /// </summary>
    public sealed record RequestBody(Type Type, long MaxBytes, bool Optional);

    /// <summary>A query parameter the handler reads itself.</summary>
    public sealed record QueryParameter(string Name, JsonSchemaType Type, string Description);

    /// <summary>
    /// The operation's stable id (camelCase verb and noun: what generated clients name their
    /// methods, so it never changes once published), a summary, and optionally a longer description.
    /// </summary>
    public static RouteHandlerBuilder Doc(this RouteHandlerBuilder route, string operationId, string summary, string? description = null)
    {
        route.WithName(operationId).WithSummary(summary);
        return description is null ? route : route.WithDescription(description);
    }

    /// <summary>A JSON request body of type <typeparamref name="T"/>, at most <paramref name="maxBytes"/>, and the errors reading it can give.</summary>
    public static RouteHandlerBuilder JsonRequest<T>(this RouteHandlerBuilder route, long maxBytes, bool optional = false)
        where T : notnull =>
        route.WithMetadata(new RequestBody(typeof(T), maxBytes, optional)).Errors(400, 413, 415);

    /// <summary>A JSON answer of type <typeparamref name="T"/>.</summary>
    public static RouteHandlerBuilder Returns<T>(this RouteHandlerBuilder route, int status = 200) =>
        route.Produces<T>(status, "application/json");

    /// <summary>Error answers: each a JSON <see cref="ApiError"/>.</summary>
    public static RouteHandlerBuilder Errors(this RouteHandlerBuilder route, params int[] statuses)
    {
        foreach (var status in statuses) route.Produces<ApiError>(status, "application/json");
        return route;
    }

    /// <summary>
    /// The route's 200 answer can also be a text/event-stream (chosen by a query parameter, not by
    /// Accept), whose events <paramref name="description"/> lists. Declared so that a client (and the
    /// contract check of the tests) knows the stream is an answer of this operation.
    /// </summary>
    public sealed record EventStream(string Description);

    public static RouteHandlerBuilder StreamsEvents(this RouteHandlerBuilder route, string description) =>
        route.WithMetadata(new EventStream(description));

    /// <summary>A response header of the route's success answer.</summary>
    public sealed record ResponseHeader(string Name, string Description);

    /// <summary>?limit=, ?offset= and ?cursor= with their bounds.</summary>
    public static RouteHandlerBuilder Paged(this RouteHandlerBuilder route, int defaultLimit, int maxLimit, bool offset = true, bool cursor = false)
    {
        // A bad limit, offset or cursor is a 400 naming it.
        route.Errors(400);
        route.Query("limit", JsonSchemaType.Integer, $"page size, 1..{maxLimit} (default {defaultLimit}); anything else is a 400");
        if (offset)
            route.Query("offset", JsonSchemaType.Integer, $"items to skip, 0..{Limits.MaxOffset}; page deeper with cursor");
        if (cursor)
            route.Query("cursor", JsonSchemaType.String, "where the page starts: the next_cursor of the previous page, unchanged (opaque); not with offset");
        return route;
    }

    /// <summary>Declares a header of the route's 200 answer.</summary>
    public static RouteHandlerBuilder Headers(this RouteHandlerBuilder route, string name, string description) =>
        route.WithMetadata(new ResponseHeader(name, description));

    public static RouteHandlerBuilder Query(this RouteHandlerBuilder route, string name, JsonSchemaType type, string description) =>
        route.WithMetadata(new QueryParameter(name, type, description));

    /// <summary>Declares what a group's authentication filter requires and answers (401, 429 for rate-limited tenants, 503 from the database).</summary>
    public static void DescribeAuthentication(RouteGroupBuilder group, PrincipalKind kind)
    {
        group.WithMetadata(new PrincipalRequirement(kind));
        group.WithMetadata(new ProducesResponseTypeMetadata(401, typeof(ApiError), ["application/json"]));
        if (kind == PrincipalKind.Tenant)
        {
            group.WithMetadata(new ProducesResponseTypeMetadata(429, typeof(ApiError), ["application/json"]));
            // A read-only key is refused (403 read_only_key) on every route that is not a read.
            ((IEndpointConventionBuilder)group).Finally(b =>
            {
                var methods = b.Metadata.OfType<HttpMethodMetadata>().SelectMany(m => m.HttpMethods).ToList();
                if (methods.Count > 0 && !methods.Contains(HttpMethods.Get) && !b.Metadata.OfType<ProducesResponseTypeMetadata>().Any(m => m.StatusCode == 403))
                    b.Metadata.Add(new ProducesResponseTypeMetadata(403, typeof(ApiError), ["application/json"]));
            });
        }
        // Every authenticated route reads the database: 503 (with Retry-After) when it cannot be
        // reached or a tenant's statement ran out of time (see ExceptionResponses).
        group.WithMetadata(new ProducesResponseTypeMetadata(503, typeof(ApiError), ["application/json"]));
    }

    /// <summary>Security schemes, per-operation requirements, query parameters, and the routes not built from handlers.</summary>
    public static void AddJobplaneTransformers(this OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "jobplane",
                Version = "v1",
                Description = "Multi-tenant job execution: public API (tenant API key), administration (SYSTEM_SECRET) and the worker API. " +
                    "Every error is JSON {error, code}; unknown JSON fields are refused.",
            };
            // The generator names the server from the request's base address, with a trailing slash
            // that would double every path a client joins onto it.
            foreach (var server in document.Servers ?? [])
                server.Url = server.Url?.TrimEnd('/');
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>
            {
                [SchemeName(PrincipalKind.Tenant)] = Bearer("A tenant API key (jp_...)."),
                [SchemeName(PrincipalKind.Administrator)] = Bearer("The administrator secret (SYSTEM_SECRET); also accepted in an X-System-Secret header."),
                [SchemeName(PrincipalKind.Worker)] = Bearer("A worker credential: WORKER_TOKEN or an issued jpw_... credential."),
                [MetricsScheme] = Bearer("The scrape credential (METRICS_TOKEN) for /metrics on the API port; the administrator secret works too."),
            };
            // Prometheus' scraping endpoint is not a route handler, so the generator does not see it.
            document.Paths ??= [];
            document.Paths["/metrics"] = new OpenApiPathItem
            {
                Operations = new Dictionary<HttpMethod, OpenApiOperation>
                {
                    [HttpMethod.Get] = new()
                    {
                        OperationId = "getMetrics",
                        Summary = "Prometheus metrics (text exposition format)",
                        Description = "They name every tenant, so on the API port they need the scrape credential or the administrator secret; the metrics port (METRICS_PORT), when set, serves them without one.",
                        Tags = new HashSet<OpenApiTagReference> { new("Health", document) },
                        Security =
                        [
                            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(MetricsScheme, document)] = [] },
                            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName(PrincipalKind.Administrator), document)] = [] },
                        ],
                        Responses = new OpenApiResponses
                        {
                            ["200"] = new OpenApiResponse
                            {
                                Description = "OK",
                                Content = new Dictionary<string, OpenApiMediaType>
                                {
                                    ["text/plain"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Prometheus text exposition format 0.0.4" } },
                                    ["application/openmetrics-text"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Description = "OpenMetrics 1.0, when the scraper asks for it" } },
                                },
                            },
                            ["500"] = InternalError(document),
                            ["401"] = new OpenApiResponse
                            {
                                Description = "No or a wrong credential",
                                Content = new Dictionary<string, OpenApiMediaType>
                                {
                                    ["application/json"] = new() { Schema = new OpenApiSchemaReference(nameof(ApiError), document) },
                                },
                            },
                        },
                    },
                },
            };
            return Task.CompletedTask;
        });

        options.AddOperationTransformer(async (operation, context, ct) =>
        {
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            // Every operation says what it takes; a route without a principal (health) takes nothing,
            // declared as the empty requirement so generators do not fall back to a default.
            operation.Security = metadata.OfType<PrincipalRequirement>().LastOrDefault() is { } principal
                ? [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName(principal.Kind), context.Document)] = [] }]
                : [];
            foreach (var q in metadata.OfType<QueryParameter>())
            {
                operation.Parameters ??= [];
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = q.Name,
                    In = ParameterLocation.Query,
                    Description = q.Description,
                    Schema = new OpenApiSchema { Type = q.Type },
                });
            }
            if (metadata.OfType<EventStream>().LastOrDefault() is { } events
                && operation.Responses?.TryGetValue("200", out var streamed) == true && streamed is OpenApiResponse streamedOk)
            {
                streamedOk.Content ??= new Dictionary<string, OpenApiMediaType>();
                streamedOk.Content["text/event-stream"] = new OpenApiMediaType
                {
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, Description = events.Description },
                };
            }
            if (context.Document is { } owner)
            {
                operation.Responses ??= new OpenApiResponses();
                operation.Responses["500"] = InternalError(owner);
            }
            foreach (var h in metadata.OfType<ResponseHeader>())
            {
                if (operation.Responses?.TryGetValue("200", out var ok) != true || ok is not OpenApiResponse response) continue;
                response.Headers ??= new Dictionary<string, IOpenApiHeader>();
                response.Headers[h.Name] = new OpenApiHeader { Description = h.Description, Schema = new OpenApiSchema { Type = JsonSchemaType.String } };
            }
            if (metadata.OfType<RequestBody>().LastOrDefault() is { } body && context.Document is { } document)
            {
                var schema = await context.GetOrCreateSchemaAsync(body.Type, null, ct);
                document.Components ??= new OpenApiComponents();
                document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
                document.Components.Schemas.TryAdd(body.Type.Name, schema);
                operation.RequestBody = new OpenApiRequestBody
                {
                    Required = !body.Optional,
                    Description = $"At most {Limits.Describe(body.MaxBytes)}; a larger body is a 413.{(body.Optional ? " Optional." : "")}",
                    Content = new Dictionary<string, OpenApiMediaType>
                    {
                        ["application/json"] = new() { Schema = new OpenApiSchemaReference(body.Type.Name, document) },
                    },
                };
            }
        });

        // A priority is a number 0..100 or one of its names (see PriorityJsonConverter).
        options.AddSchemaTransformer((schema, context, _) =>
        {
            OmittedWhenNull(schema, context.JsonTypeInfo);
            if (context.JsonTypeInfo.Type == typeof(Priority) || context.JsonTypeInfo.Type == typeof(Priority?))
            {
                schema.Type = null;
                schema.OneOf =
                [
                    new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "0", Maximum = "100" },
                    new OpenApiSchema { Type = JsonSchemaType.String, Enum = [.. new[] { "low", "normal", "high", "critical" }.Select(n => (System.Text.Json.Nodes.JsonNode)n)] },
                ];
                schema.Description = "0..100, or low|normal|high|critical (0/50/75/100); answered as a number";
            }
            return Task.CompletedTask;
        });
    }

    /// <summary>
    /// Required means present: the wire leaves out every null (WhenWritingNull), so a property that can
    /// be null can be absent, and a client generated from the document must not expect it. The answer
    /// itself is unchanged: clients of the older API already read such fields as optional.
    /// </summary>
    private static void OmittedWhenNull(OpenApiSchema schema, System.Text.Json.Serialization.Metadata.JsonTypeInfo type)
    {
        if (schema.Required is not { Count: > 0 } required || type.Kind != System.Text.Json.Serialization.Metadata.JsonTypeInfoKind.Object) return;
        foreach (var property in type.Properties)
        {
            if (property.IsGetNullable) required.Remove(property.Name);
        }
    }

    /// <summary>The wire JSON options (snake_case, our source-generated contracts first), for schema generation.</summary>
    public static void UseWireJson(JsonSerializerOptions options)
    {
        options.TypeInfoResolverChain.Insert(0, JobplaneJsonContext.Default);
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        options.NumberHandling = JsonNumberHandling.Strict;
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
    }

    private const string MetricsScheme = "metrics";

    /// <summary>
    /// Any operation can fail unexpectedly; the answer is still a JSON error (code "internal"), and it
    /// never carries the exception: the details stay in the controller's log, under the request's trace.
    /// </summary>
    private static OpenApiResponse InternalError(OpenApiDocument document) => new()
    {
        Description = "An unexpected fault; the body names no details (they are in the controller's log)",
        Content = new Dictionary<string, OpenApiMediaType>
        {
            ["application/json"] = new() { Schema = new OpenApiSchemaReference(nameof(ApiError), document) },
        },
    };

    private static string SchemeName(PrincipalKind kind) => kind switch
    {
        PrincipalKind.Administrator => "administrator",
        PrincipalKind.Worker => "worker",
        _ => "tenant",
    };

    private static OpenApiSecurityScheme Bearer(string description) =>
        new() { Type = SecuritySchemeType.Http, Scheme = "bearer", Description = description };
}

using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Jobplane.Controller.Http;
using Jobplane.Testing;
using Xunit.Abstractions;

namespace Jobplane.Controller.Tests;

/// <summary>
/// Throws malformed and random input at every served route, as the route's own principal and with
/// real ids of the caller's own objects in the path: random bytes, truncated and mutated bodies,
/// wrong types for every field, huge strings, arrays and numbers, deep nesting, nulls, duplicate
/// keys, wrong content types, empty and oversized bodies, garbage query strings and ids. Every
/// answer must be below 500; every refusal a JSON {error, code} without internals; an oversized
/// body a 413; and a refused request must change nothing in the database.
/// Seeded: FUZZ_SEED reproduces a run (the seed is in every failure).
/// </summary>
public sealed class FuzzTests(FuzzTests.Fixture fixture, ITestOutputHelper output) : IClassFixture<FuzzTests.Fixture>
{
    /// <summary>Long leases and short long-polls: nothing changes in the background while the fuzzer compares states.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        public ControllerHost Host { get; } = new(new Dictionary<string, string?>
        {
            ["HEARTBEAT_VISIBILITY_EXTENSION"] = "10m",
            ["DEQUEUE_MAX_WAIT"] = "50ms",
            // A schedule the fuzzer made valid could fire between two requests: firing stays off here.
            ["SCHEDULE_FIRING"] = "false",
            // Likewise a webhook delivery the fuzzer queued (a test event) would be tried in the background.
            ["WEBHOOK_DELIVERY"] = "false",
        });
        public Task InitializeAsync() => Host.InitializeAsync();
        public Task DisposeAsync() => Host.DisposeAsync();
    }

    private const int DefaultSeed = 20_260_613;
    private static readonly string[] Internals = ["Npgsql", "Exception", "   at ", "System.", "Jobplane.", "SqlState", "stack"];

    private readonly ControllerHost _host = fixture.Host;

    private sealed record World(
        string TenantKey, Guid Tenant, Guid Victim, Guid VictimKey, Guid SpareKey, Guid Credential, Guid Job,
        Guid[] Executions, Guid DeadLetter, Guid Running, Guid Lease, Guid Schedule, Guid Webhook, Guid WebhookDelivery);

    [Fact]
    public async Task Fuzzing_every_route_gives_no_5xx_json_errors_and_no_change_on_refusal()
    {
        var seed = Environment.GetEnvironmentVariable("FUZZ_SEED") is { Length: > 0 } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : DefaultSeed;
        var random = new Random(seed);
        var world = await ArrangeAsync();
        using var admin = _host.AdminClient();
        using var tenant = _host.Client(world.TenantKey);
        using var worker = _host.WorkerClient();
        using var anonymous = _host.Client();

        var routes = RouteTable.ApiRoutes(_host);
        var samples = Samples(world);
        var unknown = routes.Where(r => !samples.ContainsKey(r.Key)).ToList();
        Assert.True(unknown.Count == 0, $"routes without a sample body (null for none) in the fuzzer: {string.Join(", ", unknown)}");

        var failures = new List<string>();
        var statuses = new SortedDictionary<int, int>();
        var requests = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var state = await DbState.SnapshotAsync(_host);
        foreach (var route in routes)
        {
            var client = route.Pattern switch
            {
                var p when p.StartsWith("/internal/", StringComparison.Ordinal) => worker,
                var p when p.StartsWith("/tenants", StringComparison.Ordinal) || p.StartsWith("/worker-credentials", StringComparison.Ordinal)
                    || p.StartsWith("/audit", StringComparison.Ordinal) || p == "/metrics" => admin,
                "/healthz" or "/readyz" => anonymous,
                _ => tenant,
            };
            var sample = samples[route.Key];
            var limit = route.Endpoint.Metadata.GetMetadata<OpenApiMetadata.RequestBody>()?.MaxBytes;
            if (sample is not null) Assert.True(limit is not null, $"{route}: has a body but declares no body limit");

            foreach (var input in Inputs(random, sample, limit))
            {
                // An oversized body is sent to a real id: a malformed id is refused (404) before the body is read.
                var path = FillPath(random, route.Pattern, world, realIds: input.Oversized) + RandomQuery(random);
                using var request = new HttpRequestMessage(new HttpMethod(route.Method), path);
                if (input.Body is not null)
                {
                    request.Content = input.Chunked
                        ? new StreamContent(new NonSeekableStream(input.Body))
                        : new ByteArrayContent(input.Body);
                    if (input.ContentType is not null) request.Content.Headers.TryAddWithoutValidation("Content-Type", input.ContentType);
                }
                if (route.Pattern.EndsWith("/run", StringComparison.Ordinal) && random.Next(4) == 0)
                    request.Headers.TryAddWithoutValidation("Idempotency-Key", RandomText(random, random.Next(1, 300)));

                using var response = await client.SendAsync(request);
                var status = (int)response.StatusCode;
                var text = await response.Content.ReadAsStringAsync();
                requests++;
                statuses[status] = statuses.GetValueOrDefault(status) + 1;
                var what = $"[seed {seed}, request {requests}] {route.Method} {Show(path)} ({input.Label}, {input.Body?.Length ?? 0} bytes, {input.ContentType ?? "no content type"}): {status}";

                if (status >= 500) failures.Add($"{what}: server error: {Show(text)}");
                if (input.Oversized && status != 413) failures.Add($"{what}: expected 413 for a body over the route's {limit}-byte limit: {Show(text)}");
                if (status >= 400)
                {
                    CheckError(what, response, text, failures);
                    var after = await DbState.SnapshotAsync(_host);
                    var diff = DbState.Diff(state, after);
                    if (diff.Length > 0) failures.Add($"{what}: a refused request changed the database: {diff}");
                    state = after;
                }
                else
                {
                    state = await DbState.SnapshotAsync(_host);
                }
                if (failures.Count > 20) break;
            }
            if (failures.Count > 20) break;
        }
        output.WriteLine($"seed {seed}: {requests} requests over {routes.Count} routes in {clock.Elapsed.TotalSeconds:0.0} s; statuses: {string.Join(", ", statuses.Select(kv => $"{kv.Key}x{kv.Value}"))}");
        Assert.True(failures.Count == 0, $"{failures.Count} failures in {requests} requests (seed {seed}):\n{string.Join("\n", failures)}");
        Assert.True(requests >= 1000, $"only {requests} requests");
    }

    private async Task<World> ArrangeAsync()
    {
        using var worker = _host.WorkerClient();
        using var admin = _host.AdminClient();
        var (a, client) = await _host.TenantClientAsync();
        using (client)
        {
            var victim = await _host.CreateTenantAsync();
            var victimKey = await Api.ReadAsync(await admin.PostAsync($"/tenants/{victim.TenantId}/api-keys", Api.RawJson("{}")), Api.Json.CreateApiKeyResponse, HttpStatusCode.Created);
            var spareKey = await Api.ReadAsync(await client.PostAsync("/api-keys", Api.RawJson("""{"name": "spare"}""")), Api.Json.CreateApiKeyResponse, HttpStatusCode.Created);
            var credential = await Api.ReadAsync(await admin.PostAsync("/worker-credentials", Api.RawJson("""{"name": "spare"}""")),
                Api.Json.CreateWorkerCredentialResponse, HttpStatusCode.Created);

            // One attempt only: a failure reported by the fuzzer dead-letters at once instead of
            // scheduling a retry that would change the database in the background.
            var job = await Api.CreateJobAsync(client, name: "fuzz-target", maxAttempts: 1);
            var finished = await Api.RunAsync(client, job);
            var claim = await Api.ClaimAsync(worker, a.TenantId, finished.ExecutionId);
            await Api.ShipLogsAsync(worker, claim.ExecutionId, claim.LeaseToken, "line one", "line two");
            await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 0);
            var dead = await Api.RunAsync(client, job);
            var deadClaim = await Api.ClaimAsync(worker, a.TenantId, dead.ExecutionId);
            await Api.ResultAsync(worker, dead.ExecutionId, deadClaim.LeaseToken, 1);
            var deadLetter = Assert.Single(await Api.ReadAsync(await client.GetAsync("/executions/dlq"), Api.Json.IReadOnlyListDlqEntry)).Id;
            var running = await Api.RunAsync(client, job);
            var runningClaim = await Api.ClaimAsync(worker, a.TenantId, running.ExecutionId);
            var pending = await Api.RunAsync(client, job);
            var schedule = await Api.ReadAsync(await client.PostAsync("/schedules",
                Api.RawJson($$"""{"name": "fuzz-schedule", "job_id": "{{job}}", "cron": "0 0 1 1 *"}""")), Api.Json.ScheduleView, HttpStatusCode.Created);
            var webhook = await Api.ReadAsync(await client.PostAsync("/webhooks",
                Api.RawJson("""{"url": "https://93.184.215.14/hook", "events": ["execution.failed"]}""")), Api.Json.WebhookView, HttpStatusCode.Created);
            var delivery = await Api.ReadAsync(await client.PostAsync($"/webhooks/{webhook.Id}/test", null), Api.Json.WebhookTestResponse, HttpStatusCode.Accepted);
            return new World(a.ApiKey, a.TenantId, victim.TenantId, victimKey.Id, spareKey.Id, credential.Id, job,
                [finished.ExecutionId, dead.ExecutionId, running.ExecutionId, pending.ExecutionId], deadLetter, running.ExecutionId, runningClaim.LeaseToken,
                schedule.Id, webhook.Id, delivery.DeliveryId);
        }
    }

    /// <summary>A valid body per route (null: the route takes none); the fuzzer mutates it.</summary>
    private static Dictionary<string, string?> Samples(World w) => new()
    {
        ["GET /healthz"] = null,
        ["GET /readyz"] = null,
        ["GET /metrics"] = null,
        ["POST /tenants"] = """{"name": "fuzz-tenant", "rate_limit": 50, "rate_limit_burst": 100, "max_concurrent_executions": 3, "weight": 2, "allowed_runtimes": ["exec"], "allow_network": false}""",
        ["GET /tenants"] = null,
        ["GET /tenants/{id}"] = null,
        ["PATCH /tenants/{id}"] = """{"name": "victim", "rate_limit": 0, "max_concurrent_executions": 0, "weight": 3, "allowed_runtimes": [], "allow_network": true}""",
        ["POST /tenants/{id}/suspend"] = null,
        ["POST /tenants/{id}/resume"] = null,
        ["POST /tenants/{id}/api-keys"] = """{"name": "k"}""",
        ["GET /tenants/{id}/api-keys"] = null,
        ["DELETE /tenants/{id}/api-keys/{keyId}"] = null,
        ["POST /worker-credentials"] = $$"""{"name": "w", "tenant_ids": ["{{w.Victim}}"]}""",
        ["GET /worker-credentials"] = null,
        ["DELETE /worker-credentials/{id}"] = null,
        ["GET /audit"] = null,
        ["POST /api-keys"] = """{"name": "k"}""",
        ["GET /api-keys"] = null,
        ["DELETE /api-keys/{id}"] = null,
        ["POST /jobs"] = """{"name": "fuzz-job", "image": "exec", "command": ["echo", "hi"], "default_timeout": 60, "priority": "high", "max_attempts": 2, "retry_backoff_base": 1.5, "retry_backoff_max": 10, "non_retryable_exit_codes": [2, 3], "resources": {"memory_mib": 64, "cpus": 0.5, "pids": 32}, "network": false, "run_as_root": false}""",
        ["GET /jobs"] = null,
        ["GET /jobs/{id}"] = null,
        ["POST /jobs/{id}/run"] = """{"scheduled_at": "2031-01-01T00:00:00Z", "timeout": 30, "priority": 10}""",
        ["POST /jobs/{id}/runs"] = """{"count": 2, "timeout": 30, "priority": "low"}""",
        ["POST /jobs/{id}/cancel"] = null,
        ["GET /executions"] = null,
        ["GET /executions/dlq"] = null,
        ["POST /executions/dlq/{id}/retry"] = null,
        ["POST /executions/dlq/retry"] = $$"""{"job_id": "{{w.Job}}"}""",
        ["POST /executions/dlq/purge"] = $$"""{"job_id": "{{w.Job}}"}""",
        ["POST /executions/{id}/cancel"] = null,
        ["POST /schedules"] = $$"""{"name": "fuzz-s", "job_id": "{{w.Job}}", "cron": "30 2 * * *", "time_zone": "Europe/Berlin", "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2031-01-01T00:00:00+01:00", "misfire": "catch_up", "catch_up_max": 3, "overlap": "queue", "priority": "high", "timeout": 30, "idempotency_key_prefix": "nightly-", "paused": false}""",
        ["GET /schedules"] = null,
        ["GET /schedules/{id}"] = null,
        ["PATCH /schedules/{id}"] = """{"name": "fuzz-renamed", "interval_seconds": 3600, "time_zone": "America/New_York", "misfire": "skip", "catch_up_max": 2, "overlap": "cancel", "priority": 10, "timeout": 60}""",
        ["DELETE /schedules/{id}"] = null,
        ["POST /schedules/{id}/pause"] = null,
        ["POST /schedules/{id}/resume"] = null,
        ["POST /schedules/{id}/trigger"] = null,
        ["GET /schedules/{id}/history"] = null,
        ["POST /webhooks"] = """{"url": "https://93.184.215.14/other", "events": ["execution.succeeded", "execution.retrying"], "job_names": ["fuzz-job"], "description": "d", "enabled": true}""",
        ["GET /webhooks"] = null,
        ["GET /webhooks/{id}"] = null,
        ["PATCH /webhooks/{id}"] = $$"""{"events": ["execution.cancelled"], "job_ids": ["{{w.Job}}"], "job_names": [], "description": "changed", "enabled": false}""",
        ["DELETE /webhooks/{id}"] = null,
        ["POST /webhooks/{id}/rotate-secret"] = """{"overlap_seconds": 60}""",
        ["POST /webhooks/{id}/test"] = null,
        ["GET /webhooks/{id}/deliveries"] = null,
        ["GET /webhooks/{id}/deliveries/{deliveryId}"] = null,
        ["POST /webhooks/{id}/deliveries/{deliveryId}/redeliver"] = null,
        ["GET /executions/{id}"] = null,
        ["GET /executions/{id}/attempts"] = null,
        ["GET /executions/{id}/logs"] = null,
        ["POST /internal/executions/dequeue"] = $$"""{"limit": 2, "tenant_ids": ["{{w.Tenant}}"], "worker_id": "fuzz", "wait_seconds": 0, "runtime": "exec"}""",
        ["POST /internal/heartbeats"] = $$"""{"worker_id": "fuzz", "leases": [{"execution_id": "{{w.Running}}", "lease_token": "{{w.Lease}}"}]}""",
        ["PUT /internal/executions/{id}/heartbeat"] = $$"""{"lease_token": "{{w.Lease}}"}""",
        ["POST /internal/executions/{id}/logs"] = $$"""{"lease_token": "{{w.Lease}}", "content": "out", "stream": "stdout", "lines": [{"content": "a", "stream": "stderr"}]}""",
        ["PUT /internal/executions/{id}/result"] = $$"""{"lease_token": "{{w.Lease}}", "exit_code": 0, "error": "", "result": {"a": [1, 2]}, "retryable": true}""",
        ["POST /internal/results"] = $$"""{"results": [{"execution_id": "{{w.Running}}", "lease_token": "{{w.Lease}}", "exit_code": 0, "error": "", "result": {"a": [1, 2]}, "retryable": true, "runtime": "exec", "duration_seconds": 0.5, "trace_parent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}]}""",
        ["POST /internal/executions/{id}/release"] = $$"""{"lease_token": "{{w.Lease}}", "reason": "shutdown"}""",
        ["POST /internal/executions/{id}/resume"] = $$"""{"lease_token": "{{w.Lease}}", "worker_id": "test-worker"}""",
    };

    private sealed record Input(string Label, byte[]? Body, string? ContentType = "application/json", bool Oversized = false, bool Chunked = false);

    private static readonly string[] WrongValues =
        ["123", "-1", "0", "2147483648", "-9223372036854775809", "1.5", "1e400", "-1e400", "99999999999999999999999999", "\"s\"", "\"\"", "true",
         "null", "[]", "{}", "[null]", "[1, \"a\", {}]", "{\"x\": 1}", "\"\\u0000\"", "\"\\ud800\"", "\"2031-13-45T99:99:99Z\"", "\"not-a-uuid\""];

    private static IEnumerable<Input> Inputs(Random random, string? sample, long? limit)
    {
        var json = sample ?? "{}";
        var bytes = Encoding.UTF8.GetBytes(json);
        yield return new("valid sample", sample is null ? null : bytes);
        yield return new("no body", null, null);
        yield return new("empty body", []);
        yield return new("whitespace", "  \r\n\t "u8.ToArray());
        foreach (var literal in new[] { "null", "{}", "[]", "\"x\"", "0", "true", "[{}]", "{\"\": null}" })
            yield return new($"literal {literal}", Encoding.UTF8.GetBytes(literal));
        for (var i = 0; i < 4; i++)
        {
            var noise = new byte[random.Next(1, 600)];
            random.NextBytes(noise);
            yield return new("random bytes", noise);
        }
        for (var i = 0; i < 3; i++) yield return new("truncated", bytes[..random.Next(0, bytes.Length)]);
        for (var i = 0; i < 4; i++)
        {
            var mutated = (byte[])bytes.Clone();
            for (var k = random.Next(1, 4); k > 0; k--) mutated[random.Next(mutated.Length)] = (byte)"{}[]\",:0123456789-.eE \\tnulx\u00ff"[random.Next(24)];
            yield return new("mutated", mutated);
        }

        var root = JsonNode.Parse(json)!;
        var paths = Paths(root, "").ToList();
        foreach (var (path, node) in paths)
        {
            // A few wrong values per field, each in place of the real one.
            foreach (var value in WrongValues.OrderBy(_ => random.Next()).Take(5))
                yield return new($"{path} = {value}", Replace(root, path, value));
            if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String)
            {
                var size = (int)Math.Min((limit ?? 64 * 1024) / 2, 1024 * 1024);
                yield return new($"{path} = huge string ({size})", Replace(root, path, JsonSerializer.Serialize(new string('x', size))));
                yield return new($"{path} = control characters", Replace(root, path, "\"a\\u0001\\n\\u001b[31m\\t\""));
            }
            if (node is JsonArray a)
            {
                var element = a.Count > 0 ? a[0]!.ToJsonString() : "\"x\"";
                var count = (int)Math.Min((limit ?? 64 * 1024) / (element.Length + 1) - 10, 30_000);
                if (count > 0) yield return new($"{path} = huge array ({count})", Replace(root, path, "[" + string.Join(",", Enumerable.Repeat(element, count)) + "]"));
            }
        }
        if (root is JsonObject obj && obj.Count > 0)
        {
            var first = obj.First();
            yield return new("duplicate key", Encoding.UTF8.GetBytes(json.TrimEnd()[..^1] + $", \"{first.Key}\": {first.Value?.ToJsonString() ?? "null"}}}"));
            yield return new("unknown field", Encoding.UTF8.GetBytes(json.TrimEnd()[..^1] + ", \"zz_unknown\": 1}"));
            yield return new("keys in other case", Encoding.UTF8.GetBytes(json.ToUpperInvariant()));
        }
        yield return new("deep arrays", Encoding.UTF8.GetBytes(new string('[', 4000) + new string(']', 4000)));
        yield return new("deep objects", Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"a\":", 1500)) + "1" + new string('}', 1500)));
        yield return new("UTF-16 body", Encoding.Unicode.GetBytes(json));
        yield return new("BOM", [0xEF, 0xBB, 0xBF, .. bytes]);
        yield return new("comment", Encoding.UTF8.GetBytes("/* c */" + json));
        yield return new("trailing comma", Encoding.UTF8.GetBytes(json.TrimEnd()[..^1] + ",}"));
        foreach (var type in new[] { "text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=utf-16", "*/*", "garbage" })
            yield return new($"content type {type}", bytes, type);
        yield return new("valid body without content type", bytes, null);
        if (limit is { } max)
        {
            var over = Encoding.UTF8.GetBytes("{\"name\": \"" + new string('x', (int)max + 1 - 12) + "\"}");
            Assert.Equal(max + 1, over.Length);
            yield return new("just over the limit", over, Oversized: true);
            yield return new("just over the limit, chunked", over, Oversized: true, Chunked: true);
        }
    }

    private static IEnumerable<(string Path, JsonNode Node)> Paths(JsonNode node, string prefix)
    {
        if (node is JsonObject o)
        {
            foreach (var (key, value) in o)
            {
                var path = prefix + "." + key;
                if (value is null) continue;
                yield return (path, value);
                if (value is JsonArray { Count: > 0 } arr && arr[0] is JsonObject) foreach (var p in Paths(arr[0]!, path + "[0]")) yield return p;
                else if (value is JsonObject) foreach (var p in Paths(value, path)) yield return p;
            }
        }
    }

    /// <summary>The sample with the value at path (e.g. .leases[0].lease_token) replaced by raw JSON text.</summary>
    private static byte[] Replace(JsonNode root, string path, string rawValue)
    {
        const string Marker = "\"__fuzz_marker__\"";
        var copy = root.DeepClone();
        JsonNode current = copy;
        var parts = path.TrimStart('.').Split('.');
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            var index = part.EndsWith("[0]", StringComparison.Ordinal);
            var key = index ? part[..^3] : part;
            if (i == parts.Length - 1) { current[key] = JsonNode.Parse(Marker); break; }
            current = index ? current[key]![0]! : current[key]!;
        }
        return Encoding.UTF8.GetBytes(copy.ToJsonString().Replace(Marker, rawValue, StringComparison.Ordinal));
    }

    // (No %00: the in-process test server cannot carry it; Kestrel refuses it itself.)
    private static readonly string[] Garbage =
        ["not-a-uuid", "12345", "-1", "00000000-0000-0000-0000-000000000000", "{00000000-0000-0000-0000-000000000000}", "..%2F..%2Fetc",
         "' or 1=1 --", "%E2%82%AC", new('a', 3000), "null", "undefined", "%20"];

    private static string FillPath(Random random, string pattern, World w, bool realIds)
    {
        var path = pattern;
        foreach (var param in new[] { "{keyId}", "{deliveryId}", "{id}" })
        {
            if (!path.Contains(param, StringComparison.Ordinal)) continue;
            var roll = realIds ? 0 : random.Next(10);
            string value;
            if (roll < 6)
            {
                value = (param, pattern) switch
                {
                    ("{keyId}", _) => w.VictimKey.ToString(),
                    ("{deliveryId}", _) => w.WebhookDelivery.ToString(),
                    (_, var p) when p.StartsWith("/webhooks", StringComparison.Ordinal) => w.Webhook.ToString(),
                    (_, var p) when p.StartsWith("/tenants", StringComparison.Ordinal) => w.Victim.ToString(),
                    (_, var p) when p.StartsWith("/worker-credentials", StringComparison.Ordinal) => w.Credential.ToString(),
                    (_, var p) when p.StartsWith("/api-keys", StringComparison.Ordinal) => w.SpareKey.ToString(),
                    (_, var p) when p.StartsWith("/jobs", StringComparison.Ordinal) => w.Job.ToString(),
                    (_, var p) when p.StartsWith("/schedules", StringComparison.Ordinal) => w.Schedule.ToString(),
                    (_, var p) when p.StartsWith("/executions/dlq", StringComparison.Ordinal) => w.DeadLetter.ToString(),
                    (_, var p) when p.StartsWith("/internal", StringComparison.Ordinal) => w.Running.ToString(),
                    _ => w.Executions[random.Next(w.Executions.Length)].ToString(),
                };
            }
            else value = roll < 8 ? Guid.NewGuid().ToString() : Garbage[random.Next(Garbage.Length)];
            path = path.Replace(param, value, StringComparison.Ordinal);
        }
        return path;
    }

    private static readonly string[] QueryNames = ["limit", "offset", "after_id", "before_id", "before", "status", "job_id", "tenant_id", "follow"];
    private static readonly string[] QueryValues =
        ["0", "-1", "1", "1001", "5001", "abc", "99999999999999999999", "1e3", "", "%00", "true", "false", "yes", "RUNNING", "running", "bogus",
         "2147483647", "-2147483648", "00000000-0000-0000-0000-000000000000", "not-a-uuid", "1.5", " 5"];

    private static string RandomQuery(Random random)
    {
        if (random.Next(3) == 0) return "";
        var parts = new List<string>();
        for (var i = random.Next(1, 4); i > 0; i--)
        {
            var name = QueryNames[random.Next(QueryNames.Length)];
            var value = QueryValues[random.Next(QueryValues.Length)];
            // A follow of an unfinished execution streams until it ends: not a request that answers.
            if (name == "follow" && value is "true") value = "false";
            parts.Add($"{name}={Uri.EscapeDataString(value)}");
        }
        return "?" + string.Join("&", parts);
    }

    private static string RandomText(Random random, int length)
    {
        var chars = new char[length];
        for (var i = 0; i < length; i++) chars[i] = (char)random.Next(0x20, 0x7f);
        return new string(chars);
    }

    private static void CheckError(string what, HttpResponseMessage response, string text, List<string> failures)
    {
        if (response.Content.Headers.ContentType?.MediaType != "application/json")
        {
            failures.Add($"{what}: error content type '{response.Content.Headers.ContentType}': {Show(text)}");
            return;
        }
        try
        {
            var error = JsonSerializer.Deserialize(text, Api.Json.ApiError);
            if (string.IsNullOrWhiteSpace(error?.Error) || string.IsNullOrWhiteSpace(error.Code)) failures.Add($"{what}: error without error/code: {Show(text)}");
        }
        catch (JsonException)
        {
            failures.Add($"{what}: error body is not {{error, code}}: {Show(text)}");
        }
        if (Internals.FirstOrDefault(i => text.Contains(i, StringComparison.Ordinal)) is { } leak)
            failures.Add($"{what}: the error shows internals ('{leak}'): {Show(text)}");
    }

    private static string Show(string s)
    {
        var shown = s.Length > 240 ? s[..240] + $"...({s.Length} chars)" : s;
        return shown.ReplaceLineEndings(" ");
    }

    /// <summary>A body without a known length: sent chunked, so the limit is checked as it arrives.</summary>
    private sealed class NonSeekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}

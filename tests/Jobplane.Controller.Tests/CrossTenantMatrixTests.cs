using System.Net;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>
/// Every route the controller serves, called by every kind of caller with tenant A's real ids in
/// the path: only the route's own kind of principal gets past authentication (401 for everyone
/// else), tenant B gets 404 for every one of A's ids and never sees them in any answer, and nothing
/// of A's changes until A (or the administrator, or a worker holding the lease) acts.
/// </summary>
public sealed class CrossTenantMatrixTests : IClassFixture<CrossTenantMatrixTests.Fixture>
{
    /// <summary>Long leases: A's running executions must not be rescued while the matrix runs.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        // No webhook deliveries in the background: the test event queued below stays pending.
        public ControllerHost Host { get; } = new(new Dictionary<string, string?> { ["HEARTBEAT_VISIBILITY_EXTENSION"] = "10m", ["WEBHOOK_DELIVERY"] = "false" });
        public Task InitializeAsync() => Host.InitializeAsync();
        public Task DisposeAsync() => Host.DisposeAsync();
    }

    private enum Kind { Public, Administrator, Tenant, Worker }

    private enum Caller { None, BadKey, Administrator, TenantA, TenantB, Worker }

    /// <summary>Tenant A's objects (and the ones named in administrator routes).</summary>
    private sealed record Ids(
        Guid TenantA, Guid TenantB, Guid Job, Guid Finished, Guid Dead, Guid DeadLetter, Guid Pending,
        Guid Running, Guid RunningLease, Guid Releasable, Guid ReleasableLease, Guid KeyForAdmin, Guid KeyForTenant, Guid Credential, Guid Schedule,
        Guid Webhook, Guid WebhookDelivery)
    {
        public IEnumerable<Guid> OfA() => [TenantA, Job, Finished, Dead, DeadLetter, Pending, Running, RunningLease, Releasable, ReleasableLease, KeyForAdmin, KeyForTenant, Schedule,
            Webhook, WebhookDelivery];
    }

    /// <param name="Owner">What the route's own principal gets (tenant A for tenant routes).</param>
    /// <param name="TenantB">What tenant B gets on a tenant route: 404 for A's ids, or its own answer on routes without ids.</param>
    private sealed record Case(string Route, Kind Kind, Func<Ids, string> Path, Func<Ids, string?> Body, int Owner, int TenantB = 401);

    private readonly ControllerHost _host;

    public CrossTenantMatrixTests(Fixture fixture) => _host = fixture.Host;

    // The order is the order the owners run in: it keeps the objects later routes need alive
    // (release before nothing else touches it; the job cancel last).
    private static readonly Case[] Cases =
    [
        new("GET /healthz", Kind.Public, _ => "/healthz", _ => null, 200, 200),
        new("GET /readyz", Kind.Public, _ => "/readyz", _ => null, 200, 200),
        // The metrics name every tenant: the administrator's (or the scrape token's) only.
        new("GET /metrics", Kind.Administrator, _ => "/metrics", _ => null, 200),

        new("POST /tenants", Kind.Administrator, _ => "/tenants", _ => $$"""{"name": "t-{{Guid.NewGuid():N}}"}""", 201),
        new("GET /tenants", Kind.Administrator, _ => "/tenants", _ => null, 200),
        new("GET /tenants/{id}", Kind.Administrator, i => $"/tenants/{i.TenantA}", _ => null, 200),
        new("PATCH /tenants/{id}", Kind.Administrator, i => $"/tenants/{i.TenantA}", _ => """{"weight": 2}""", 204),
        new("POST /tenants/{id}/suspend", Kind.Administrator, i => $"/tenants/{i.TenantA}/suspend", _ => null, 200),
        new("POST /tenants/{id}/resume", Kind.Administrator, i => $"/tenants/{i.TenantA}/resume", _ => null, 200),
        new("POST /tenants/{id}/api-keys", Kind.Administrator, i => $"/tenants/{i.TenantA}/api-keys", _ => """{"name": "by-admin"}""", 201),
        new("GET /tenants/{id}/api-keys", Kind.Administrator, i => $"/tenants/{i.TenantA}/api-keys", _ => null, 200),
        new("DELETE /tenants/{id}/api-keys/{keyId}", Kind.Administrator, i => $"/tenants/{i.TenantA}/api-keys/{i.KeyForAdmin}", _ => null, 204),
        new("POST /worker-credentials", Kind.Administrator, _ => "/worker-credentials", i => $$"""{"name": "w", "tenant_ids": ["{{i.TenantA}}"]}""", 201),
        new("GET /worker-credentials", Kind.Administrator, _ => "/worker-credentials", _ => null, 200),
        new("DELETE /worker-credentials/{id}", Kind.Administrator, i => $"/worker-credentials/{i.Credential}", _ => null, 204),
        new("GET /audit", Kind.Administrator, i => $"/audit?tenant_id={i.TenantA}", _ => null, 200),

        new("POST /internal/executions/dequeue", Kind.Worker, _ => "/internal/executions/dequeue",
            i => $$"""{"limit": 5, "tenant_ids": ["{{i.TenantB}}"], "wait_seconds": 0}""", 200),
        new("POST /internal/heartbeats", Kind.Worker, _ => "/internal/heartbeats",
            i => $$"""{"leases": [{"execution_id": "{{i.Running}}", "lease_token": "{{i.RunningLease}}"}]}""", 200),
        new("PUT /internal/executions/{id}/heartbeat", Kind.Worker, i => $"/internal/executions/{i.Running}/heartbeat",
            i => $$"""{"lease_token": "{{i.RunningLease}}"}""", 200),
        new("POST /internal/executions/{id}/resume", Kind.Worker, i => $"/internal/executions/{i.Running}/resume",
            i => $$"""{"lease_token": "{{i.RunningLease}}", "worker_id": "test-worker"}""", 200),
        new("POST /internal/executions/{id}/logs", Kind.Worker, i => $"/internal/executions/{i.Running}/logs",
            i => $$"""{"lease_token": "{{i.RunningLease}}", "content": "more output of A"}""", 204),
        new("PUT /internal/executions/{id}/result", Kind.Worker, i => $"/internal/executions/{i.Running}/result",
            i => $$"""{"lease_token": "{{i.RunningLease}}", "exit_code": 0}""", 200),
        new("POST /internal/results", Kind.Worker, _ => "/internal/results",
            i => $$"""{"results": [{"execution_id": "{{i.Running}}", "lease_token": "{{i.RunningLease}}", "exit_code": 0}]}""", 200),
        new("POST /internal/executions/{id}/release", Kind.Worker, i => $"/internal/executions/{i.Releasable}/release",
            i => $$"""{"lease_token": "{{i.ReleasableLease}}"}""", 204),

        new("POST /api-keys", Kind.Tenant, _ => "/api-keys", _ => """{"name": "second"}""", 201, 201),
        new("GET /api-keys", Kind.Tenant, _ => "/api-keys", _ => null, 200, 200),
        new("DELETE /api-keys/{id}", Kind.Tenant, i => $"/api-keys/{i.KeyForTenant}", _ => null, 204, 404),
        new("POST /jobs", Kind.Tenant, _ => "/jobs", _ => $$"""{"name": "j-{{Guid.NewGuid():N}}", "image": "exec", "command": ["true"]}""", 201, 201),
        new("GET /jobs", Kind.Tenant, _ => "/jobs", _ => null, 200, 200),
        new("GET /jobs/{id}", Kind.Tenant, i => $"/jobs/{i.Job}", _ => null, 200, 404),
        new("POST /jobs/{id}/run", Kind.Tenant, i => $"/jobs/{i.Job}/run", _ => """{"timeout": 30}""", 201, 404),
        new("POST /jobs/{id}/runs", Kind.Tenant, i => $"/jobs/{i.Job}/runs", _ => """{"count": 2}""", 201, 404),
        new("GET /executions", Kind.Tenant, i => $"/executions?job_id={i.Job}", _ => null, 200, 200),
        new("GET /executions/{id}", Kind.Tenant, i => $"/executions/{i.Finished}", _ => null, 200, 404),
        new("GET /executions/{id}/attempts", Kind.Tenant, i => $"/executions/{i.Finished}/attempts", _ => null, 200, 404),
        new("GET /executions/{id}/logs", Kind.Tenant, i => $"/executions/{i.Finished}/logs", _ => null, 200, 404),
        new("GET /executions/dlq", Kind.Tenant, _ => "/executions/dlq", _ => null, 200, 200),
        new("POST /executions/dlq/{id}/retry", Kind.Tenant, i => $"/executions/dlq/{i.DeadLetter}/retry", _ => null, 201, 404),
        new("POST /executions/dlq/retry", Kind.Tenant, _ => "/executions/dlq/retry", i => $$"""{"job_id": "{{i.Job}}"}""", 200, 200),
        new("POST /executions/dlq/purge", Kind.Tenant, _ => "/executions/dlq/purge", i => $$"""{"job_id": "{{i.Job}}"}""", 200, 200),
        // Tenant B cannot schedule A's job: 404 as for any of A's ids.
        new("POST /schedules", Kind.Tenant, _ => "/schedules", i => $$"""{"name": "s-{{Guid.NewGuid():N}}", "job_id": "{{i.Job}}", "cron": "0 * * * *"}""", 201, 404),
        new("GET /schedules", Kind.Tenant, _ => "/schedules", _ => null, 200, 200),
        new("GET /schedules/{id}", Kind.Tenant, i => $"/schedules/{i.Schedule}", _ => null, 200, 404),
        new("PATCH /schedules/{id}", Kind.Tenant, i => $"/schedules/{i.Schedule}", _ => """{"misfire": "skip"}""", 200, 404),
        new("POST /schedules/{id}/pause", Kind.Tenant, i => $"/schedules/{i.Schedule}/pause", _ => null, 200, 404),
        new("POST /schedules/{id}/resume", Kind.Tenant, i => $"/schedules/{i.Schedule}/resume", _ => null, 200, 404),
        new("POST /schedules/{id}/trigger", Kind.Tenant, i => $"/schedules/{i.Schedule}/trigger", _ => null, 201, 404),
        new("GET /schedules/{id}/history", Kind.Tenant, i => $"/schedules/{i.Schedule}/history", _ => null, 200, 404),
        new("DELETE /schedules/{id}", Kind.Tenant, i => $"/schedules/{i.Schedule}", _ => null, 204, 404),
        new("POST /webhooks", Kind.Tenant, _ => "/webhooks", _ => """{"url": "https://93.184.215.14/hook", "events": ["execution.failed"]}""", 201, 201),
        new("GET /webhooks", Kind.Tenant, _ => "/webhooks", _ => null, 200, 200),
        new("GET /webhooks/{id}", Kind.Tenant, i => $"/webhooks/{i.Webhook}", _ => null, 200, 404),
        new("PATCH /webhooks/{id}", Kind.Tenant, i => $"/webhooks/{i.Webhook}", _ => """{"description": "mine"}""", 200, 404),
        new("POST /webhooks/{id}/rotate-secret", Kind.Tenant, i => $"/webhooks/{i.Webhook}/rotate-secret", _ => null, 200, 404),
        new("POST /webhooks/{id}/test", Kind.Tenant, i => $"/webhooks/{i.Webhook}/test", _ => null, 202, 404),
        new("GET /webhooks/{id}/deliveries", Kind.Tenant, i => $"/webhooks/{i.Webhook}/deliveries", _ => null, 200, 404),
        new("GET /webhooks/{id}/deliveries/{deliveryId}", Kind.Tenant, i => $"/webhooks/{i.Webhook}/deliveries/{i.WebhookDelivery}", _ => null, 200, 404),
        // Still pending (nothing delivers here): the owner is told so, tenant B finds nothing.
        new("POST /webhooks/{id}/deliveries/{deliveryId}/redeliver", Kind.Tenant, i => $"/webhooks/{i.Webhook}/deliveries/{i.WebhookDelivery}/redeliver", _ => null, 409, 404),
        new("DELETE /webhooks/{id}", Kind.Tenant, i => $"/webhooks/{i.Webhook}", _ => null, 204, 404),
        new("POST /executions/{id}/cancel", Kind.Tenant, i => $"/executions/{i.Pending}/cancel", _ => null, 200, 404),
        new("POST /jobs/{id}/cancel", Kind.Tenant, i => $"/jobs/{i.Job}/cancel", _ => null, 200, 404),
    ];

    [Fact]
    public void Every_served_route_has_a_row_in_the_matrix()
    {
        var served = RouteTable.ApiRoutes(_host).Select(r => r.Key).ToHashSet();
        var table = Cases.Select(c => c.Route).ToList();
        Assert.Equal(table.Count, table.Distinct().Count());
        var missing = served.Except(table).ToList();
        var stale = table.Except(served).ToList();
        Assert.True(missing.Count == 0 && stale.Count == 0,
            $"routes without an expected outcome: {string.Join(", ", missing)}; rows for routes that do not exist: {string.Join(", ", stale)}");
    }

    [Fact]
    public async Task Every_route_by_every_caller_with_tenant_As_ids()
    {
        var ids = await ArrangeAsync();
        var clients = new Dictionary<Caller, HttpClient>
        {
            [Caller.None] = _host.Client(),
            [Caller.BadKey] = _host.Client("jp_00000000_not-a-real-key-0000000000000000"),
            [Caller.Administrator] = _host.AdminClient(),
            [Caller.TenantA] = _host.Client(_keyA),
            [Caller.TenantB] = _host.Client(_keyB),
            [Caller.Worker] = _host.WorkerClient(),
        };
        var failures = new List<string>();
        var requests = 0;
        try
        {
            // Everyone but the owner first: none of it may change anything of A's.
            var before = await DbState.SnapshotAsync(_host, ids.TenantA);
            foreach (var c in Cases)
            {
                foreach (var caller in Enum.GetValues<Caller>().Where(k => !IsOwner(c.Kind, k)))
                {
                    var expected = c.Kind == Kind.Public ? 200 : c.Kind == Kind.Tenant && caller == Caller.TenantB ? c.TenantB : 401;
                    var (status, body) = await SendAsync(clients[caller], c, ids);
                    requests++;
                    var what = $"{caller,-13} {c.Route} ({c.Path(ids)})";
                    if (status != expected) failures.Add($"{what}: expected {expected}, got {status}: {Trim(body)}");
                    if (status >= 400) CheckError(what, body, failures);
                    var leaked = ids.OfA().FirstOrDefault(id => body.Contains(id.ToString(), StringComparison.OrdinalIgnoreCase));
                    if (caller == Caller.TenantB && leaked != Guid.Empty)
                        failures.Add($"{what}: the answer names A's {leaked}: {Trim(body)}");
                    if (body.Contains("secret output of A", StringComparison.Ordinal) && caller != Caller.TenantA)
                        failures.Add($"{what}: the answer holds A's log output");
                }
            }
            var after = await DbState.SnapshotAsync(_host, ids.TenantA);
            Assert.True(failures.Count == 0, $"{failures.Count} of {requests} requests went wrong:\n{string.Join("\n", failures)}");
            Assert.True(DbState.Diff(before, after).Length == 0, $"A's data changed by other callers: {DbState.Diff(before, after)}");

            // Then each route's owner: it works on A's ids.
            foreach (var c in Cases.Where(c => c.Kind != Kind.Public))
            {
                var caller = c.Kind switch { Kind.Administrator => Caller.Administrator, Kind.Worker => Caller.Worker, _ => Caller.TenantA };
                var (status, body) = await SendAsync(clients[caller], c, ids);
                requests++;
                if (status != c.Owner) failures.Add($"{caller,-13} {c.Route} ({c.Path(ids)}): expected {c.Owner}, got {status}: {Trim(body)}");
            }
            Assert.True(failures.Count == 0, $"owners refused:\n{string.Join("\n", failures)}");
            Assert.Equal(Cases.Length * Enum.GetValues<Caller>().Length, requests);
        }
        finally
        {
            foreach (var c in clients.Values) c.Dispose();
        }
    }

    private string _keyA = "";
    private string _keyB = "";

    private async Task<Ids> ArrangeAsync()
    {
        using var worker = _host.WorkerClient();
        using var admin = _host.AdminClient();
        var (a, clientA) = await _host.TenantClientAsync();
        var (b, clientB) = await _host.TenantClientAsync();
        _keyA = a.ApiKey;
        _keyB = b.ApiKey;
        using (clientB)
        using (clientA)
        {
            var jobId = await Api.CreateJobAsync(clientA, maxAttempts: 1);
            var finished = await Api.RunAsync(clientA, jobId);
            var claim = await Api.ClaimAsync(worker, a.TenantId, finished.ExecutionId);
            await Api.ShipLogsAsync(worker, claim.ExecutionId, claim.LeaseToken, "secret output of A");
            Assert.Equal(ExecutionStatus.Succeeded, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 0));

            var dead = await Api.RunAsync(clientA, jobId);
            var deadClaim = await Api.ClaimAsync(worker, a.TenantId, dead.ExecutionId);
            Assert.Equal(ExecutionStatus.Failed, await Api.ResultAsync(worker, dead.ExecutionId, deadClaim.LeaseToken, 1));
            var deadLetter = Assert.Single(await Api.ReadAsync(await clientA.GetAsync("/executions/dlq"), Api.Json.IReadOnlyListDlqEntry)).Id;

            var running = await Api.RunAsync(clientA, jobId);
            var runningClaim = await Api.ClaimAsync(worker, a.TenantId, running.ExecutionId);
            var releasable = await Api.RunAsync(clientA, jobId);
            var releasableClaim = await Api.ClaimAsync(worker, a.TenantId, releasable.ExecutionId);
            var pending = await Api.RunAsync(clientA, jobId);

            var keyForAdmin = await Api.ReadAsync(await clientA.PostAsync("/api-keys", Api.RawJson("""{"name": "a-admin"}""")), Api.Json.CreateApiKeyResponse, HttpStatusCode.Created);
            var keyForTenant = await Api.ReadAsync(await clientA.PostAsync("/api-keys", Api.RawJson("""{"name": "a-own"}""")), Api.Json.CreateApiKeyResponse, HttpStatusCode.Created);
            var credential = await Api.ReadAsync(await admin.PostAsync("/worker-credentials", Api.RawJson("""{"name": "spare"}""")),
                Api.Json.CreateWorkerCredentialResponse, HttpStatusCode.Created);
            // Due on the first of January only: it does not fire while the matrix runs.
            var schedule = await Api.ReadAsync(await clientA.PostAsync("/schedules",
                Api.RawJson($$"""{"name": "yearly", "job_id": "{{jobId}}", "cron": "0 0 1 1 *"}""")), Api.Json.ScheduleView, HttpStatusCode.Created);
            var webhook = await Api.ReadAsync(await clientA.PostAsync("/webhooks",
                Api.RawJson("""{"url": "https://93.184.215.14/hook", "events": ["execution.failed"]}""")), Api.Json.WebhookView, HttpStatusCode.Created);
            var delivery = await Api.ReadAsync(await clientA.PostAsync($"/webhooks/{webhook.Id}/test", null), Api.Json.WebhookTestResponse, HttpStatusCode.Accepted);
            return new Ids(a.TenantId, b.TenantId, jobId, finished.ExecutionId, dead.ExecutionId, deadLetter, pending.ExecutionId,
                running.ExecutionId, runningClaim.LeaseToken, releasable.ExecutionId, releasableClaim.LeaseToken, keyForAdmin.Id, keyForTenant.Id, credential.Id,
                schedule.Id, webhook.Id, delivery.DeliveryId);
        }
    }

    private static bool IsOwner(Kind kind, Caller caller) => kind switch
    {
        Kind.Administrator => caller == Caller.Administrator,
        Kind.Worker => caller == Caller.Worker,
        Kind.Tenant => caller == Caller.TenantA,
        _ => false,
    };

    private static async Task<(int Status, string Body)> SendAsync(HttpClient client, Case c, Ids ids)
    {
        var method = new HttpMethod(c.Route[..c.Route.IndexOf(' ', StringComparison.Ordinal)]);
        using var request = Api.Request(method, c.Path(ids), c.Body(ids));
        using var response = await client.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static void CheckError(string what, string body, List<string> failures)
    {
        try
        {
            var error = JsonSerializer.Deserialize(body, Api.Json.ApiError);
            if (string.IsNullOrEmpty(error?.Error) || string.IsNullOrEmpty(error.Code)) failures.Add($"{what}: error body without error/code: {Trim(body)}");
        }
        catch (JsonException)
        {
            failures.Add($"{what}: error body is not JSON {{error, code}}: {Trim(body)}");
        }
    }

    private static string Trim(string s) => s.Length > 300 ? s[..300] + "..." : s;
}

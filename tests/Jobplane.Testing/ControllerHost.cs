using System.Net.Http.Headers;
using System.Net.Http.Json;
using Jobplane.Api;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Jobplane.Testing;

/// <summary>
/// The real controller (the same Program, middleware and SQL) hosted in-process on a fresh real
/// PostgreSQL database, with short maintenance and backoff periods so tests do not wait.
/// Only the network transport is in-memory; use <see cref="CreateHandler"/> to point any
/// HttpClient-based component (worker, jobctl) at it.
/// </summary>
public sealed class ControllerHost : IAsyncLifetime
{
    public const string AdminSecret = "test-admin-secret-0123456789";
    public const string WorkerToken = "test-worker-token-0123456789";

    private readonly Dictionary<string, string?> _settings;
    private WebApplicationFactory<Program>? _factory;

    private readonly ControllerHost? _primary;

    /// <summary>
    /// Another replica of <paramref name="primary"/>'s controller: its own process state (limiters,
    /// caches, listeners) on the same database, as a second controller behind a load balancer would be.
    /// Initialize it after the primary; it leaves the database to the primary.
    /// </summary>
    public ControllerHost(ControllerHost primary, IDictionary<string, string?>? settings = null)
        : this(settings)
    {
        _primary = primary;
        Database = primary.Database;
    }

    public ControllerHost(IDictionary<string, string?>? settings = null)
    {
        _settings = new Dictionary<string, string?>
        {
            ["SYSTEM_SECRET"] = AdminSecret,
            ["WORKER_TOKEN"] = WorkerToken,
            ["MAINTENANCE_INTERVAL"] = "100ms",
            ["RETRY_BACKOFF_BASE"] = "100ms",
            ["RETRY_BACKOFF_MAX"] = "1s",
            ["HEARTBEAT_VISIBILITY_EXTENSION"] = "30s",
            // Tests run image exec jobs of the tenants they create, also with workers naming no runtime: no
            // restriction, as before. The default (container runtimes only) has tests of its own.
            ["TENANT_DEFAULT_RUNTIMES"] = "any",
        };
        if (settings is not null)
        {
            foreach (var (k, v) in settings) _settings[k] = v;
        }
    }

    public TestDatabase Database { get; private init; } = new();

    public Uri BaseAddress => _factory!.Server.BaseAddress;

    public async Task InitializeAsync()
    {
        if (_primary is null) await Database.InitializeAsync();
        _settings["DATABASE_URL"] = Database.ConnectionString;
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            foreach (var (k, v) in _settings) b.UseSetting(k, v);
            b.ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Warning));
        });
        _ = _factory.Server; // start now, so configuration errors surface here
        Contract = new OpenApiContract(async () =>
        {
            using var unchecked_ = _factory.CreateClient();
            return await unchecked_.GetStringAsync(Routes.OpenApi);
        });
    }

    /// <summary>The OpenAPI document this controller serves, which every <see cref="Client"/> answer is checked against.</summary>
    public OpenApiContract Contract { get; private set; } = null!;

    public async Task DisposeAsync()
    {
        // How many answers the document was checked against, for whoever wants the count of a run.
        if (Contract is not null && Environment.GetEnvironmentVariable("JOBPLANE_TEST_OPENAPI_TALLY") is { Length: > 0 } tally)
            await File.AppendAllTextAsync(tally, $"{Contract.Checked} {Contract.Unmatched}\n");
        if (_factory is not null) await _factory.DisposeAsync();
        if (_primary is null) await Database.DisposeAsync();
    }

    public IServiceProvider Services => _factory!.Services;

    public HttpMessageHandler CreateHandler() => _factory!.Server.CreateHandler();

    /// <summary>
    /// An HttpClient for the controller with the given bearer token (or none). It follows no
    /// redirects, and every answer it receives is checked against the served OpenAPI document.
    /// </summary>
    public HttpClient Client(string? token = null) => Client(token, []);

    /// <summary>As <see cref="Client(string?)"/>, with <paramref name="outer"/> handlers seeing each request before the check.</summary>
    public HttpClient Client(string? token, params DelegatingHandler[] outer)
    {
        var client = _factory!.CreateDefaultClient([.. outer, new OpenApiResponseCheck(Contract)]);
        if (token is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public HttpClient AdminClient() => Client(AdminSecret);

    public HttpClient WorkerClient() => Client(WorkerToken);

    /// <summary>Creates a tenant through the API and returns it with its API key.</summary>
    public async Task<CreateTenantResponse> CreateTenantAsync(string? name = null, int? maxConcurrent = null)
    {
        using var admin = AdminClient();
        var response = await admin.PostAsJsonAsync("/tenants",
            new TenantRequest { Name = name ?? $"tenant-{Guid.NewGuid():N}", MaxConcurrentExecutions = maxConcurrent },
            JobplaneJsonContext.Default.TenantRequest);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.CreateTenantResponse))!;
    }

    /// <summary>Creates a tenant and returns an HttpClient authenticated as it.</summary>
    public async Task<(CreateTenantResponse Tenant, HttpClient Client)> TenantClientAsync(string? name = null)
    {
        var tenant = await CreateTenantAsync(name);
        return (tenant, Client(tenant.ApiKey));
    }
}

using System.Net;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Controller.Images;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>
/// Two replicas on one database: one allowing any registry (as before the operator set
/// IMAGE_REGISTRIES), one allowing only some. Jobs created through the first and run through the
/// second are jobs whose registry the operator narrowed away after they were created.
/// </summary>
public sealed class NarrowedRegistriesFixture : IAsyncLifetime
{
    public const string Allowed = " ghcr.io, Registry.Example.com:5000 ,localhost";

    public ControllerHost Wide { get; } = new();
    public ControllerHost Narrow { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Wide.InitializeAsync();
        Narrow = new ControllerHost(Wide, new Dictionary<string, string?> { [RegistryAllowList.Setting] = Allowed });
        await Narrow.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await Narrow.DisposeAsync();
        await Wide.DisposeAsync();
    }
}

/// <summary>IMAGE_REGISTRIES: jobs take their images only from the registries the operator lists, at creation and at every submission.</summary>
public sealed class ImageRegistryTests(NarrowedRegistriesFixture fixture) : IClassFixture<NarrowedRegistriesFixture>
{
    private const string Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    private ControllerHost Wide => fixture.Wide;
    private ControllerHost Narrow => fixture.Narrow;

    private static Task<HttpResponseMessage> PostJobAsync(HttpClient client, string image, int maxAttempts = 1) =>
        client.PostAsync("/jobs", Api.RawJson(JsonSerializer.Serialize(
            new CreateJobRequest { Name = $"job-{Guid.NewGuid():N}", Image = image, Command = ["true"], MaxAttempts = maxAttempts },
            Api.Json.CreateJobRequest)));

    private static async Task<Guid> CreateJobAsync(HttpClient client, string image, int maxAttempts = 1) =>
        (await Api.ReadAsync(await PostJobAsync(client, image, maxAttempts), Api.Json.CreateJobResponse, HttpStatusCode.Created)).JobId;

    private async Task<long> CountAsync(string sql, Guid id)
    {
        await using var cmd = Wide.Database.DataSource.CreateCommand(sql);
        cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = id });
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    private Task<long> JobsOfAsync(Guid tenantId) => CountAsync("select count(*) from jobs where tenant_id = $1", tenantId);

    private Task<long> ExecutionsOfAsync(Guid jobId) => CountAsync("select count(*) from executions where job_id = $1", jobId);

    /// <summary>A job of the tenant created while any registry was allowed, run once and failed for good: a dead letter.</summary>
    private async Task<(Guid JobId, Guid ExecutionId)> DeadLetterAsync(CreateTenantResponse tenant, HttpClient viaWide, string image)
    {
        using var worker = Wide.WorkerClient();
        var jobId = await CreateJobAsync(viaWide, image);
        var run = await Api.RunAsync(viaWide, jobId);
        var claim = await Api.ClaimAsync(worker, tenant.TenantId, run.ExecutionId);
        Assert.Equal(ExecutionStatus.Failed, await Api.ResultAsync(worker, run.ExecutionId, claim.LeaseToken, 1));
        return (jobId, run.ExecutionId);
    }

    [Theory]
    [InlineData("ubuntu", "docker.io")]
    [InlineData("library/ubuntu:24.04", "docker.io")]
    [InlineData("index.docker.io/acme/tool", "docker.io")]
    [InlineData("my_registry/x", "docker.io")]
    [InlineData("registry.example.com/team/app:1", "registry.example.com")]
    [InlineData("registry.example.com:5001/team/app:1", "registry.example.com:5001")]
    [InlineData("localhost:5000/x", "localhost:5000")]
    [InlineData("quay.io/acme/tool@" + Digest, "quay.io")]
    public async Task Creating_a_job_from_a_registry_not_listed_is_refused_naming_the_registry_and_nothing_is_stored(string image, string registry)
    {
        var (tenant, viaNarrow) = await Narrow.TenantClientAsync();

        var error = await Api.AssertErrorAsync(await PostJobAsync(viaNarrow, image), HttpStatusCode.Forbidden, ErrorCodes.ImageNotAllowed);

        Assert.Contains($"registry {registry},", error.Error, StringComparison.Ordinal);
        Assert.Contains("IMAGE_REGISTRIES", error.Error, StringComparison.Ordinal);
        // The operator's other registries are not told to tenants.
        Assert.DoesNotContain("ghcr.io", error.Error, StringComparison.Ordinal);
        Assert.Equal(0, await JobsOfAsync(tenant.TenantId));
    }

    [Theory]
    [InlineData("ghcr.io/acme/tool:1")]
    [InlineData("GHCR.IO/acme/tool@" + Digest)]
    [InlineData("REGISTRY.EXAMPLE.COM:5000/team/app:v2")]
    [InlineData("registry.example.com:5000/a/b/c")]
    [InlineData("LOCALHOST/x")]
    [InlineData("localhost/x:1")]
    [InlineData("exec")]
    public async Task A_listed_registry_matches_whatever_its_case_with_its_port_and_exec_needs_none(string image)
    {
        var (tenant, viaNarrow) = await Narrow.TenantClientAsync();

        var jobId = await CreateJobAsync(viaNarrow, image);

        Assert.Equal(1, await JobsOfAsync(tenant.TenantId));
        await Api.RunAsync(viaNarrow, jobId);
        Assert.Equal(1, await ExecutionsOfAsync(jobId));
    }

    [Theory]
    [InlineData("Ubuntu", "must be lowercase")]
    [InlineData("ghcr.io/Acme/tool", "must be lowercase")]
    [InlineData("ghcr.io//tool", "empty component")]
    [InlineData("ub untu", "not a repository path component")]
    [InlineData("ubuntu:bad tag", "is not a tag")]
    [InlineData("ubuntu:", "tag after ':' is empty")]
    [InlineData("ghcr.io/a/b@sha256:123", "digest must be 64")]
    [InlineData("bad_host.example.com/x", "is not a registry host")]
    public async Task A_reference_the_engine_cannot_read_is_refused_with_400_whatever_the_registries(string image, string why)
    {
        foreach (var host in new[] { Wide, Narrow })
        {
            var (tenant, client) = await host.TenantClientAsync();

            var error = await Api.AssertErrorAsync(await PostJobAsync(client, image), HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument);

            Assert.StartsWith($"image '{image}' is not a valid image reference", error.Error, StringComparison.Ordinal);
            Assert.Contains(why, error.Error, StringComparison.Ordinal);
            Assert.Equal(0, await JobsOfAsync(tenant.TenantId));
        }
    }

    [Fact]
    public async Task Running_a_job_whose_registry_is_no_longer_allowed_is_refused_and_nothing_is_queued()
    {
        var (tenant, viaWide) = await Wide.TenantClientAsync();
        using var viaNarrow = Narrow.Client(viaWide.DefaultRequestHeaders.Authorization!.Parameter);
        var jobId = await CreateJobAsync(viaWide, "docker.io/library/ubuntu:24.04");

        // Twice: the second request is admitted on the key this replica just verified, and still refused.
        for (var i = 0; i < 2; i++)
        {
            var error = await Api.AssertErrorAsync(await viaNarrow.PostAsync($"/jobs/{jobId}/run", null), HttpStatusCode.Forbidden, ErrorCodes.ImageNotAllowed);
            Assert.Contains(jobId.ToString(), error.Error, StringComparison.Ordinal);
            Assert.Contains("registry docker.io,", error.Error, StringComparison.Ordinal);
            Assert.Contains("IMAGE_REGISTRIES", error.Error, StringComparison.Ordinal);
        }
        await Api.AssertErrorAsync(await Api.RunWithKeyAsync(viaNarrow, jobId, "order-1"), HttpStatusCode.Forbidden, ErrorCodes.ImageNotAllowed);
        await Api.AssertErrorAsync(await viaNarrow.PostAsync($"/jobs/{jobId}/runs", Api.RawJson("""{"count": 5}""")),
            HttpStatusCode.Forbidden, ErrorCodes.ImageNotAllowed);
        Assert.Equal(0, await ExecutionsOfAsync(jobId));
        Assert.Equal(0, await CountAsync("select count(*) from ready_queue where tenant_id = $1", tenant.TenantId));
        Assert.Equal(0, await CountAsync("select count(*) from idempotency_keys where tenant_id = $1", tenant.TenantId));

        // Unknown jobs are still 404, not a refusal.
        await Api.AssertErrorAsync(await viaNarrow.PostAsync($"/jobs/{Guid.NewGuid()}/run", null), HttpStatusCode.NotFound);
        // The replica that allows any registry runs it, as before the operator narrowed the list.
        await Api.RunAsync(viaWide, jobId);
        Assert.Equal(1, await ExecutionsOfAsync(jobId));
    }

    [Fact]
    public async Task A_revoked_key_admitted_on_a_recent_verification_gets_401_not_the_refusal()
    {
        var (_, viaWide) = await Wide.TenantClientAsync();
        var jobId = await CreateJobAsync(viaWide, "ubuntu");
        var created = await Api.ReadAsync(await viaWide.PostAsync("/api-keys", Api.RawJson("""{"name": "ci"}""")),
            Api.Json.CreateApiKeyResponse, HttpStatusCode.Created);
        using var viaNarrow = Narrow.Client(created.ApiKey);
        await Api.AssertErrorAsync(await viaNarrow.PostAsync($"/jobs/{jobId}/run", null), HttpStatusCode.Forbidden, ErrorCodes.ImageNotAllowed);

        Assert.Equal(HttpStatusCode.NoContent, (await viaWide.DeleteAsync($"/api-keys/{created.Id}")).StatusCode);

        await Api.AssertErrorAsync(await viaNarrow.PostAsync($"/jobs/{jobId}/run", null), HttpStatusCode.Unauthorized, ErrorCodes.Unauthorized);
    }

    [Fact]
    public async Task Retrying_dead_letters_of_a_job_whose_registry_is_no_longer_allowed_is_refused_and_retries_nothing()
    {
        var (tenant, viaWide) = await Wide.TenantClientAsync();
        using var viaNarrow = Narrow.Client(viaWide.DefaultRequestHeaders.Authorization!.Parameter);
        var (hubJob, hubExecution) = await DeadLetterAsync(tenant, viaWide, "busybox:1");
        var (ghcrJob, _) = await DeadLetterAsync(tenant, viaWide, "ghcr.io/acme/tool:1");

        var one = await Api.AssertErrorAsync(await viaNarrow.PostAsync($"/executions/dlq/{hubExecution}/retry", null),
            HttpStatusCode.Forbidden, ErrorCodes.ImageNotAllowed);
        Assert.Contains("registry docker.io,", one.Error, StringComparison.Ordinal);
        var all = await Api.AssertErrorAsync(await viaNarrow.PostAsync("/executions/dlq/retry", null),
            HttpStatusCode.Forbidden, ErrorCodes.ImageNotAllowed);
        Assert.Contains(hubJob.ToString(), all.Error, StringComparison.Ordinal);
        Assert.Contains("job_id", all.Error, StringComparison.Ordinal);
        await Api.AssertErrorAsync(await viaNarrow.PostAsync("/executions/dlq/retry", Api.RawJson($$"""{"job_id": "{{hubJob}}"}""")),
            HttpStatusCode.Forbidden, ErrorCodes.ImageNotAllowed);
        Assert.Equal(1, await ExecutionsOfAsync(hubJob));
        Assert.Equal(1, await ExecutionsOfAsync(ghcrJob));
        Assert.Equal(2, await CountAsync("select count(*) from dead_letters where tenant_id = $1 and retried_execution_id is null", tenant.TenantId));

        // The allowed job's dead letters can still be retried, by naming it.
        var retried = await Api.ReadAsync(await viaNarrow.PostAsync("/executions/dlq/retry", Api.RawJson($$"""{"job_id": "{{ghcrJob}}"}""")),
            Api.Json.DlqBulkRetryResponse);
        Assert.Equal(1, retried.Retried);
        Assert.Equal(2, await ExecutionsOfAsync(ghcrJob));
        Assert.Equal(1, await ExecutionsOfAsync(hubJob));
        await Api.AssertErrorAsync(await viaNarrow.PostAsync($"/executions/dlq/{Guid.NewGuid()}/retry", null), HttpStatusCode.NotFound);
    }

    [Fact]
    public void A_bad_setting_names_itself_and_an_empty_one_allows_any_registry()
    {
        var bad = new SettingReader(k => k == RegistryAllowList.Setting ? "ghcr.io, https://quay.io" : null);
        RegistryAllowList.Read(bad);
        Assert.Contains(bad.Errors, e => e.StartsWith(RegistryAllowList.Setting, StringComparison.Ordinal) && e.Contains("https://quay.io", StringComparison.Ordinal));

        foreach (var empty in new[] { null, "", " ", " , " })
        {
            var read = new SettingReader(k => k == RegistryAllowList.Setting ? empty : null);
            Assert.True(RegistryAllowList.Read(read).AllowsAny);
            Assert.Empty(read.Errors);
        }

        var hub = RegistryAllowList.Read(new SettingReader(k => k == RegistryAllowList.Setting ? "index.docker.io" : null));
        Assert.Equal(["docker.io"], hub.Hosts);
        Assert.Null(hub.Refusal("ubuntu"));
        Assert.Null(hub.Refusal("registry-1.docker.io/acme/tool"));
        Assert.NotNull(hub.Refusal("ghcr.io/acme/tool"));
    }
}

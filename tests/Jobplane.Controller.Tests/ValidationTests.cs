using System.Net;
using System.Text;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>Bad input is refused with a 4xx JSON error naming the problem, and nothing is written.</summary>
public sealed class ValidationTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    public static TheoryData<string, string, string> BadJobBodies => new()
    {
        // label, JSON body, a word the error must contain (the field, or what is wrong)
        { "missing name", """{"image": "exec", "command": ["true"]}""", "name" },
        { "blank name", """{"name": "  ", "image": "exec"}""", "name" },
        { "missing image", """{"name": "n", "command": ["true"]}""", "image" },
        { "priority urgent", """{"name": "n", "image": "exec", "priority": "urgent"}""", "priority" },
        { "priority 101", """{"name": "n", "image": "exec", "priority": 101}""", "priority" },
        { "priority -1", """{"name": "n", "image": "exec", "priority": -1}""", "priority" },
        { "priority 2.5", """{"name": "n", "image": "exec", "priority": 2.5}""", "priority" },
        { "default_timeout 0", """{"name": "n", "image": "exec", "default_timeout": 0}""", "default_timeout" },
        { "max_attempts 0", """{"name": "n", "image": "exec", "max_attempts": 0}""", "max_attempts" },
        { "max_attempts 101", """{"name": "n", "image": "exec", "max_attempts": 101}""", "max_attempts" },
        { "command with a null element", """{"name": "n", "image": "exec", "command": ["echo", null]}""", "command" },
        { "command not a list", """{"name": "n", "image": "exec", "command": "echo hi"}""", "command" },
        { "unknown field", """{"name": "n", "image": "exec", "colour": "blue"}""", "colour" },
        { "wrong type", """{"name": 5, "image": "exec"}""", "name" },
        { "string number", """{"name": "n", "image": "exec", "default_timeout": "60"}""", "default_timeout" },
        { "malformed JSON", """{"name": "n", "image": """, "JSON" },
        { "trailing garbage", """{"name": "n", "image": "exec"} x""", "JSON" },
        { "JSON null", "null", "JSON" },
        { "JSON array", """[{"name": "n", "image": "exec"}]""", "JSON" },
    };

    [Theory]
    [MemberData(nameof(BadJobBodies))]
    public async Task Bad_job_bodies_are_400_naming_the_problem_and_store_nothing(string label, string body, string mentions)
    {
        var (tenant, client) = await _host.TenantClientAsync();
        using var response = await client.PostAsync("/jobs", Api.RawJson(body));
        var error = await Api.AssertErrorAsync(response, HttpStatusCode.BadRequest);
        Assert.True(error.Code is ErrorCodes.InvalidArgument or ErrorCodes.InvalidJson, $"{label}: code {error.Code}");
        Assert.True(error.Error.Contains(mentions, StringComparison.OrdinalIgnoreCase),
            $"{label}: the error should mention '{mentions}': {error.Error}");
        Assert.DoesNotContain("Jobplane.", error.Error, StringComparison.Ordinal);
        Assert.Equal(0L, await _host.Database.ScalarAsync<long>("select count(*) from jobs where tenant_id = $1", tenant.TenantId));
    }

    [Fact]
    public async Task An_empty_body_or_a_non_json_content_type_is_refused_and_stores_nothing()
    {
        var (tenant, client) = await _host.TenantClientAsync();

        using var empty = await client.PostAsync("/jobs", Api.RawJson(""));
        await Api.AssertErrorAsync(empty, HttpStatusCode.BadRequest, ErrorCodes.InvalidJson);

        using var noBody = await client.PostAsync("/jobs", null);
        await Api.AssertErrorAsync(noBody, HttpStatusCode.BadRequest, ErrorCodes.InvalidJson);

        using var text = await client.PostAsync("/jobs",
            new StringContent("""{"name": "n", "image": "exec"}""", Encoding.UTF8, "text/plain"));
        var error = await Api.AssertErrorAsync(text, HttpStatusCode.UnsupportedMediaType);
        Assert.Contains("application/json", error.Error, StringComparison.Ordinal);

        using var form = await client.PostAsync("/jobs",
            new FormUrlEncodedContent([new("name", "n"), new("image", "exec")]));
        await Api.AssertErrorAsync(form, HttpStatusCode.UnsupportedMediaType);

        // Only JSON media types, by type rather than by prefix.
        foreach (var type in new[] { "application/jsonx", "application/json-patch", "text/json+x" })
        {
            using var lookalike = new StringContent(@"{""name"": ""n"", ""image"": ""exec""}", Encoding.UTF8);
            lookalike.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(type);
            await Api.AssertErrorAsync(await client.PostAsync("/jobs", lookalike), HttpStatusCode.UnsupportedMediaType);
        }

        Assert.Equal(0L, await _host.Database.ScalarAsync<long>("select count(*) from jobs where tenant_id = $1", tenant.TenantId));
    }

    [Theory]
    [InlineData("""{"scheduled_at": "not-a-date"}""", "scheduled_at")]
    [InlineData("""{"scheduled_at": 12}""", "scheduled_at")]
    [InlineData("""{"timeout": 0}""", "timeout")]
    [InlineData("""{"priority": "urgent"}""", "priority")]
    [InlineData("""{"when": "now"}""", "when")]
    [InlineData("""{"scheduled_at": """, "JSON")]
    public async Task Bad_run_bodies_are_400_and_create_no_execution(string body, string mentions)
    {
        var (_, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);
        using var response = await client.PostAsync($"/jobs/{jobId}/run", Api.RawJson(body));
        var error = await Api.AssertErrorAsync(response, HttpStatusCode.BadRequest);
        Assert.True(error.Error.Contains(mentions, StringComparison.OrdinalIgnoreCase), $"should mention '{mentions}': {error.Error}");
        Assert.Equal(0L, await _host.Database.ScalarAsync<long>("select count(*) from executions where job_id = $1", jobId));
    }

    [Theory]
    [InlineData("/executions?status=BOGUS", "status")]
    [InlineData("/executions?limit=0", "limit")]
    [InlineData("/executions?limit=100000", "limit")]
    [InlineData("/executions?limit=ten", "limit")]
    [InlineData("/executions?offset=-1", "offset")]
    [InlineData("/executions?job_id=nope", "job_id")]
    [InlineData("/jobs?limit=0", "limit")]
    [InlineData("/executions/dlq?limit=100000", "limit")]
    public async Task Bad_list_queries_are_400_naming_the_parameter(string path, string mentions)
    {
        var (_, client) = await _host.TenantClientAsync();
        using var response = await client.GetAsync(path);
        var error = await Api.AssertErrorAsync(response, HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument);
        Assert.Contains(mentions, error.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_filter_accepts_any_letter_case()
    {
        var (_, client) = await _host.TenantClientAsync();
        using var response = await client.GetAsync("/executions?status=pending");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_duplicate_tenant_name_is_409_and_creates_no_second_tenant()
    {
        var name = $"dup-{Guid.NewGuid():N}";
        await _host.CreateTenantAsync(name);
        using var admin = _host.AdminClient();
        using var response = await admin.PostAsync("/tenants", Api.RawJson($$"""{"name": "{{name}}"}"""));
        await Api.AssertErrorAsync(response, HttpStatusCode.Conflict, ErrorCodes.Conflict);
        Assert.Equal(1L, await _host.Database.ScalarAsync<long>("select count(*) from tenants where name = $1", name));
    }

    [Fact]
    public async Task Tenant_creation_and_update_validate_their_fields()
    {
        using var admin = _host.AdminClient();
        await Api.AssertErrorAsync(await admin.PostAsync("/tenants", Api.RawJson("{}")), HttpStatusCode.BadRequest);
        await Api.AssertErrorAsync(await admin.PostAsync("/tenants", Api.RawJson("""{"name": "x", "rate_limit": -1}""")), HttpStatusCode.BadRequest);

        var tenant = await _host.CreateTenantAsync();
        using var ok = await admin.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson("""{"max_concurrent_executions": 3}"""));
        Assert.Equal(HttpStatusCode.NoContent, ok.StatusCode);
        Assert.Equal(3, await _host.Database.ScalarAsync<int>("select max_concurrent_executions from tenants where id = $1", tenant.TenantId));

        using var bad = await admin.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson("""{"max_concurrent_executions": -5}"""));
        var error = await Api.AssertErrorAsync(bad, HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument);
        Assert.Contains("max_concurrent_executions", error.Error, StringComparison.Ordinal);
        Assert.Equal(3, await _host.Database.ScalarAsync<int>("select max_concurrent_executions from tenants where id = $1", tenant.TenantId));

        using var missing = await admin.PatchAsync($"/tenants/{Guid.NewGuid()}", Api.RawJson("""{"max_concurrent_executions": 1}"""));
        await Api.AssertErrorAsync(missing, HttpStatusCode.NotFound, ErrorCodes.NotFound);
    }

    [Theory]
    [InlineData("\"low\"", 0)]
    [InlineData("\"normal\"", 50)]
    [InlineData("\"high\"", 75)]
    [InlineData("\"HIGH\"", 75)]
    [InlineData("\"critical\"", 100)]
    [InlineData("0", 0)]
    [InlineData("100", 100)]
    [InlineData("42", 42)]
    [InlineData(null, 50)]
    public async Task Priority_names_and_numbers_are_stored_and_returned_as_numbers(string? priority, int expected)
    {
        var (_, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client, priority: priority);
        Assert.Equal(expected, await _host.Database.ScalarAsync<short>("select priority from jobs where id = $1", jobId));

        using var response = await client.GetAsync($"/jobs/{jobId}");
        var raw = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(raw);
        var p = doc.RootElement.GetProperty("priority");
        Assert.Equal(JsonValueKind.Number, p.ValueKind);
        Assert.Equal(expected, p.GetInt32());

        // The execution inherits it.
        var run = await Api.RunAsync(client, jobId);
        Assert.Equal(expected, (await Api.GetExecutionAsync(client, run.ExecutionId)).Priority.Value);
    }

    [Fact]
    public async Task Posting_a_job_of_the_same_name_updates_it_with_200()
    {
        var (_, client) = await _host.TenantClientAsync();
        using var first = await client.PostAsync("/jobs", Api.RawJson("""{"name": "same", "image": "exec", "command": ["a"]}"""));
        var created = await Api.ReadAsync(first, Api.Json.CreateJobResponse, HttpStatusCode.Created);
        using var second = await client.PostAsync("/jobs", Api.RawJson("""{"name": "same", "image": "exec", "command": ["b"], "priority": "high"}"""));
        var updated = await Api.ReadAsync(second, Api.Json.CreateJobResponse, HttpStatusCode.OK);
        Assert.Equal(created.JobId, updated.JobId);
        var job = await Api.ReadAsync(await client.GetAsync($"/jobs/{created.JobId}"), Api.Json.JobView);
        Assert.Equal(["b"], job.Command);
        Assert.Equal(75, job.Priority.Value);
        var list = await Api.ReadAsync(await client.GetAsync("/jobs"), Api.Json.JobList);
        Assert.Single(list.Jobs);
    }
}

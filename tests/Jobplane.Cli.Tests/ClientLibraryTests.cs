using System.Net;
using Jobplane.Api;
using Jobplane.Client;
using Jobplane.Testing;

namespace Jobplane.Cli.Tests;

/// <summary>The client library itself, against the real controller: paging by cursor (body and header), errors, worker calls.</summary>
public sealed class ClientLibraryTests(LiveControllerFixture fixture) : IClassFixture<LiveControllerFixture>
{
    private readonly LiveJobctl jobctl = new(fixture.Host);

    private async Task<(Guid TenantId, JobplaneClient Client, HttpClient Http)> TenantAsync()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        var http = new HttpClient(fixture.Host.CreateHandler());
        return (tenantId, new JobplaneClient(http, fixture.Host.BaseAddress, key), http);
    }

    private static async Task<Guid> CreateJobAsync(JobplaneClient client, int maxAttempts = 3) =>
        (await client.CreateJobAsync(new CreateJobRequest
        {
            Name = $"job-{Guid.NewGuid():N}",
            Image = "exec",
            Command = ["true"],
            MaxAttempts = maxAttempts,
        }, CancellationToken.None)).Value.JobId;

    [Fact]
    public async Task Paging_follows_the_body_cursor_to_every_execution_once()
    {
        var (_, client, http) = await TenantAsync();
        using var _ = http;
        var jobId = await CreateJobAsync(client);
        var created = (await client.RunJobManyAsync(jobId, new BatchRunRequest { Count = 7 }, CancellationToken.None)).Value.ExecutionIds;

        var seen = new List<Guid>();
        await foreach (var execution in client.AllExecutionsAsync(jobId: jobId, limit: 2))
            seen.Add(execution.Id);

        Assert.Equal(created.Order(), seen.Order());
        Assert.Equal(seen.Count, seen.Distinct().Count());
    }

    [Fact]
    public async Task Paging_follows_the_header_cursor_of_the_dead_letter_list()
    {
        var (tenantId, client, http) = await TenantAsync();
        using var _ = http;
        var jobId = await CreateJobAsync(client, maxAttempts: 1);
        var failed = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            failed.Add((await client.RunJobAsync(jobId, new RunJobRequest(), null, CancellationToken.None)).Value.ExecutionId);
            await jobctl.CompleteAsync(await jobctl.ClaimAsync(tenantId), exitCode: 1, error: "boom");
        }

        var first = await client.ListDlqAsync(1, null, null, CancellationToken.None);
        var all = new List<Guid>();
        await foreach (var entry in client.AllDeadLettersAsync(limit: 1))
            all.Add(entry.ExecutionId);

        Assert.NotNull(first.NextCursor);
        Assert.Equal(failed.Order(), all.Order());
    }

    [Fact]
    public async Task An_error_answer_carries_status_code_and_message()
    {
        var (_, client, http) = await TenantAsync();
        using var _ = http;

        var missing = await Assert.ThrowsAsync<ApiException>(() => client.GetExecutionAsync(Guid.NewGuid(), CancellationToken.None));

        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        Assert.Equal(ErrorCodes.NotFound, missing.Code);
        Assert.False(string.IsNullOrEmpty(missing.Error));
        Assert.True(missing.LeaseGone);
        Assert.False(missing.Transient);
    }

    [Fact]
    public async Task A_job_reads_back_whole()
    {
        var (_, client, http) = await TenantAsync();
        using var _ = http;
        var jobId = await CreateJobAsync(client);

        var job = await client.GetJobAsync(jobId, CancellationToken.None);

        Assert.Equal(jobId, job.Value.Id);
        Assert.Equal(["true"], job.Value.Command);
    }

    [Fact]
    public async Task A_worker_call_refused_for_a_lost_lease_is_lease_gone()
    {
        var (tenantId, client, http) = await TenantAsync();
        using var _ = http;
        await client.RunJobAsync(await CreateJobAsync(client), new RunJobRequest(), null, CancellationToken.None);
        var claim = await jobctl.ClaimAsync(tenantId);
        await jobctl.CompleteAsync(claim, exitCode: 0);

        var late = await Assert.ThrowsAsync<ApiException>(() => jobctl.CompleteAsync(claim, exitCode: 1));

        Assert.True(late.LeaseGone, late.Message);
        Assert.Equal($"{late.Error} ({late.Code}, HTTP {(int)late.Status})", late.Message);
    }
}

using System.Net;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>
/// POST /jobs/{id}/run under concurrency: the runs in flight share transactions (group commit), and
/// each request still gets its own answer, as it would alone.
/// </summary>
public sealed class SubmitGroupTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private static string NewKey() => $"order-{Guid.NewGuid():N}";

    private Task<long> ExecutionCountAsync(Guid jobId) =>
        _host.Database.ScalarAsync<long>("select count(*) from executions where job_id = $1", jobId);

    /// <summary>How many transactions created these jobs' executions (a row's xmin is the transaction that inserted it).</summary>
    private Task<long> TransactionsAsync(params Guid[] jobIds) =>
        _host.Database.ScalarAsync<long>("select count(distinct xmin::text) from executions where job_id = any($1)", jobIds);

    private static async Task<(HttpStatusCode Status, string Body)> SendAsync(Func<Task<HttpResponseMessage>> send)
    {
        using var response = await send();
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static Guid ExecutionId(string body)
    {
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.GetProperty("execution_id").GetGuid();
    }

    [Fact]
    public async Task Two_hundred_concurrent_runs_each_get_their_own_execution_in_fewer_commits()
    {
        var (tenantA, clientA) = await _host.TenantClientAsync();
        var (tenantB, clientB) = await _host.TenantClientAsync();
        var jobA = await Api.CreateJobAsync(clientA);
        var jobB = await Api.CreateJobAsync(clientB);

        var answers = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(() => SendAsync(() =>
            i % 2 == 0
                ? clientA.PostAsync(Routes.Of(Routes.JobRun, jobA), null)
                : clientB.PostAsync(Routes.Of(Routes.JobRun, jobB), null)))));

        Assert.All(answers, a => Assert.True(a.Status == HttpStatusCode.Created, $"{(int)a.Status}: {a.Body}"));
        var ids = answers.Select(a => ExecutionId(a.Body)).ToList();
        Assert.Equal(200, ids.Distinct().Count());
        Assert.Equal(100L, await ExecutionCountAsync(jobA));
        Assert.Equal(100L, await ExecutionCountAsync(jobB));
        // Each answer is an execution of its own tenant's job.
        using var worker = _host.WorkerClient();
        var claimedA = await Api.DequeueAsync(worker, tenantA.TenantId, limit: 200);
        var claimedB = await Api.DequeueAsync(worker, tenantB.TenantId, limit: 200);
        Assert.Equal(ids.Where((_, i) => i % 2 == 0).Order(), claimedA.Select(c => c.ExecutionId).Order());
        Assert.Equal(ids.Where((_, i) => i % 2 == 1).Order(), claimedB.Select(c => c.ExecutionId).Order());
        var transactions = await TransactionsAsync(jobA, jobB);
        Assert.True(transactions < 200, $"{transactions} transactions for 200 runs");
    }

    [Fact]
    public async Task In_a_crowd_a_conflicting_key_is_409_a_repeated_key_one_execution_and_another_tenants_job_404()
    {
        var (_, client) = await _host.TenantClientAsync();
        var (_, stranger) = await _host.TenantClientAsync();
        var job = await Api.CreateJobAsync(client);
        var otherJob = await Api.CreateJobAsync(client);
        var usedKey = NewKey();
        var original = await Api.ReadAsync(await Api.RunWithKeyAsync(client, otherJob, usedKey), Api.Json.RunJobResponse, HttpStatusCode.Created);
        var sharedKey = NewKey();

        var plainRuns = Enumerable.Range(0, 60).Select(_ => Task.Run(() => SendAsync(() => client.PostAsync(Routes.Of(Routes.JobRun, job), null)))).ToList();
        var conflictRun = Task.Run(() => SendAsync(() => Api.RunWithKeyAsync(client, job, usedKey)));
        var repeatRuns = Enumerable.Range(0, 5).Select(_ => Task.Run(() => SendAsync(() => Api.RunWithKeyAsync(client, job, sharedKey)))).ToList();
        var foreignRun = Task.Run(() => SendAsync(() => stranger.PostAsync(Routes.Of(Routes.JobRun, job), null)));
        var foreignKeyedRun = Task.Run(() => SendAsync(() => Api.RunWithKeyAsync(stranger, job, NewKey())));
        var plain = await Task.WhenAll(plainRuns);
        var conflict = await conflictRun;
        var repeats = await Task.WhenAll(repeatRuns);
        var foreign = await foreignRun;
        var foreignKeyed = await foreignKeyedRun;

        Assert.All(plain, p => Assert.True(p.Status == HttpStatusCode.Created, $"{(int)p.Status}: {p.Body}"));
        Assert.Equal(60, plain.Select(p => ExecutionId(p.Body)).Distinct().Count());
        Assert.True(conflict.Status == HttpStatusCode.Conflict, $"{(int)conflict.Status}: {conflict.Body}");
        Assert.Contains(usedKey, conflict.Body, StringComparison.Ordinal);
        Assert.Single(repeats, r => r.Status == HttpStatusCode.Created);
        Assert.All(repeats, r => Assert.True(r.Status is HttpStatusCode.Created or HttpStatusCode.OK, $"{(int)r.Status}: {r.Body}"));
        var repeated = Assert.Single(repeats.Select(r => ExecutionId(r.Body)).Distinct());
        Assert.DoesNotContain(repeated, plain.Select(p => ExecutionId(p.Body)));
        Assert.Equal(HttpStatusCode.NotFound, foreign.Status);
        Assert.Equal(HttpStatusCode.NotFound, foreignKeyed.Status);

        // 60 plain runs and one for the repeated key; the key used before still names its execution only.
        Assert.Equal(61L, await ExecutionCountAsync(job));
        Assert.Equal(1L, await ExecutionCountAsync(otherJob));
        Assert.Equal(original.ExecutionId,
            (await Api.ReadAsync(await Api.RunWithKeyAsync(client, otherJob, usedKey), Api.Json.RunJobResponse)).ExecutionId);
        Assert.True(await TransactionsAsync(job) < 61, "the runs shared no transaction");
    }
}

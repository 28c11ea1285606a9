using System.Net;
using System.Net.Http.Json;
using Jobplane.Api;
using Jobplane.Testing;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace Jobplane.Controller.Tests;

/// <summary>
/// Tenants' reads cannot starve the workers: they run on a pool of their own and under a statement
/// timeout. The slow reads here are made slow for real: a session holds a lock on the jobs table, so
/// every tenant read of it waits inside PostgreSQL, holding its connection, as a heavy query would.
/// </summary>
public sealed class LoadIsolationTests : IAsyncLifetime
{
    private readonly ControllerHost _host = new(new Dictionary<string, string?> { ["TENANT_STATEMENT_TIMEOUT"] = "2s" });

    public Task InitializeAsync() => _host.InitializeAsync();

    public Task DisposeAsync() => _host.DisposeAsync();

    [Fact]
    public async Task Heartbeats_all_succeed_while_fifty_slow_tenant_reads_run_and_the_reads_end_at_the_statement_timeout()
    {
        var (tenant, client) = await _host.TenantClientAsync();
        using var _ = client;
        using var worker = _host.WorkerClient();
        var jobId = await Api.CreateJobAsync(client);
        var run = await Api.RunAsync(client, jobId);
        var claim = await Api.ClaimAsync(worker, tenant.TenantId, run.ExecutionId);

        // Every read of the jobs table now waits for this lock; leases live in the executions table.
        await using var blocker = await _host.Database.DataSource.OpenConnectionAsync();
        await using var tx = await blocker.BeginTransactionAsync();
        await using (var lockJobs = new NpgsqlCommand("lock table jobs in access exclusive mode", blocker, tx))
            await lockJobs.ExecuteNonQueryAsync();

        // More slow reads than the tenant pool has connections, so some also wait for a connection.
        var reads = Enumerable.Range(0, 50).Select(_ => client.GetAsync("/jobs")).ToList();
        var heartbeats = 0;
        var held = 0;
        // Bounded, so that reads that never end fail the test instead of hanging it.
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (!reads.All(r => r.IsCompleted) && DateTime.UtcNow < deadline)
        {
            using var response = await worker.PostAsJsonAsync("/internal/heartbeats",
                new WorkerHeartbeatRequest { WorkerId = "isolation-test", Leases = [new LeaseRef(claim.ExecutionId, claim.LeaseToken)] },
                Api.Json.WorkerHeartbeatRequest);
            heartbeats++;
            if (response.StatusCode == HttpStatusCode.OK &&
                (await response.Content.ReadFromJsonAsync(Api.Json.WorkerHeartbeatResponse))!.Extended.Contains(claim.ExecutionId))
                held++;
            await Task.Delay(50);
        }
        var unfinished = reads.Count(r => !r.IsCompleted);
        await tx.RollbackAsync();
        Assert.True(unfinished == 0, $"{unfinished} slow reads were still waiting after 90 s: nothing stopped them");

        // The heartbeat success rate, for the record: it must be all of them.
        Console.WriteLine($"heartbeats while 50 slow tenant reads ran: {held}/{heartbeats} succeeded");
        Assert.True(heartbeats >= 5, $"only {heartbeats} heartbeats were sent while the reads ran");
        Assert.Equal(heartbeats, held);

        // Each slow read was stopped by the statement timeout (or, waiting for a connection, answered
        // that the database is busy): an error naming why, never a hang and never a 500.
        var codes = new List<string>();
        foreach (var read in reads)
        {
            using var response = await read;
            var error = await Api.AssertErrorAsync(response, HttpStatusCode.ServiceUnavailable);
            codes.Add(error.Code);
            Assert.True(response.Headers.RetryAfter is not null, "a 503 says when to retry");
        }
        Assert.All(codes, c => Assert.Contains(c, new[] { ErrorCodes.QueryTimeout, ErrorCodes.Unavailable }));
        Assert.Contains(ErrorCodes.QueryTimeout, codes);

        // The lock is gone and the same read works again.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/jobs")).StatusCode);
    }

    [Theory]
    [InlineData("10ms")]
    [InlineData("2h")]
    [InlineData("soon")]
    public void A_statement_timeout_outside_its_range_stops_the_controller_naming_the_setting(string value)
    {
        var config = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["DATABASE_URL"] = "Host=localhost", ["TENANT_STATEMENT_TIMEOUT"] = value })
            .Build();

        var e = Assert.Throws<ConfigurationException>(() => ControllerOptions.FromConfiguration(config));

        Assert.Contains("TENANT_STATEMENT_TIMEOUT", e.Message, StringComparison.Ordinal);
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>A controller with a small log cap (16 KiB per execution), so a flood reaches it in a few batches.</summary>
public sealed class SmallLogCapFixture : IAsyncLifetime
{
    public const long Cap = 16 * 1024;

    public ControllerHost Host { get; } = new(new Dictionary<string, string?> { ["LOG_MAX_BYTES_PER_EXECUTION"] = "16KiB" });

    public Task InitializeAsync() => Host.InitializeAsync();

    public Task DisposeAsync() => Host.DisposeAsync();
}

/// <summary>LOG_MAX_BYTES_PER_EXECUTION: a job's log is stored up to the cap, then cut with a marker; the job is not failed.</summary>
public sealed class LogLimitTests(SmallLogCapFixture fixture) : IClassFixture<SmallLogCapFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private static async Task<HttpResponseMessage> ShipAsync(HttpClient worker, ClaimedExecution claim, IEnumerable<string> lines) =>
        await worker.PostAsJsonAsync($"/internal/executions/{claim.ExecutionId}/logs",
            new AppendLogsRequest { LeaseToken = claim.LeaseToken, Lines = [.. lines.Select(l => new LogLine(l, "stdout"))] },
            Api.Json.AppendLogsRequest);

    private async Task<(long Bytes, long Lines, string Last)> StoredAsync(Guid executionId)
    {
        await using var cmd = _host.Database.DataSource.CreateCommand("""
            select coalesce(sum(octet_length(content)), 0)::bigint, count(*),
                   (select content from execution_logs where execution_id = $1 order by id desc limit 1)
            from execution_logs where execution_id = $1
            """);
        cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = executionId });
        await using var reader = await cmd.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2));
    }

    [Fact]
    public async Task A_concurrent_flood_stops_at_the_cap_with_one_marker_line_last_and_the_execution_succeeds()
    {
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker);
        var line = new string('y', 999); // as `yes` would print, 1000 bytes a line with its newline in the worker's framing

        // Eight shippers at once, 16 batches of 4 lines each: 512 KiB offered against a 16 KiB cap.
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            var statuses = new List<HttpStatusCode>();
            for (var i = 0; i < 16; i++)
            {
                using var response = await ShipAsync(worker, claim, Enumerable.Repeat(line, 4));
                statuses.Add(response.StatusCode);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    var body = await response.Content.ReadFromJsonAsync(Api.Json.AppendLogsResponse);
                    Assert.True(body!.LogFull);
                }
            }
            return statuses;
        }));

        // The worker's calls all succeed: 204 while there was room, then 200 {log_full: true}.
        Assert.All(answers.SelectMany(a => a), s => Assert.True(s is HttpStatusCode.NoContent or HttpStatusCode.OK, $"got {(int)s}"));
        Assert.Contains(HttpStatusCode.OK, answers.SelectMany(a => a));

        var marker = Endpoints.WorkerEndpoints.CutMarker(SmallLogCapFixture.Cap);
        var (bytes, lines, last) = await StoredAsync(claim.ExecutionId);
        Assert.Equal(marker, last);
        var jobBytes = bytes - System.Text.Encoding.UTF8.GetByteCount(marker);
        Assert.True(jobBytes <= SmallLogCapFixture.Cap, $"stored {jobBytes} bytes of output past the cap of {SmallLogCapFixture.Cap}");
        // Cut at a line: the cap less than one line was left unused.
        Assert.True(jobBytes > SmallLogCapFixture.Cap - line.Length, $"stored only {jobBytes} bytes");
        Assert.Equal(1, await CountAsync("select count(*) from execution_logs where execution_id = $1 and content = $2", claim.ExecutionId, marker));

        // What users read ends with the marker, and the job's outcome is its own.
        var page = await Api.ReadAsync(await client.GetAsync($"/executions/{claim.ExecutionId}/logs?limit=5000"), Api.Json.LogPage);
        Assert.Equal(lines, page.Logs.Count);
        Assert.Equal(marker, page.Logs[^1].Content);
        Assert.Equal(ExecutionStatus.Succeeded, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 0));
    }

    [Fact]
    public async Task Once_full_a_batch_writes_nothing_and_is_still_accepted()
    {
        using var worker = _host.WorkerClient();
        var (_, _, _, claim) = await Api.RunningAsync(_host, worker);
        using (var first = await ShipAsync(worker, claim, [new string('a', (int)SmallLogCapFixture.Cap + 1)]))
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var before = await StoredAsync(claim.ExecutionId);
        Assert.Equal(1, before.Lines); // the line alone passes the cap: only the marker is stored

        using (var later = await ShipAsync(worker, claim, ["more", "and more"]))
        {
            Assert.Equal(HttpStatusCode.OK, later.StatusCode);
            Assert.True((await later.Content.ReadFromJsonAsync(Api.Json.AppendLogsResponse))!.LogFull);
        }
        Assert.Equal(before, await StoredAsync(claim.ExecutionId));

        // A lease that no longer holds is still refused as before, full log or not.
        using var forged = await worker.PostAsJsonAsync($"/internal/executions/{claim.ExecutionId}/logs",
            new AppendLogsRequest { LeaseToken = Guid.NewGuid(), Lines = [new LogLine("x")] }, Api.Json.AppendLogsRequest);
        Assert.Equal(HttpStatusCode.Conflict, forged.StatusCode);
    }

    [Fact]
    public async Task Lines_under_the_cap_are_answered_204_as_before()
    {
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker);
        await Api.ShipLogsAsync(worker, claim.ExecutionId, claim.LeaseToken, "one", "two");
        var page = await Api.ReadAsync(await client.GetAsync($"/executions/{claim.ExecutionId}/logs"), Api.Json.LogPage);
        Assert.Equal(["one", "two"], page.Logs.Select(l => l.Content));
    }

    private async Task<long> CountAsync(string sql, params object[] args)
    {
        await using var cmd = _host.Database.DataSource.CreateCommand(sql);
        foreach (var a in args) cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = a });
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    [Fact]
    public void A_bad_cap_setting_names_itself()
    {
        var read = new SettingReader(k => k == "LOG_MAX_BYTES_PER_EXECUTION" ? "lots" : null);
        TenantLimitOptions.Read(read);
        Assert.Contains(read.Errors, e => e.StartsWith("LOG_MAX_BYTES_PER_EXECUTION", StringComparison.Ordinal));
        Assert.True(ByteSizes.TryParse("16MiB", out var b) && b == 16L << 20);
        _ = JsonSerializer.Serialize(new AppendLogsResponse(true), Api.Json.AppendLogsResponse);
    }
}

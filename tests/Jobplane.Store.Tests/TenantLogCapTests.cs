using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

/// <summary>A tenant's own log cap (tenants.log_max_bytes_per_execution), applied by the append statement itself.</summary>
public sealed class TenantLogCapTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private static readonly LogCap Cap = new(4096, "operator cut", $"tenant cut at {LogCap.LimitPlaceholder}");

    private async Task<string> LastLineAsync(Guid executionId) =>
        (await Executions.ReadLogsAsync(executionId, 0, 1000, Ct))[^1].Content;

    [Theory]
    [InlineData(1024L)]
    [InlineData(1536L)]
    [InlineData(1025L)]
    [InlineData(16L * 1024)]
    [InlineData(3L << 20)]
    [InlineData((3L << 20) + 1024)]
    [InlineData(1L << 30)]
    [InlineData(1L << 40)]
    [InlineData(5L << 30)]
    public async Task The_statement_writes_a_size_as_the_controller_does(long bytes) =>
        Assert.Equal(ByteSizes.Format(bytes), await Db.ScalarAsync<string>($"select {LogCap.FormatSizeSql("$1::bigint")}", bytes));

    [Fact]
    public async Task A_tenants_own_cap_replaces_the_operators_and_its_marker_names_it()
    {
        var (tenant, _, claim) = await RunningAsync();
        Assert.True(await Tenants.UpdateAsync(tenant, new TenantSettings { LogMaxBytesPerExecution = 1536 }, Ct));

        var first = await Queue.AppendLogsAsync(claim.ExecutionId, claim.LeaseToken, [new NewLogLine(new string('a', 1000), "stdout")], Cap, Ct);
        Assert.False(first.LogFull);
        var second = await Queue.AppendLogsAsync(claim.ExecutionId, claim.LeaseToken, [new NewLogLine(new string('b', 1000), "stdout")], Cap, Ct);

        Assert.True(second.LogFull);
        Assert.Equal(0, second.StoredBytes);
        Assert.Equal("tenant cut at 1536 bytes", await LastLineAsync(claim.ExecutionId));
    }

    [Fact]
    public async Task Without_one_the_operators_cap_and_marker_apply_and_a_new_one_applies_from_the_next_batch()
    {
        var (tenant, _, claim) = await RunningAsync();
        var line = new NewLogLine(new string('c', 1000), "stdout");
        for (var i = 0; i < 4; i++)
            Assert.False((await Queue.AppendLogsAsync(claim.ExecutionId, claim.LeaseToken, [line], Cap, Ct)).LogFull);
        Assert.True((await Queue.AppendLogsAsync(claim.ExecutionId, claim.LeaseToken, [line], Cap, Ct)).LogFull);
        Assert.Equal("operator cut", await LastLineAsync(claim.ExecutionId));

        // Another execution of the same tenant, after the administrator raised its cap.
        Assert.True(await Tenants.UpdateAsync(tenant, new TenantSettings { LogMaxBytesPerExecution = 8192 }, Ct));
        var job = await NewJobAsync(tenant);
        await SubmitAsync(tenant, job);
        var next = await ClaimOneAsync(tenant);
        for (var i = 0; i < 8; i++)
            Assert.False((await Queue.AppendLogsAsync(next.ExecutionId, next.LeaseToken, [line], Cap, Ct)).LogFull);
        Assert.True((await Queue.AppendLogsAsync(next.ExecutionId, next.LeaseToken, [line], Cap, Ct)).LogFull);
        Assert.Equal("tenant cut at 8 KiB", await LastLineAsync(next.ExecutionId));
        Assert.Equal(8000, await Db.ScalarAsync<long>("select log_bytes from executions where id = $1", next.ExecutionId));
    }
}

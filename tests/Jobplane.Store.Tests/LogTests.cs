using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

public sealed class LogTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    [Fact]
    public async Task Lines_are_stored_in_order_with_their_stream()
    {
        var (_, _, claim) = await RunningAsync();
        var id = claim.ExecutionId;
        NewLogLine[] batch1 = [new("starting", "stdout"), new("warning: slow disk", "stderr"), new("step 1", "stdout")];
        NewLogLine[] batch2 = [new("step 2", "stdout"), new("done", "stdout")];

        Assert.Equal(LeaseCheck.Accepted, await Queue.AppendLogsAsync(id, claim.LeaseToken, batch1, Ct));
        Assert.Equal(LeaseCheck.Accepted, await Queue.AppendLogsAsync(id, claim.LeaseToken, batch2, Ct));

        var all = await Executions.ReadLogsAsync(id, 0, 100, Ct);
        Assert.Equal(batch1.Concat(batch2).Select(l => (l.Content, l.Stream)), all.Select(l => (l.Content, l.Stream)));
        Assert.Equal(all.Select(l => l.Id).Order(), all.Select(l => l.Id));
        Assert.Equal(5, all.Select(l => l.Id).Distinct().Count());
    }

    [Fact]
    public async Task Reading_after_an_id_pages_through_the_log()
    {
        var (_, _, claim) = await RunningAsync();
        var lines = Enumerable.Range(1, 7).Select(i => new NewLogLine($"line {i}", i % 2 == 0 ? "stderr" : "stdout")).ToList();
        Assert.Equal(LeaseCheck.Accepted, await Queue.AppendLogsAsync(claim.ExecutionId, claim.LeaseToken, lines, Ct));

        var read = new List<LogRecord>();
        long after = 0;
        var pages = 0;
        while (pages++ < 10)
        {
            var page = await Executions.ReadLogsAsync(claim.ExecutionId, after, 3, Ct);
            Assert.True(page.Count <= 3);
            if (page.Count == 0) break;
            read.AddRange(page);
            after = page[^1].Id;
        }

        Assert.Equal(lines.Select(l => l.Content), read.Select(l => l.Content));
        Assert.Equal(lines.Select(l => l.Stream), read.Select(l => l.Stream));
        Assert.Empty(await Executions.ReadLogsAsync(claim.ExecutionId, after, 3, Ct));
    }

    [Fact]
    public async Task A_line_without_a_stream_is_kept()
    {
        var (_, _, claim) = await RunningAsync();

        Assert.Equal(LeaseCheck.Accepted, await Queue.AppendLogsAsync(claim.ExecutionId, claim.LeaseToken,
            [new NewLogLine("plain chunk"), new NewLogLine("tagged", "stdout")], Ct));

        var logs = await Executions.ReadLogsAsync(claim.ExecutionId, 0, 10, Ct);
        Assert.Equal([("plain chunk", (string?)null), ("tagged", "stdout")], logs.Select(l => (l.Content, l.Stream)));
    }

    [Fact]
    public async Task Logs_of_different_executions_do_not_mix()
    {
        var (tenant, job) = await TenantWithJobAsync();
        await SubmitAsync(tenant, job);
        await SubmitAsync(tenant, job);
        var claims = await ClaimAsync(tenant, limit: 2);
        await Queue.AppendLogsAsync(claims[0].ExecutionId, claims[0].LeaseToken, [new NewLogLine("a1", "stdout")], Ct);
        await Queue.AppendLogsAsync(claims[1].ExecutionId, claims[1].LeaseToken, [new NewLogLine("b1", "stdout")], Ct);
        await Queue.AppendLogsAsync(claims[0].ExecutionId, claims[0].LeaseToken, [new NewLogLine("a2", "stdout")], Ct);

        Assert.Equal(["a1", "a2"], (await Executions.ReadLogsAsync(claims[0].ExecutionId, 0, 10, Ct)).Select(l => l.Content));
        Assert.Equal(["b1"], (await Executions.ReadLogsAsync(claims[1].ExecutionId, 0, 10, Ct)).Select(l => l.Content));
    }

    [Fact]
    public async Task A_stale_token_stores_nothing()
    {
        var (_, _, claim) = await RunningAsync();
        Assert.Equal(LeaseCheck.Accepted, await Queue.AppendLogsAsync(claim.ExecutionId, claim.LeaseToken, [new NewLogLine("kept", "stdout")], Ct));
        await SucceedAsync(claim);

        Assert.Equal(LeaseCheck.LeaseLost, await Queue.AppendLogsAsync(claim.ExecutionId, claim.LeaseToken, [new NewLogLine("late", "stdout")], Ct));
        Assert.Equal(LeaseCheck.LeaseLost, await Queue.AppendLogsAsync(claim.ExecutionId, Guid.NewGuid(), [new NewLogLine("forged", "stdout")], Ct));
        Assert.Equal(LeaseCheck.NotFound, await Queue.AppendLogsAsync(Guid.NewGuid(), claim.LeaseToken, [new NewLogLine("nowhere", "stdout")], Ct));

        Assert.Equal(["kept"], (await Executions.ReadLogsAsync(claim.ExecutionId, 0, 10, Ct)).Select(l => l.Content));
    }
}

using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

/// <summary>
/// Shared plumbing for store tests. Every test class gets its own fresh database (IClassFixture);
/// tests inside a class share it, so each test creates its own tenant and claims only that
/// tenant's work, which keeps tests independent of one another.
/// </summary>
public abstract class StoreTestBase : IDisposable
{
    protected static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    /// <summary>A backoff far in the future: a retry is never due unless a test moves it.</summary>
    protected static TimeSpan LongBackoff(int attempt, double? baseSeconds, double? maxSeconds) => TimeSpan.FromHours(1);

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(45));

    protected StoreTestBase(TestDatabase db)
    {
        Db = db;
        Tenants = new TenantStore(db.DataSource);
        Jobs = new JobStore(db.DataSource);
        Executions = new ExecutionStore(db.DataSource);
        Queue = new QueueStore(db.DataSource);
    }

    protected TestDatabase Db { get; }
    protected TenantStore Tenants { get; }
    protected JobStore Jobs { get; }
    protected ExecutionStore Executions { get; }
    protected QueueStore Queue { get; }

    /// <summary>Bounds every store call, so a hang fails the test instead of the run.</summary>
    protected CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        _timeout.Dispose();
        GC.SuppressFinalize(this);
    }

    protected async Task<Guid> NewTenantAsync(string? name = null) =>
        (await Tenants.CreateAsync(new TenantSettings { Name = name ?? $"tenant-{Guid.NewGuid():N}" }, Ct)).TenantId;

    protected static JobSpec Spec(string? name = null, int priority = 50, int maxAttempts = 3, int timeout = 60, string image = "alpine:3") =>
        new(name ?? $"job-{Guid.NewGuid():N}", image, ["echo", "hello"], timeout, new Priority(priority), maxAttempts);

    protected async Task<Guid> NewJobAsync(Guid tenant, int priority = 50, int maxAttempts = 3, string? name = null) =>
        (await Jobs.UpsertAsync(tenant, Spec(name, priority, maxAttempts), Ct)).JobId;

    protected async Task<(Guid Tenant, Guid Job)> TenantWithJobAsync(int priority = 50, int maxAttempts = 3)
    {
        var tenant = await NewTenantAsync();
        return (tenant, await NewJobAsync(tenant, priority, maxAttempts));
    }

    protected async Task<Guid> SubmitAsync(Guid tenant, Guid job, int? priority = null, DateTimeOffset? scheduledAt = null)
    {
        var response = await Executions.RunAsync(tenant, job,
            new RunOptions(scheduledAt, null, priority is { } p ? new Priority(p) : null), null, Ct);
        Assert.NotNull(response);
        return response.ExecutionId;
    }

    protected Task<IReadOnlyList<ClaimedAttempt>> ClaimAsync(Guid tenant, int limit = 10, string worker = "worker-1") =>
        Queue.ClaimAsync(limit, worker, [tenant], Lease, Ct);

    protected async Task<ClaimedAttempt> ClaimOneAsync(Guid tenant, string worker = "worker-1") =>
        Assert.Single(await ClaimAsync(tenant, 1, worker));

    /// <summary>Submits one execution of a fresh job and claims it.</summary>
    protected async Task<(Guid Tenant, Guid Job, ClaimedAttempt Claim)> RunningAsync(int maxAttempts = 3)
    {
        var (tenant, job) = await TenantWithJobAsync(maxAttempts: maxAttempts);
        var id = await SubmitAsync(tenant, job);
        var claim = await ClaimOneAsync(tenant);
        Assert.Equal(id, claim.ExecutionId);
        return (tenant, job, claim);
    }

    protected Task<CompletionOutcome> SucceedAsync(ClaimedAttempt c, string? resultJson = null) =>
        Queue.CompleteAsync(c.ExecutionId, c.LeaseToken, new AttemptResult(0, null, resultJson, true), LongBackoff, Ct);

    protected Task<CompletionOutcome> FailAsync(ClaimedAttempt c, string error = "boom", bool retryable = true) =>
        Queue.CompleteAsync(c.ExecutionId, c.LeaseToken, new AttemptResult(1, error, null, retryable), LongBackoff, Ct);

    protected Task<string> StatusAsync(Guid executionId) =>
        Db.ScalarAsync<string>("select status from executions where id = $1", executionId);

    protected async Task<bool> InReadyQueueAsync(Guid executionId) =>
        await Db.ScalarAsync<long>("select count(*) from ready_queue where execution_id = $1", executionId) == 1;

    protected async Task ExecAsync(string sql, params object[] args)
    {
        await using var cmd = Db.DataSource.CreateCommand(sql);
        foreach (var a in args) cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = a });
        await cmd.ExecuteNonQueryAsync(Ct);
    }

    /// <summary>Makes the lease look expired by the database clock, as if the worker had vanished.</summary>
    protected Task ExpireLeaseAsync(Guid executionId) =>
        ExecAsync("update executions set lease_expires_at = now() - interval '1 second' where id = $1", executionId);

    /// <summary>Moves a retry's (or a scheduled run's) due time into the past, instead of waiting for it.</summary>
    protected Task MakeDueAsync(Guid executionId) =>
        ExecAsync("update executions set scheduled_at = now() - interval '1 second' where id = $1", executionId);

    /// <summary>Fails the execution's only allowed attempt, so it lands in the dead-letter queue.</summary>
    protected async Task<(Guid Tenant, Guid Job, Guid ExecutionId)> DeadLetteredAsync(Guid? tenant = null, string error = "boom")
    {
        var t = tenant ?? await NewTenantAsync();
        var job = await NewJobAsync(t, maxAttempts: 1);
        var id = await SubmitAsync(t, job);
        var claim = await ClaimOneAsync(t);
        Assert.Equal(id, claim.ExecutionId);
        Assert.Equal(ExecutionStatus.Failed, (await FailAsync(claim, error)).Status);
        return (t, job, id);
    }
}

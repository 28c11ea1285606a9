using System.Globalization;
using System.Net.Http.Json;
using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;
using Jobplane.Worker.Runtimes.Exec;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Jobplane.Worker.Tests.Agent;

/// <summary>
/// The worker agent with the real exec runtime against the real controller (in-process) and a
/// real PostgreSQL database: claim, run, ship logs, report, retry, lose a lease.
/// </summary>
public sealed class WorkerAgentTests : IAsyncLifetime
{
    private readonly ControllerHost _host = new();
    private readonly string _workRoot = Directory.CreateTempSubdirectory("jobplane-agent-").FullName;
    private WorkerAgent? _agent;
    private HttpClient _tenant = null!;

    public async Task InitializeAsync()
    {
        await _host.InitializeAsync();
        (_, _tenant) = await _host.TenantClientAsync();
    }

    public async Task DisposeAsync()
    {
        if (_agent is not null)
        {
            await _agent.StopAsync(CancellationToken.None);
            _agent.Dispose();
        }
        _tenant.Dispose();
        await _host.DisposeAsync();
        Directory.Delete(_workRoot, recursive: true);
    }

    private void StartAgent(TimeSpan? heartbeat = null)
    {
        var options = new WorkerOptions
        {
            ControllerUrl = _host.BaseAddress,
            WorkerToken = ControllerHost.WorkerToken,
            WorkerId = "agent-" + Guid.NewGuid().ToString("N")[..8],
            Concurrency = 4,
            PollWait = TimeSpan.FromSeconds(5),
            HeartbeatInterval = heartbeat ?? TimeSpan.FromSeconds(1),
            LeaseTimeout = TimeSpan.FromSeconds(30),
            KillGrace = TimeSpan.FromSeconds(1),
            LogFlushInterval = TimeSpan.FromMilliseconds(50),
            WorkRoot = _workRoot,
        };
        var runtime = new ExecRuntime(new ExecRuntimeOptions { WorkRoot = _workRoot, WorkerId = options.WorkerId, KillGrace = options.KillGrace },
            NullLogger<ExecRuntime>.Instance, TimeProvider.System);
        var client = new ControllerClient(new HttpClient(_host.CreateHandler()), options);
        _agent = new WorkerAgent(client, runtime, options, TimeProvider.System, NullLogger<WorkerAgent>.Instance);
        _ = _agent.StartAsync(CancellationToken.None);
    }

    private async Task<Guid> SubmitAsync(string name, IReadOnlyList<string> command, int? maxAttempts = null, int? timeout = null)
    {
        var created = await _tenant.PostAsJsonAsync("/jobs",
            new CreateJobRequest { Name = name, Image = "exec", Command = command, MaxAttempts = maxAttempts },
            JobplaneJsonContext.Default.CreateJobRequest);
        created.EnsureSuccessStatusCode();
        var job = (await created.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.CreateJobResponse))!;
        var run = await _tenant.PostAsJsonAsync($"/jobs/{job.JobId}/run", new RunJobRequest { Timeout = timeout },
            JobplaneJsonContext.Default.RunJobRequest);
        run.EnsureSuccessStatusCode();
        return (await run.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.RunJobResponse))!.ExecutionId;
    }

    private async Task<ExecutionView> WaitForAsync(Guid id, Func<ExecutionView, bool> done, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        ExecutionView view;
        do
        {
            view = (await _tenant.GetFromJsonAsync($"/executions/{id}", JobplaneJsonContext.Default.ExecutionView))!;
            if (done(view)) return view;
            await Task.Delay(50);
        } while (DateTime.UtcNow < deadline);
        throw new TimeoutException($"execution {id} is {view.Status} (attempt {view.Attempt}, error {view.Error})");
    }

    private async Task<List<LogEntry>> AllLogsAsync(Guid id)
    {
        var all = new List<LogEntry>();
        while (true)
        {
            var page = (await _tenant.GetFromJsonAsync($"/executions/{id}/logs?after_id={(all.Count == 0 ? 0 : all[^1].Id)}&limit=5000",
                JobplaneJsonContext.Default.LogPage))!;
            if (page.Logs.Count == 0) return all;
            all.AddRange(page.Logs);
        }
    }

    [Fact]
    public async Task Runs_a_job_ships_every_log_line_in_order_and_stores_its_result()
    {
        StartAgent();
        var id = await SubmitAsync("counter", ["sh", "-c", "i=1; while [ $i -le 3000 ]; do echo line $i; i=$((i+1)); done; echo oops >&2; echo '{\"count\": 3000}' > result.json"]);

        var done = await WaitForAsync(id, e => ExecutionStatus.IsTerminal(e.Status));
        Assert.Equal(ExecutionStatus.Succeeded, done.Status);
        Assert.Equal(0, done.ExitCode);
        Assert.Equal(3000, done.Result!.Value.GetProperty("count").GetInt32());

        var logs = await AllLogsAsync(id);
        var stdout = logs.Where(l => l.Stream == "stdout").Select(l => l.Content).ToList();
        Assert.Equal(Enumerable.Range(1, 3000).Select(i => $"line {i}"), stdout);
        Assert.Contains(logs, l => l.Stream == "stderr" && l.Content == "oops");
    }

    [Fact]
    public async Task A_failing_job_is_retried_then_dead_lettered_and_never_shows_running_while_waiting()
    {
        StartAgent();
        var id = await SubmitAsync("always-fails", ["sh", "-c", "echo \"attempt $JOBPLANE_ATTEMPT\"; exit 7"], maxAttempts: 3);
        var failed = await WaitForAsync(id, e => e.Status == ExecutionStatus.Failed);
        Assert.Equal(3, failed.Attempt);
        Assert.Equal("exit code 7", failed.Error);
        Assert.Equal(3, failed.Attempts!.Count);
        Assert.All(failed.Attempts, a => Assert.Equal("failed", a.Outcome));

        var dlq = (await _tenant.GetFromJsonAsync("/executions/dlq", JobplaneJsonContext.Default.IReadOnlyListDlqEntry))!;
        var entry = Assert.Single(dlq);
        Assert.Equal(id, entry.ExecutionId);
        Assert.Equal(3, entry.Attempts);

        var logs = await AllLogsAsync(id);
        Assert.Equal(["attempt 1", "attempt 2", "attempt 3"], logs.Select(l => l.Content));
    }

    [Fact]
    public async Task A_result_the_database_cannot_store_fails_the_execution_instead_of_wedging_it()
    {
        StartAgent();
        // Valid JSON that jsonb refuses (a NUL character): the report is refused, then re-sent without it.
        var id = await SubmitAsync("nul-result", ["sh", "-c", "printf '{\"a\": \"x\\\\u0000y\"}' > result.json"], maxAttempts: 3);
        var failed = await WaitForAsync(id, e => e.Status == ExecutionStatus.Failed);
        Assert.Equal(1, failed.Attempt);
        Assert.Null(failed.Result);
        Assert.Contains("result.json refused by the controller", failed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_timed_out_job_fails_with_a_clear_error()
    {
        StartAgent();
        var id = await SubmitAsync("too-slow", ["sleep", "600"], maxAttempts: 1, timeout: 1);
        var failed = await WaitForAsync(id, e => e.Status == ExecutionStatus.Failed);
        Assert.Equal("timed out after 1s", failed.Error);
    }

    [Fact]
    public async Task A_worker_that_lost_its_lease_stops_the_job_instead_of_running_on()
    {
        StartAgent(heartbeat: TimeSpan.FromMilliseconds(200));
        var id = await SubmitAsync("zombie-candidate", ["sh", "-c", "echo pid $$; sleep 600"], maxAttempts: 1);
        await WaitForAsync(id, e => e.Status == ExecutionStatus.Running);
        var pid = 0;
        for (var i = 0; i < 100 && pid == 0; i++)
        {
            var line = (await AllLogsAsync(id)).FirstOrDefault(l => l.Content.StartsWith("pid ", StringComparison.Ordinal));
            if (line is not null) pid = int.Parse(line.Content[4..], CultureInfo.InvariantCulture);
            else await Task.Delay(50);
        }
        Assert.True(pid > 0, "the job never printed its pid");

        // The controller decides the lease is gone (as if heartbeats had stopped arriving in time).
        await _host.Database.ScalarAsync<int>("update executions set lease_expires_at = now() - interval '1 second' where id = $1 returning 1", id);
        await _host.Services.GetRequiredService<QueueStore>().RescueExpiredAsync(100, CancellationToken.None);

        // The next heartbeat learns the lease is lost and the worker kills the job.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (Directory.Exists($"/proc/{pid}") && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.False(Directory.Exists($"/proc/{pid}"), "the job of a lost lease kept running");

        var view = await WaitForAsync(id, e => e.Status == ExecutionStatus.Failed);
        Assert.Equal("lease_expired", view.Attempts![0].Outcome);
        Assert.Contains("lease expired", view.Error, StringComparison.Ordinal);
    }
}

using System.Text.Json;

namespace Jobplane.SystemTests;

/// <summary>
/// The README walkthrough, run as a user would: a controller and an exec worker as processes, and
/// every step through the jobctl binary.
/// </summary>
public sealed class ReadmeWalkthroughTests : IAsyncLifetime
{
    private readonly Platform _platform = new();
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public async Task InitializeAsync()
    {
        await _platform.InitializeAsync();
        await _platform.StartControllerAsync();
        _platform.StartWorker("walkthrough-worker");
    }

    public Task DisposeAsync() => _platform.DisposeAsync();

    [Fact]
    public async Task The_walkthrough_works_as_written()
    {
        var token = await _platform.CreateTenantAsync("walkthrough");
        using var api = new Api(_platform.Url, token);

        // submit: create + run in one step.
        var submit = await _platform.JobctlAsync(token, "submit", "--name", "greet", "--image", "exec", "--", "echo", "hello, world");
        Assert.True(submit.ExitCode == 0, submit.Stderr);
        var greetId = ExtractId(submit.Stdout);
        await api.WaitForStatusAsync(greetId, "SUCCEEDED", Patience);
        var greetLogs = await _platform.JobctlAsync(token, "logs", greetId);
        Assert.Equal("hello, world", greetLogs.Line);

        // create once, run, follow logs, read status with the result.
        var create = await _platform.JobctlAsync(token, "create", "--name", "report", "--image", "exec", "--",
            "sh", "-c", "echo working; echo '{\"rows\": 3}' > result.json");
        Assert.True(create.ExitCode == 0, create.Stderr);
        var jobId = create.Line;
        Assert.True(Guid.TryParse(jobId, out _), $"create printed '{jobId}'");

        var run = await _platform.JobctlAsync(token, "run", jobId);
        Assert.True(run.ExitCode == 0, run.Stderr);
        var execId = run.Line;

        var follow = await _platform.JobctlAsync(token, "logs", "-f", execId);
        Assert.True(follow.ExitCode == 0, follow.Stderr);
        Assert.Contains("working", follow.Stdout, StringComparison.Ordinal);

        var status = await _platform.JobctlAsync(token, "status", execId, "-o", "json");
        Assert.True(status.ExitCode == 0, status.Stderr);
        using (var doc = JsonDocument.Parse(status.Stdout))
        {
            Assert.Equal("SUCCEEDED", doc.RootElement.GetProperty("status").GetString());
            Assert.Equal(3, doc.RootElement.GetProperty("result").GetProperty("rows").GetInt32());
            Assert.Equal(0, doc.RootElement.GetProperty("exit_code").GetInt32());
        }
        var table = await _platform.JobctlAsync(token, "status", execId);
        Assert.Contains("SUCCEEDED", table.Stdout, StringComparison.Ordinal);

        // schedule: stays SCHEDULED until due.
        var at = DateTimeOffset.UtcNow.AddHours(1).ToString("yyyy-MM-ddTHH:mm:ssK", System.Globalization.CultureInfo.InvariantCulture);
        var scheduled = await _platform.JobctlAsync(token, "run", jobId, "--schedule", at);
        Assert.True(scheduled.ExitCode == 0, scheduled.Stderr);
        Assert.Equal("SCHEDULED", (await api.ExecutionAsync(scheduled.Line)).GetProperty("status").GetString());
        var listed = await _platform.JobctlAsync(token, "executions", "list", "--status", "SCHEDULED");
        Assert.Contains(scheduled.Line, listed.Stdout, StringComparison.Ordinal);

        // failures: retried, then FAILED into the DLQ; retry from the DLQ makes a new execution.
        var flaky = await _platform.JobctlAsync(token, "create", "--name", "flaky", "--image", "exec", "--max-attempts", "2", "--",
            "sh", "-c", "echo 'cannot reach upstream' >&2; exit 3");
        Assert.True(flaky.ExitCode == 0, flaky.Stderr);
        var failedRun = await _platform.JobctlAsync(token, "run", flaky.Line);
        var failedLogs = await _platform.JobctlAsync(token, "logs", "-f", failedRun.Line);
        Assert.True(failedLogs.ExitCode == 0, failedLogs.Stderr);
        Assert.Equal(2, failedLogs.Stdout.Split('\n').Count(l => l == "cannot reach upstream"));
        var failed = await api.ExecutionAsync(failedRun.Line);
        Assert.Equal("FAILED", failed.GetProperty("status").GetString());
        Assert.Equal(2, failed.GetProperty("attempt").GetInt32());
        Assert.Equal("exit code 3", failed.GetProperty("error").GetString());

        var dlq = await _platform.JobctlAsync(token, "dlq", "list");
        Assert.True(dlq.ExitCode == 0, dlq.Stderr);
        Assert.Contains(failedRun.Line, dlq.Stdout, StringComparison.Ordinal);
        Assert.Contains("exit code 3", dlq.Stdout, StringComparison.Ordinal);

        var retry = await _platform.JobctlAsync(token, "dlq", "retry", failedRun.Line);
        Assert.True(retry.ExitCode == 0, retry.Stderr);
        Assert.True(Guid.TryParse(retry.Line, out _), $"dlq retry printed '{retry.Line}'");
        Assert.NotEqual(failedRun.Line, retry.Line);

        // retry policy per job: a permanent exit code fails at once; bulk retry and purge.
        var import = await _platform.JobctlAsync(token, "create", "--name", "import", "--image", "exec", "--max-attempts", "5",
            "--retry-backoff-base", "2", "--retry-backoff-max", "60", "--no-retry-exit-code", "2", "--",
            "sh", "-c", "echo \"bad input\" >&2; exit 2");
        Assert.True(import.ExitCode == 0, import.Stderr);
        var importRun = await _platform.JobctlAsync(token, "run", import.Line);
        var importLogs = await _platform.JobctlAsync(token, "logs", "-f", importRun.Line);
        Assert.Equal("bad input", importLogs.Line);
        var importDone = await api.ExecutionAsync(importRun.Line);
        Assert.Equal("FAILED", importDone.GetProperty("status").GetString());
        Assert.Equal(1, importDone.GetProperty("attempt").GetInt32());

        var retryAll = await _platform.JobctlAsync(token, "dlq", "retry", "--all");
        Assert.True(retryAll.ExitCode == 0, retryAll.Stderr);
        Assert.StartsWith("retried ", retryAll.Stdout, StringComparison.Ordinal);
        var purge = await _platform.JobctlAsync(token, "dlq", "purge", "--yes");
        Assert.True(purge.ExitCode == 0, purge.Stderr);
        Assert.StartsWith("purged ", purge.Stdout, StringComparison.Ordinal);

        var jobs = await _platform.JobctlAsync(token, "jobs", "list");
        foreach (var name in new[] { "greet", "report", "flaky", "import" })
            Assert.Contains(name, jobs.Stdout, StringComparison.Ordinal);

        // every failure exits non-zero.
        var missing = await _platform.JobctlAsync(token, "status", Guid.NewGuid().ToString());
        Assert.NotEqual(0, missing.ExitCode);
        var badToken = await _platform.JobctlAsync("jp_nope", "jobs", "list");
        Assert.NotEqual(0, badToken.ExitCode);
    }

    private static string ExtractId(string output)
    {
        foreach (var word in output.Split([' ', '\n', '\t', '(', ')'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (Guid.TryParse(word, out _)) return word;
        }
        throw new InvalidOperationException($"no id in '{output}'");
    }
}

using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Runtimes.Exec;

namespace Jobplane.Worker.Tests.Exec;

public sealed class ExecRuntimeBasicTests : IDisposable
{
    private readonly ExecHarness _exec = new();

    public void Dispose() => _exec.Dispose();

    [Fact]
    public void Is_named_exec() => Assert.Equal("exec", _exec.Runtime.Name);

    [Fact]
    public async Task Arguments_reach_the_program_literally_without_a_shell()
    {
        var (outcome, logs) = await _exec.RunAsync(ExecHarness.Spec(["echo", "$HOME; rm -rf /tmp/x", "`id`", "*", "a\nb"]));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(["$HOME; rm -rf /tmp/x `id` * a", "b"], logs.Stdout);
    }

    [Fact]
    public async Task A_missing_program_cannot_start_and_is_not_retried()
    {
        var (outcome, logs) = await _exec.RunAsync(ExecHarness.Spec(["nosuchprog", "arg"]));

        Assert.Equal("cannot start 'nosuchprog': No such file or directory", outcome.Error);
        Assert.Null(outcome.ExitCode);
        Assert.False(outcome.Retryable);
        Assert.False(outcome.Succeeded);
        Assert.Empty(logs.Stdout);
    }

    [Fact]
    public async Task A_missing_program_given_by_path_cannot_start()
    {
        var (outcome, _) = await _exec.RunAsync(ExecHarness.Spec(["/no/such/dir/prog"]));

        Assert.Equal("cannot start '/no/such/dir/prog': No such file or directory", outcome.Error);
        Assert.False(outcome.Retryable);
    }

    [Fact]
    public async Task A_directory_is_not_a_program()
    {
        var (outcome, _) = await _exec.RunAsync(ExecHarness.Spec(["/usr"]));

        Assert.Equal("cannot start '/usr': Is a directory", outcome.Error);
        Assert.False(outcome.Retryable);
    }

    [Fact]
    public async Task An_empty_command_is_refused()
    {
        var (outcome, _) = await _exec.RunAsync(ExecHarness.Spec([]));

        Assert.Equal("command is empty", outcome.Error);
        Assert.False(outcome.Retryable);
        Assert.Null(outcome.ExitCode);
    }

    [Fact]
    public async Task The_job_reads_an_empty_stdin_instead_of_the_workers()
    {
        var (outcome, logs) = await _exec.RunAsync(ExecHarness.Shell("cat; echo done"));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(["done"], logs.Stdout);
    }

    [Fact]
    public async Task The_job_leads_its_own_session_and_process_group_under_the_pid_the_runtime_tracks()
    {
        // Fields 5 and 6 of /proc/PID/stat are the process group and the session.
        var (outcome, logs) = await _exec.RunAsync(ExecHarness.Shell("echo $$; cut -d' ' -f5,6 /proc/$$/stat"));

        Assert.True(outcome.Succeeded, outcome.Error);
        var pid = logs.Stdout[0];
        Assert.Equal($"{pid} {pid}", logs.Stdout[1]);
        var started = Assert.Single(_exec.Logger.Entries, e => e.Values.ContainsKey("ProcessGroup") && e.Message.Contains("started", StringComparison.Ordinal));
        Assert.Equal(pid, Convert.ToString(started.Values["ProcessGroup"], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Background_children_do_not_survive_a_job_that_exits_normally()
    {
        var (outcome, logs) = await _exec.RunAsync(ExecHarness.Shell("sleep 600 & echo $!; exit 0"));

        Assert.True(outcome.Succeeded, outcome.Error);
        var child = int.Parse(logs.Stdout[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(await Processes.WaitGoneAsync(child), $"background child {child} still runs");
    }

    [Fact]
    public async Task The_job_does_not_see_the_workers_environment()
    {
        Environment.SetEnvironmentVariable("WORKER_TOKEN", "s3cret");
        Environment.SetEnvironmentVariable("DATABASE_URL", "postgres://worker:s3cret@db/jobplane");
        var spec = ExecHarness.Spec(["env"], environment: new Dictionary<string, string> { ["GREETING"] = "hi there" });

        var (outcome, logs) = await _exec.RunAsync(spec);

        Assert.True(outcome.Succeeded, outcome.Error);
        var env = logs.Stdout;
        var workDirectory = _exec.WorkDirectoryOf(spec);
        Assert.Contains($"JOBPLANE_EXECUTION_ID={spec.ExecutionId}", env);
        Assert.Contains($"JOBPLANE_JOB_ID={spec.JobId}", env);
        Assert.Contains("JOBPLANE_ATTEMPT=1", env);
        Assert.Contains($"JOBPLANE_OUTPUT_DIR={workDirectory}", env);
        Assert.Contains($"JOBPLANE_WORKER_ID={_exec.WorkerId}", env);
        Assert.Contains($"HOME={workDirectory}", env);
        Assert.Contains($"TMPDIR={workDirectory}", env);
        Assert.Contains("LANG=C.UTF-8", env);
        Assert.Contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", env);
        Assert.Contains("GREETING=hi there", env);
        var all = logs.Text(LogStream.Stdout);
        Assert.DoesNotContain("s3cret", all, StringComparison.Ordinal);
        Assert.DoesNotContain("WORKER_TOKEN", all, StringComparison.Ordinal);
        Assert.DoesNotContain("DATABASE_URL", all, StringComparison.Ordinal);
        Assert.Equal(10, env.Count);
    }

    [Fact]
    public async Task Extra_environment_cannot_change_the_workers_identity()
    {
        var spec = ExecHarness.Spec(["env"], environment: new Dictionary<string, string> { ["JOBPLANE_WORKER_ID"] = "someone-else" });

        var (_, logs) = await _exec.RunAsync(spec);

        Assert.Contains($"JOBPLANE_WORKER_ID={_exec.WorkerId}", logs.Stdout);
        Assert.DoesNotContain("JOBPLANE_WORKER_ID=someone-else", logs.Stdout);
    }

    [Fact]
    public async Task Each_attempt_gets_a_fresh_private_directory_that_is_removed_afterwards()
    {
        var spec = ExecHarness.Shell("pwd; stat -c %a .; ls -A; touch leftover; mkdir -p deep/er; chmod 000 deep");
        var workDirectory = _exec.WorkDirectoryOf(spec);
        // A leftover from an earlier life of the same attempt must not be visible to the job.
        Directory.CreateDirectory(workDirectory);
        File.WriteAllText(Path.Combine(workDirectory, "stale"), "old");

        var (outcome, logs) = await _exec.RunAsync(spec);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal([workDirectory, "700"], logs.Stdout);
        Assert.False(Directory.Exists(workDirectory));
    }

    [Fact]
    public async Task The_working_directory_is_removed_after_a_failure_to_start()
    {
        var spec = ExecHarness.Spec(["nosuchprog"]);

        await _exec.RunAsync(spec);

        Assert.False(Directory.Exists(_exec.WorkDirectoryOf(spec)));
    }

    [Fact]
    public void Durations_read_like_a_person_wrote_them()
    {
        Assert.Equal("2s", OutcomeText.FormatDuration(TimeSpan.FromSeconds(2)));
        Assert.Equal("1.5s", OutcomeText.FormatDuration(TimeSpan.FromMilliseconds(1500)));
        Assert.Equal("3600s", OutcomeText.FormatDuration(TimeSpan.FromHours(1)));
    }
}

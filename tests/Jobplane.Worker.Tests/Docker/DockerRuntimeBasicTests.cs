using System.Text.Json;
using Jobplane.Testing;
using Jobplane.Worker.Runtimes.Docker;

namespace Jobplane.Worker.Tests.Docker;

/// <summary>Running containers on a real Docker Engine: commands, results, exit codes and the locked-down defaults.</summary>
public sealed class DockerRuntimeBasicTests : IAsyncLifetime
{
    private readonly DockerHarness _docker = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _docker.DisposeAsync().AsTask();

    [Fact]
    public async Task An_empty_command_runs_the_images_own_command()
    {
        var (outcome, logs) = await _docker.RunAsync(DockerHarness.Spec([]));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal([TestDocker.ImageDefaultOutput], logs.Stdout);
    }

    [Fact]
    public async Task The_command_is_an_argument_vector_that_no_shell_interprets()
    {
        var (outcome, logs) = await _docker.RunAsync(DockerHarness.Spec(["echo", "$HOME", "a  b", "`id`", "; exit 1"]));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(["$HOME a  b `id` ; exit 1"], logs.Stdout);
    }

    [Fact]
    public async Task A_command_missing_from_the_image_fails_with_exit_code_127_as_in_a_shell()
    {
        var (outcome, logs) = await _docker.RunAsync(DockerHarness.Spec(["no-such-program"]));

        Assert.False(outcome.Succeeded);
        Assert.Equal(127, outcome.ExitCode);
        Assert.Equal("exit code 127", outcome.Error);
        Assert.Contains(logs.Stderr, l => l.Contains("exec no-such-program failed: No such file or directory", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_job_sees_its_identity_and_extra_variables_and_nothing_of_the_worker()
    {
        Environment.SetEnvironmentVariable("JOBPLANE_TEST_WORKER_SECRET", "hunter2");
        var spec = DockerHarness.Spec(["env"], environment: new Dictionary<string, string>
        {
            ["GREETING"] = "hello world",
            ["JOBPLANE_EXECUTION_ID"] = "forged",
        });

        var (outcome, logs) = await _docker.RunAsync(spec);

        Assert.True(outcome.Succeeded, outcome.Error);
        var env = logs.Stdout.Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        Assert.Equal(spec.ExecutionId.ToString("D"), env["JOBPLANE_EXECUTION_ID"]);
        Assert.Equal(spec.JobId.ToString("D"), env["JOBPLANE_JOB_ID"]);
        Assert.Equal("/jobplane/output", env["JOBPLANE_OUTPUT_DIR"]);
        Assert.Equal("hello world", env["GREETING"]);
        // What is left comes from the image (PATH) and the engine (HOSTNAME, HOME).
        var jobplane = env.Keys.Where(k => k.StartsWith("JOBPLANE_", StringComparison.Ordinal)).Order().ToList();
        Assert.Equal(["JOBPLANE_ATTEMPT", "JOBPLANE_EXECUTION_ID", "JOBPLANE_JOB_ID", "JOBPLANE_OUTPUT_DIR"], jobplane);
        Assert.Empty(env.Keys.Except(["JOBPLANE_ATTEMPT", "JOBPLANE_EXECUTION_ID", "JOBPLANE_JOB_ID", "JOBPLANE_OUTPUT_DIR", "GREETING", "PATH", "HOSTNAME", "HOME"]));
    }

    [Fact]
    public async Task The_job_runs_as_an_unprivileged_user_that_can_write_its_output_folder()
    {
        var (outcome, logs) = await _docker.RunAsync(DockerHarness.Shell(
            """id -u; id -g; grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status; echo '"written"' > "$JOBPLANE_OUTPUT_DIR/result.json" """));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal("65534", logs.Stdout[0]);
        Assert.Equal("65534", logs.Stdout[1]);
        Assert.Equal("CapEff:\t0000000000000000", logs.Stdout[2]);
        Assert.Equal("NoNewPrivs:\t1", logs.Stdout[3]);
        Assert.Equal("written", outcome.Result!.Value.GetString());
    }

    [Fact]
    public async Task The_root_filesystem_is_read_only_and_tmp_is_writable()
    {
        var (outcome, logs) = await _docker.RunAsync(DockerHarness.Shell(
            "if echo x > /x; then echo root-writable; else echo root-read-only; fi; echo y > /tmp/y && cat /tmp/y"));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(["root-read-only", "y"], logs.Stdout);
        Assert.Contains(logs.Stderr, l => l.Contains("Read-only file system", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_job_has_no_network_but_loopback()
    {
        var (outcome, logs) = await _docker.RunAsync(DockerHarness.Shell(
            "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; if wget -q -T 2 -O /dev/null http://1.1.1.1/; then echo reached; else echo unreachable; fi"));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(["lo", "unreachable"], logs.Stdout);
    }

    [Fact]
    public async Task A_missing_image_that_cannot_be_pulled_fails_clearly_without_retry()
    {
        await using var withNetwork = new DockerHarness(o => o with { Network = "host" });
        var spec = DockerHarness.Spec(["true"], image: "jobplane-test/does-not-exist:1") with { Network = true };

        var (outcome, _) = await withNetwork.RunAsync(spec);

        Assert.False(outcome.Succeeded);
        Assert.False(outcome.Retryable);
        Assert.Null(outcome.ExitCode);
        // No registry is reachable from this machine: the engine's lookup error becomes a fixed text.
        Assert.Equal("image 'jobplane-test/does-not-exist:1' is not on this worker's Docker Engine and cannot be pulled: the registry cannot be reached from this worker", outcome.Error);
        Assert.Equal(0, await DockerHarness.ContainersOfAsync(spec));
        Assert.False(Directory.Exists(withNetwork.OutputFolderOf(spec)));
    }

    [Fact]
    public async Task With_pull_policy_never_a_missing_image_is_not_pulled()
    {
        await using var never = new DockerHarness(o => o with { PullPolicy = PullPolicy.Never });

        var (outcome, _) = await never.RunAsync(DockerHarness.Spec(["true"], image: "jobplane-test/does-not-exist:1"));
        var (present, _) = await never.RunAsync(DockerHarness.Spec(["true"]));

        Assert.False(outcome.Retryable);
        Assert.Equal("image 'jobplane-test/does-not-exist:1' is not on this worker's Docker Engine, and DOCKER_PULL_POLICY is never", outcome.Error);
        Assert.DoesNotContain(never.Logger.Entries, e => e.Message.StartsWith("Pulling", StringComparison.Ordinal));
        Assert.True(present.Succeeded, present.Error);
    }

    [Fact]
    public async Task An_invalid_spec_is_refused_before_anything_runs()
    {
        var (noImage, _) = await _docker.RunAsync(DockerHarness.Spec(["true"], image: " "));
        var (badTimeout, _) = await _docker.RunAsync(DockerHarness.Spec(["true"], timeout: TimeSpan.Zero));

        Assert.False(noImage.Retryable);
        Assert.Equal("image is empty: the docker runtime needs an image to run", noImage.Error);
        Assert.False(badTimeout.Retryable);
        Assert.Equal("timeout must be positive (got 0s)", badTimeout.Error);
    }

    [Fact]
    public async Task A_result_json_is_parsed_as_json()
    {
        var (outcome, _) = await _docker.RunAsync(DockerHarness.Shell(
            """echo '{"nested": {"list": [1, 2, 3]}, "ok": true}' > "$JOBPLANE_OUTPUT_DIR/result.json" """));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(JsonValueKind.Array, outcome.Result!.Value.GetProperty("nested").GetProperty("list").ValueKind);
        Assert.True(outcome.Result.Value.GetProperty("ok").GetBoolean());
    }
}

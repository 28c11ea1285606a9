using System.CommandLine;
using System.Net;
using System.Text;
using Jobplane.Api;

namespace Jobplane.Cli.Tests;

/// <summary>
/// cancel, attempts, dlq retry --all / purge, --idempotency-key and the retry-policy flags: every bad invocation
/// exits 2, names what is wrong, prints nothing on stdout and sends nothing (the tripwire handler).
/// </summary>
public sealed class NewCommandUsageTests
{
    private const string Token = "test-token";
    private const string SomeId = "0b5c3c4e-6a63-4f2f-8c1c-3a4b5c6d7e8f";
    private const string OtherId = "1c6d4d5f-7b74-4a3a-9d2d-4b5c6d7e8f90";

    private static ParseResult Parse(params string[] args)
    {
        var runtime = new JobctlRuntime(TextWriter.Null, TextWriter.Null, new Dictionary<string, string?>(), null, color: false);
        return JobctlApp.BuildRootCommand(runtime).Parse(args);
    }

    public static TheoryData<string[], string> UsageErrors => new()
    {
        // cancel: exactly one of EXECUTION_ID and --job.
        { ["cancel"], "nothing to cancel" },
        { ["cancel", SomeId, "--job", OtherId], "not both" },
        { ["cancel", SomeId, "--job-id", OtherId], "not both" },
        { ["cancel", "--job", "job-1"], "'job-1' is not a valid id" },
        { ["cancel", "exec-1"], "'exec-1' is not a valid id" },
        { ["attempts", "exec-1"], "'exec-1' is not a valid id" },

        // --idempotency-key: 1..255 printable ASCII, sent as typed.
        { ["run", SomeId, "--idempotency-key", ""], "--idempotency-key must not be empty" },
        { ["run", SomeId, "--idempotency-key", new string('k', 256)], "at most 255 characters (got 256)" },
        { ["run", SomeId, "--idempotency-key", "clé"], "printable ASCII" },
        { ["run", SomeId, "--idempotency-key", "a\tb"], "printable ASCII" },
        { ["run", SomeId, "--idempotency-key", "line\nbreak"], "printable ASCII" },
        { ["run", SomeId, "--idempotency-key", " padded"], "must not begin or end with a space" },
        { ["run", SomeId, "--idempotency-key", "padded "], "must not begin or end with a space" },
        { ["submit", "--name", "n", "--image", "exec", "-c", "true", "--idempotency-key", ""], "--idempotency-key must not be empty" },
        { ["submit", "--name", "n", "--image", "exec", "-c", "true", "--idempotency-key", "ключ"], "printable ASCII" },

        // run --count: at least one, and not with an Idempotency-Key (the controller refuses it on batch runs).
        { ["run", SomeId, "--count", "-1"], "--count must be an integer >= 1 (got '-1')" },
        { ["run", SomeId, "--count", "0"], "--count must be an integer >= 1 (got '0')" },
        { ["run", SomeId, "--count", "many"], "(got 'many')" },
        { ["run", SomeId, "--count", "2", "--idempotency-key", "k"], "--idempotency-key cannot be used with --count" },

        // dlq purge needs --yes; dlq retry takes ID or --all, and --job-id only with --all.
        { ["dlq", "purge"], "needs --yes" },
        { ["dlq", "purge", "--job-id", SomeId], "needs --yes" },
        { ["dlq", "retry", SomeId, "--all"], "either ID or --all, not both" },
        { ["dlq", "retry", SomeId, "--all", "--job-id", OtherId], "either ID or --all, not both" },
        { ["dlq", "retry"], "nothing to retry" },
        { ["dlq", "retry", "--job-id", OtherId], "nothing to retry" },
        { ["dlq", "retry", SomeId, "--job-id", OtherId], "--job-id goes with --all" },

        // Retry policy on create and submit.
        { ["create", "--name", "n", "--image", "exec", "--no-retry-exit-code", "0"], "exit code 1..255, one per flag (got '0')" },
        { ["create", "--name", "n", "--image", "exec", "--no-retry-exit-code", "256"], "(got '256')" },
        { ["create", "--name", "n", "--image", "exec", "--no-retry-exit-code", "-1"], "(got '-1')" },
        { ["create", "--name", "n", "--image", "exec", "--no-retry-exit-code", "3,4"], "(got '3,4')" },
        { ["create", "--name", "n", "--image", "exec", "--no-retry-exit-code", "3", "--no-retry-exit-code", "x"], "(got 'x')" },
        { ["submit", "--name", "n", "--image", "exec", "--no-retry-exit-code", "300"], "(got '300')" },
        { ["create", "--name", "n", "--image", "exec", "--retry-backoff-base", "0"], "--retry-backoff-base must be a number of seconds > 0 (got '0')" },
        { ["create", "--name", "n", "--image", "exec", "--retry-backoff-base", "-1"], "(got '-1')" },
        { ["create", "--name", "n", "--image", "exec", "--retry-backoff-base", "soon"], "(got 'soon')" },
        { ["create", "--name", "n", "--image", "exec", "--retry-backoff-max", "Infinity"], "--retry-backoff-max must be a number of seconds > 0 (got 'Infinity')" },
        { ["create", "--name", "n", "--image", "exec", "--retry-backoff-max", "NaN"], "(got 'NaN')" },
        { ["submit", "--name", "n", "--image", "exec", "--retry-backoff-max", "0"], "(got '0')" },
        { ["create", "--name", "n", "--image", "exec", "--retry-backoff-base", "10", "--retry-backoff-max", "5"],
            "--retry-backoff-base (10) must not be greater than --retry-backoff-max (5)" },
        { ["submit", "--name", "n", "--image", "exec", "--retry-backoff-base", "0.5", "--retry-backoff-max", "0.25"], "must not be greater than" },

        // Resources on create and submit: the lower bounds here, the upper ones the controller's.
        { ["create", "--name", "n", "--image", "exec", "--memory", "5"], "--memory must be an integer >= 6 (got '5')" },
        { ["create", "--name", "n", "--image", "exec", "--memory", "64m"], "(got '64m')" },
        { ["submit", "--name", "n", "--image", "exec", "--memory", "-1"], "(got '-1')" },
        { ["create", "--name", "n", "--image", "exec", "--cpus", "0"], "--cpus must be a number >= 0.01 (got '0')" },
        { ["create", "--name", "n", "--image", "exec", "--cpus", "NaN"], "(got 'NaN')" },
        { ["submit", "--name", "n", "--image", "exec", "--cpus", "half"], "(got 'half')" },
        { ["create", "--name", "n", "--image", "exec", "--pids", "0"], "--pids must be an integer >= 1 (got '0')" },
        { ["submit", "--name", "n", "--image", "exec", "--pids", "1.5"], "(got '1.5')" },
    };

    [Theory]
    [MemberData(nameof(UsageErrors))]
    public async Task Usage_errors_exit_2_say_why_and_send_nothing(string[] args, string expected)
    {
        var tripwire = new TripwireHandler();

        var result = await CliRunner.RunWithAsync(null, tripwire, [.. args, "-t", Token]);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(expected, result.Stderr, StringComparison.Ordinal);
        Assert.StartsWith("error: ", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.Stdout);
        Assert.Equal(0, tripwire.Calls);
    }

    [Fact]
    public async Task Purge_without_yes_explains_what_purge_does_and_that_nothing_was_sent()
    {
        var result = await CliRunner.RunAsync("dlq", "purge", "-t", Token);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("deletes dead letters", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("nothing was sent", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("jobctl dlq purge --help", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_control_character_in_the_key_is_shown_escaped_not_written_to_the_terminal()
    {
        var result = await CliRunner.RunAsync("run", SomeId, "--idempotency-key", "a\u001b[2Jb", "-t", Token);

        Assert.Equal(2, result.ExitCode);
        Assert.DoesNotContain('\u001b', result.Stderr);
        Assert.Contains(@"a\u001b[2Jb", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("k")]
    [InlineData("deploy-2030-01-02/build:17 retry#2")]
    [InlineData("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")]
    public void Idempotency_keys_of_printable_ascii_parse_unchanged(string key)
    {
        var run = Parse("run", SomeId, "--idempotency-key", key);
        var submit = Parse("submit", "--name", "n", "--image", "exec", "--idempotency-key", key);

        Assert.Empty(run.Errors);
        Assert.Equal(key, run.GetValue<string?>("--idempotency-key"));
        Assert.Empty(submit.Errors);
        Assert.Equal(key, submit.GetValue<string?>("--idempotency-key"));
    }

    [Fact]
    public void A_key_of_exactly_255_characters_is_accepted()
    {
        var key = new string('k', 255);

        var parsed = Parse("run", SomeId, "--idempotency-key", key);

        Assert.Empty(parsed.Errors);
        Assert.Equal(key, parsed.GetValue<string?>("--idempotency-key"));
    }

    [Fact]
    public void Retry_policy_flags_parse_repeat_and_allow_equal_base_and_max()
    {
        var parsed = Parse("create", "--name", "n", "--image", "exec",
            "--retry-backoff-base", "0.5", "--retry-backoff-max", "0.5",
            "--no-retry-exit-code", "1", "--no-retry-exit-code", "255", "--no-retry-exit-code", "42");

        Assert.Empty(parsed.Errors);
        Assert.Equal(0.5, parsed.GetValue<double?>("--retry-backoff-base"));
        Assert.Equal(0.5, parsed.GetValue<double?>("--retry-backoff-max"));
        Assert.Equal([1, 255, 42], parsed.GetValue<int[]>("--no-retry-exit-code") ?? []);
    }

    [Fact]
    public void Resource_flags_parse_and_network_is_a_bare_flag()
    {
        var parsed = Parse("submit", "--name", "n", "--image", "exec", "--memory", "32", "--cpus", "0.5", "--pids", "20", "--network", "--", "true");
        var plain = Parse("create", "--name", "n", "--image", "exec", "--", "true");

        Assert.Empty(parsed.Errors);
        Assert.Equal(32, parsed.GetValue<int?>("--memory"));
        Assert.Equal(0.5, parsed.GetValue<double?>("--cpus"));
        Assert.Equal(20, parsed.GetValue<int?>("--pids"));
        Assert.True(parsed.GetValue<bool>("--network"));
        Assert.Equal(["true"], parsed.GetValue<string[]>("COMMAND") ?? []);
        Assert.Empty(plain.Errors);
        Assert.Null(plain.GetValue<int?>("--memory"));
        Assert.False(plain.GetValue<bool>("--network"));
    }

    [Fact]
    public async Task A_job_asking_for_nothing_sends_no_resources_and_no_network()
    {
        var plain = new CreateAnswerHandler();
        var sized = new CreateAnswerHandler();

        var sentPlain = await CliRunner.RunWithAsync(null, plain, "create", "--name", "n", "--image", "exec", "-t", Token, "--", "true");
        var sentSized = await CliRunner.RunWithAsync(null, sized, "create", "--name", "n", "--image", "exec", "--memory", "64", "--network", "-t", Token, "--", "true");

        Assert.True(sentPlain.ExitCode == 0, sentPlain.ToString());
        Assert.DoesNotContain("resources", plain.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("network", plain.Body, StringComparison.Ordinal);
        Assert.True(sentSized.ExitCode == 0, sentSized.ToString());
        Assert.Contains("\"resources\":{\"memory_mib\":64}", sized.Body, StringComparison.Ordinal);
        Assert.Contains("\"network\":true", sized.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_as_root_is_a_bare_flag_sent_only_when_given()
    {
        var parsed = Parse("submit", "--name", "n", "--image", "exec", "--run-as-root", "--", "id", "-u");
        var plain = new CreateAnswerHandler();
        var rooted = new CreateAnswerHandler();

        var sentPlain = await CliRunner.RunWithAsync(null, plain, "create", "--name", "n", "--image", "exec", "-t", Token, "--", "true");
        var sentRooted = await CliRunner.RunWithAsync(null, rooted, "create", "--name", "n", "--image", "exec", "--run-as-root", "-t", Token, "--", "true");

        Assert.Empty(parsed.Errors);
        Assert.True(parsed.GetValue<bool>("--run-as-root"));
        Assert.Equal(["id", "-u"], parsed.GetValue<string[]>("COMMAND") ?? []);
        Assert.True(sentPlain.ExitCode == 0, sentPlain.ToString());
        Assert.DoesNotContain("run_as_root", plain.Body, StringComparison.Ordinal);
        Assert.True(sentRooted.ExitCode == 0, sentRooted.ToString());
        Assert.Contains("\"run_as_root\":true", rooted.Body, StringComparison.Ordinal);
    }

    /// <summary>Records the body of one POST /jobs and answers it as the controller would (201).</summary>
    private sealed class CreateAnswerHandler : HttpMessageHandler
    {
        public string Body { get; private set; } = "";

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Body = await request.Content!.ReadAsStringAsync(cancellationToken);
            return new HttpResponseMessage(HttpStatusCode.Created)
            {
                Content = new StringContent("{\"job_id\": \"" + SomeId + "\"}", Encoding.UTF8, "application/json"),
            };
        }
    }

    [Fact]
    public void Each_form_of_cancel_and_dlq_retry_parses_alone()
    {
        Assert.Empty(Parse("cancel", SomeId).Errors);
        Assert.Empty(Parse("cancel", "--job", SomeId).Errors);
        Assert.Empty(Parse("dlq", "retry", SomeId).Errors);
        Assert.Empty(Parse("dlq", "retry", "--all").Errors);
        Assert.Empty(Parse("dlq", "retry", "--all", "--job-id", SomeId).Errors);
        Assert.Empty(Parse("dlq", "purge", "--yes").Errors);
        Assert.Empty(Parse("dlq", "purge", "-y", "--job-id", SomeId).Errors);
    }

    [Theory]
    [InlineData("cancel", "--job")]
    [InlineData("attempts", "EXECUTION_ID")]
    [InlineData("dlq retry", "--all")]
    [InlineData("dlq purge", "--yes")]
    [InlineData("run", "--idempotency-key")]
    [InlineData("run", "--count")]
    [InlineData("submit", "--idempotency-key")]
    [InlineData("create", "--no-retry-exit-code")]
    [InlineData("submit", "--retry-backoff-base")]
    [InlineData("create", "--memory")]
    [InlineData("submit", "--cpus")]
    [InlineData("create", "--pids")]
    [InlineData("submit", "--network")]
    [InlineData("create", "--run-as-root")]
    [InlineData("submit", "--run-as-root")]
    public async Task Help_describes_the_new_commands_and_flags(string command, string expected)
    {
        var result = await CliRunner.RunAsync([.. command.Split(' '), "--help"]);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains(expected, result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_idempotency_key_goes_out_as_the_header_exactly_as_given()
    {
        const string key = "deploy 2030-01-02/build:17 'retry' #2";
        var withKey = new RunAnswerHandler();
        var withoutKey = new RunAnswerHandler();

        var sent = await CliRunner.RunWithAsync(null, withKey, "run", SomeId, "--idempotency-key", key, "-t", Token);
        var plain = await CliRunner.RunWithAsync(null, withoutKey, "run", SomeId, "-t", Token);

        Assert.True(sent.ExitCode == 0, sent.ToString());
        Assert.Equal([key], withKey.IdempotencyKeys ?? throw new InvalidOperationException("nothing was sent"));
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Equal([], withoutKey.IdempotencyKeys ?? throw new InvalidOperationException("nothing was sent"));
    }

    /// <summary>Records the Idempotency-Key header of one POST /jobs/{id}/run and answers it as the controller would (201).</summary>
    private sealed class RunAnswerHandler : HttpMessageHandler
    {
        public string[]? IdempotencyKeys { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Assert.Equal(HttpMethod.Post, request.Method);
            Assert.EndsWith(Routes.Of(Routes.JobRun, SomeId), request.RequestUri!.AbsolutePath, StringComparison.Ordinal);
            IdempotencyKeys = request.Headers.TryGetValues("Idempotency-Key", out var values) ? [.. values] : [];
            var body = $$"""{"execution_id":"{{OtherId}}","status":"PENDING"}""";
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.Created)
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            });
        }
    }
}

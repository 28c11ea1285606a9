using System.CommandLine;
using System.Net;
using System.Text;
using Jobplane.Api;
using Jobplane.Cli.Commands;

namespace Jobplane.Cli.Tests;

/// <summary>
/// `schedules ...`: every bad invocation exits 2, names what is wrong, prints nothing on stdout and
/// sends nothing (the tripwire handler); good ones send only the fields given, and print the
/// schedule with its fire times in UTC and in its zone.
/// </summary>
public sealed class ScheduleCommandUsageTests
{
    private const string Token = "test-token";
    private const string SomeId = "0b5c3c4e-6a63-4f2f-8c1c-3a4b5c6d7e8f";
    private const string OtherId = "1c6d4d5f-7b74-4a3a-9d2d-4b5c6d7e8f90";

    private static ParseResult Parse(params string[] args)
    {
        var runtime = new JobctlRuntime(TextWriter.Null, TextWriter.Null, new Dictionary<string, string?>(), null, color: false);
        return JobctlApp.BuildRootCommand(runtime).Parse(args, JobctlApp.Parsing);
    }

    private static readonly string[] Create = ["schedules", "create", "--name", "s", "--job", "j"];

    public static TheoryData<string[], string> UsageErrors => new()
    {
        // The policies are words the controller knows.
        { [.. Create, "--cron", "@daily", "--misfire", "later"], "--misfire must be one of skip, fire_once, catch_up (got 'later')" },
        { [.. Create, "--cron", "@daily", "--misfire", "FIRE_ONCE"], "(got 'FIRE_ONCE')" },
        { ["schedules", "update", SomeId, "--misfire", "never"], "--misfire must be one of skip, fire_once, catch_up (got 'never')" },
        { [.. Create, "--cron", "@daily", "--overlap", "wait"], "--overlap must be one of allow, skip, queue, cancel (got 'wait')" },

        // --every: a duration of whole seconds, at least one.
        { [.. Create, "--every", "1.5s"], "--every must be a whole number of seconds (got '1.5s')" },
        { [.. Create, "--every", "1500ms"], "--every must be a whole number of seconds (got '1500ms')" },
        { ["schedules", "update", SomeId, "--every", "0.5"], "--every must be a whole number of seconds (got '0.5')" },
        { [.. Create, "--every", "0s"], "--every must be at least 1s (got '0s')" },
        { [.. Create, "--every", "soon"], "--every must be a duration such as 90s, 5m, 1h or 1h30m (got 'soon')" },
        { [.. Create, "--every", "5d"], "(got '5d')" },

        // One timing and one job.
        { [.. Create, "--cron", "@daily", "--every", "5m"], "give --cron or --every, not both" },
        { ["schedules", "update", SomeId, "--cron", "@daily", "--every", "5m"], "give --cron or --every, not both" },
        { [.. Create], "when? give --cron EXPR or --every DURATION" },
        { ["schedules", "create", "--name", "s", "--cron", "@daily"], "which job? give --job-id ID or --job NAME" },
        { ["schedules", "create", "--name", "s", "--job", "j", "--job-id", SomeId, "--cron", "@daily"], "give --job-id or --job, not both" },
        { ["schedules", "create", "--job", "j", "--cron", "@daily"], "--name" },
        { ["schedules", "create", "--name", "s", "--job-id", "nightly", "--cron", "@daily"], "--job-id: 'nightly' is not a valid id" },

        // Times, numbers and the key prefix.
        { [.. Create, "--cron", "@daily", "--starts-at", "2030-01-02T09:00:00"], "--starts-at: '2030-01-02T09:00:00' is not an RFC3339 timestamp with offset" },
        { [.. Create, "--cron", "@daily", "--ends-at", "tomorrow"], "--ends-at: 'tomorrow' is not an RFC3339 timestamp" },
        { [.. Create, "--cron", "@daily", "--starts-at", "2030-01-02T09:00:00Z", "--ends-at", "2030-01-02T10:00:00+02:00"],
            "--ends-at (2030-01-02T10:00:00+02:00) must be after --starts-at (2030-01-02T09:00:00Z)" },
        { [.. Create, "--cron", "@daily", "--catch-up-max", "0"], "--catch-up-max must be an integer >= 1 (got '0')" },
        { [.. Create, "--cron", "@daily", "--timeout", "0"], "--timeout must be an integer >= 1 (got '0')" },
        { [.. Create, "--cron", "@daily", "--priority", "urgent"], "(got 'urgent')" },
        { [.. Create, "--cron", "@daily", "--idempotency-key-prefix", ""], "--idempotency-key-prefix must not be empty" },
        { [.. Create, "--cron", "@daily", "--idempotency-key-prefix", " lead"], "--idempotency-key-prefix must not begin with a space" },
        { [.. Create, "--cron", "@daily", "--idempotency-key-prefix", "clé-"], "--idempotency-key-prefix must be printable ASCII" },
        { [.. Create, "--cron", "@daily", "--idempotency-key-prefix", new string('k', 201)], "must be at most 200 characters (got 201)" },

        // update: something to change, and never the paused state (pause and resume do that).
        { ["schedules", "update", SomeId], "nothing to update" },
        { ["schedules", "update", SomeId, "--paused"], "--paused is not changed by update: use jobctl schedules pause ID or jobctl schedules resume ID" },
        { ["schedules", "update", SomeId, "--job", "a", "--job-id", OtherId], "give --job-id or --job, not both" },

        // Ids and paging.
        { ["schedules", "get", "nightly"], "SCHEDULE_ID: 'nightly' is not a valid id" },
        { ["schedules", "pause", "1"], "is not a valid id" },
        { ["schedules", "resume", "x"], "is not a valid id" },
        { ["schedules", "trigger", "x"], "is not a valid id" },
        { ["schedules", "delete", "x"], "is not a valid id" },
        { ["schedules", "get"], "missing SCHEDULE_ID" },
        { ["schedules", "history", SomeId, "--before-id", "0"], "--before-id must be an integer >= 1 (got '0')" },
        { ["schedules", "history", SomeId, "--limit", "0"], "--limit must be an integer >= 1 (got '0')" },
        { ["schedules", "list", "--limit", "many"], "(got 'many')" },
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
    public async Task An_argument_starting_with_an_at_sign_is_sent_as_typed_not_read_as_a_file()
    {
        var macro = new AnswerHandler(HttpStatusCode.Created);

        var sent = await CliRunner.RunWithAsync(null, macro, [.. Create, "--cron", "@daily", "-t", Token]);

        Assert.True(sent.ExitCode == 0, sent.ToString());
        Assert.Equal("""{"name":"s","job":"j","cron":"@daily"}""", macro.Body);
        var job = Parse("create", "--name", "n", "--image", "exec", "-c", "echo", "-c", "@user");
        Assert.Empty(job.Errors);
        Assert.Equal(["echo", "@user"], job.GetValue<string[]>("--command") ?? []);
    }

    [Theory]
    [InlineData("90s", 90)]
    [InlineData("5m", 300)]
    [InlineData("1h", 3600)]
    [InlineData("1h30m", 5400)]
    [InlineData("2000ms", 2)]
    [InlineData("45", 45)]
    public void Every_takes_a_duration_of_whole_seconds(string text, int seconds)
    {
        var parsed = Parse([.. Create, "--every", text]);

        Assert.Empty(parsed.Errors);
        Assert.Equal(seconds, parsed.GetValue<int?>("--every"));
    }

    [Theory]
    [InlineData(90, "90s")]
    [InlineData(300, "5m")]
    [InlineData(5400, "90m")]
    [InlineData(3600, "1h")]
    [InlineData(86400, "24h")]
    [InlineData(61, "61s")]
    public void An_interval_is_shown_in_the_largest_unit_that_divides_it_and_reads_back(int seconds, string text)
    {
        Assert.Equal(text, ScheduleCommands.Interval(seconds));
        Assert.Equal(seconds, ScheduleCommands.ParseEvery(text).Value);
    }

    [Fact]
    public async Task Create_sends_the_given_fields_and_nothing_else()
    {
        var handler = new AnswerHandler(HttpStatusCode.Created);

        var result = await CliRunner.RunWithAsync(null, handler, "schedules", "create", "--name", "nightly", "--job", "report",
            "--every", "1h30m", "--misfire", "catch_up", "--catch-up-max", "4", "--overlap", "queue", "-p", "high", "--timeout", "60",
            "--starts-at", "2030-01-02T09:00:00+01:00", "--idempotency-key-prefix", "nightly-", "--paused", "-t", Token);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(HttpMethod.Post, handler.Method);
        Assert.EndsWith(Routes.Schedules, handler.Path, StringComparison.Ordinal);
        Assert.Equal("""{"name":"nightly","job":"report","interval_seconds":5400,"starts_at":"2030-01-02T09:00:00+01:00","misfire":"catch_up","catch_up_max":4,"overlap":"queue","priority":75,"timeout":60,"idempotency_key_prefix":"nightly-","paused":true}""",
            handler.Body);
    }

    [Fact]
    public async Task Update_sends_only_the_given_fields()
    {
        var cron = new AnswerHandler(HttpStatusCode.OK);
        var zone = new AnswerHandler(HttpStatusCode.OK);

        var sentCron = await CliRunner.RunWithAsync(null, cron, "schedules", "update", SomeId, "--cron", "30 18 * * *", "-t", Token);
        var sentZone = await CliRunner.RunWithAsync(null, zone, "schedules", "update", SomeId, "--time-zone", "Asia/Tokyo", "--job-id", OtherId, "-t", Token);

        Assert.True(sentCron.ExitCode == 0, sentCron.ToString());
        Assert.Equal(HttpMethod.Patch, cron.Method);
        Assert.EndsWith(Routes.Of(Routes.Schedule, SomeId), cron.Path, StringComparison.Ordinal);
        Assert.Equal("""{"cron":"30 18 * * *"}""", cron.Body);
        Assert.True(sentZone.ExitCode == 0, sentZone.ToString());
        Assert.Equal($$"""{"job_id":"{{OtherId}}","time_zone":"Asia/Tokyo"}""", zone.Body);
    }

    [Fact]
    public async Task A_schedule_prints_its_fields_and_its_fire_times_in_UTC_and_in_its_zone()
    {
        var handler = new AnswerHandler(HttpStatusCode.OK);

        var result = await CliRunner.RunWithAsync(null, handler, "schedules", "get", SomeId, "-t", Token);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(HttpMethod.Get, handler.Method);
        Assert.Equal(
            $"""
            id:                {SomeId}
            name:              weekday-report
            job_id:            {OtherId}
            job_name:          report
            timing:            0 9 * * 1-5
            time_zone:         Europe/Berlin
            misfire:           fire_once
            overlap:           allow
            priority:          the job's
            timeout:           the job's
            state:             active
            next_due_at:       2030-03-29T08:00:00Z
            last_due_at:       -
            last_execution_id: -
            created_at:        2030-03-01T00:00:00Z
            updated_at:        2030-03-01T00:00:00Z

            next_fire_times (UTC and Europe/Berlin):
            UTC                   LOCAL
            2030-03-29T08:00:00Z  2030-03-29T09:00:00+01:00
            2030-04-01T07:00:00Z  2030-04-01T09:00:00+02:00
            2030-04-02T07:00:00Z  2030-04-02T09:00:00+02:00

            """, result.Stdout);
        Assert.Empty(result.Stderr);
    }

    [Fact]
    public void A_schedule_in_UTC_lists_its_fire_times_once_and_an_ended_one_says_it_has_none()
    {
        var at = new DateTimeOffset(2030, 1, 2, 3, 0, 0, TimeSpan.Zero);
        var schedule = new ScheduleView
        {
            Id = Guid.Parse(SomeId),
            Name = "poll",
            JobId = Guid.Parse(OtherId),
            JobName = "report",
            IntervalSeconds = 90,
            TimeZone = "UTC",
            Misfire = "skip",
            CatchUpMax = 1,
            Overlap = "queue",
            State = "paused",
            PausedAt = at,
            NextDueAt = at,
            NextFireTimes = [at, at.AddSeconds(90)],
            QueuedDueAt = at.AddSeconds(-90),
            CreatedAt = at,
            UpdatedAt = at,
        };
        using var utc = new StringWriter { NewLine = "\n" };
        using var ended = new StringWriter { NewLine = "\n" };

        ScheduleCommands.Write(utc, schedule);
        ScheduleCommands.Write(ended, schedule with { State = "ended", PausedAt = null, NextDueAt = null, NextFireTimes = [] });

        Assert.Contains("timing:            every 90s\n", utc.ToString(), StringComparison.Ordinal);
        Assert.Contains("queued_due_at:     2030-01-02T02:58:30Z\n", utc.ToString(), StringComparison.Ordinal);
        Assert.EndsWith("\nnext_fire_times (UTC; paused: nothing fires until it is resumed):\nUTC\n2030-01-02T03:00:00Z\n2030-01-02T03:01:30Z\n",
            utc.ToString(), StringComparison.Ordinal);
        Assert.Contains("state:             ended\nnext_due_at:       -\n", ended.ToString(), StringComparison.Ordinal);
        Assert.EndsWith("\nnext_fire_times: none (the schedule has ended)\n", ended.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("create")]
    [InlineData("list")]
    [InlineData("get")]
    [InlineData("update")]
    [InlineData("pause")]
    [InlineData("resume")]
    [InlineData("trigger")]
    [InlineData("delete")]
    [InlineData("history")]
    public async Task Schedules_help_lists_every_subcommand(string subcommand)
    {
        var result = await CliRunner.RunAsync("schedules", "--help");

        Assert.Equal(0, result.ExitCode);
        Assert.Matches($@"\n  {subcommand}\b", result.Stdout);
    }

    [Fact]
    public async Task Update_help_does_not_offer_paused()
    {
        var update = await CliRunner.RunAsync("schedules", "update", "--help");
        var create = await CliRunner.RunAsync("schedules", "create", "--help");

        Assert.DoesNotContain("--paused", update.Stdout, StringComparison.Ordinal);
        Assert.Contains("--paused", create.Stdout, StringComparison.Ordinal);
        Assert.Contains("--every <DURATION>", create.Stdout, StringComparison.Ordinal);
    }

    /// <summary>Records one request and answers it with a schedule, as the controller would.</summary>
    private sealed class AnswerHandler(HttpStatusCode status) : HttpMessageHandler
    {
        public HttpMethod? Method { get; private set; }
        public string Path { get; private set; } = "";
        public string Body { get; private set; } = "";

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Method = request.Method;
            Path = request.RequestUri!.AbsolutePath;
            Body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
            // Fire times across the start of summer time in Berlin (2030-03-31): the offset changes between rows.
            var body = $$"""
                {"id":"{{SomeId}}","name":"weekday-report","job_id":"{{OtherId}}","job_name":"report","cron":"0 9 * * 1-5",
                 "time_zone":"Europe/Berlin","misfire":"fire_once","catch_up_max":1,"overlap":"allow","state":"active",
                 "next_due_at":"2030-03-29T08:00:00Z",
                 "next_fire_times":["2030-03-29T08:00:00Z","2030-04-01T07:00:00Z","2030-04-02T07:00:00Z"],
                 "created_at":"2030-03-01T00:00:00Z","updated_at":"2030-03-01T00:00:00Z"}
                """;
            return new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        }
    }
}

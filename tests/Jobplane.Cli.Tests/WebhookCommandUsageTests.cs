using System.Net;
using System.Text;
using Jobplane.Api;
using Jobplane.Cli.Commands;

namespace Jobplane.Cli.Tests;

/// <summary>
/// `webhooks ...`: every bad invocation exits 2, names what is wrong, prints nothing on stdout and
/// sends nothing (the tripwire handler); good ones send only the fields given to the route meant,
/// and print what the controller answered.
/// </summary>
public sealed class WebhookCommandUsageTests
{
    private const string Token = "test-token";
    private const string HookId = "0b5c3c4e-6a63-4f2f-8c1c-3a4b5c6d7e8f";
    private const string OtherId = "1c6d4d5f-7b74-4a3a-9d2d-4b5c6d7e8f90";
    private const string DeliveryId = "2d7e5e60-8c85-4b4b-ae3e-5c6d7e8f9001";
    private const string Endpoint = "https://hooks.example.com/jobplane";

    private static readonly string[] Create = ["webhooks", "create", "--endpoint-url", Endpoint, "--event", "execution.failed"];

    private const string HookJson = $$"""
        {"id":"{{HookId}}","url":"{{Endpoint}}","description":"pager","events":["execution.failed","execution.dead_lettered"],
         "job_names":["nightly"],"enabled":true,"secret":"whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=",
         "created_at":"2030-03-01T00:00:00Z","updated_at":"2030-03-02T00:00:00Z"}
        """;

    public static TheoryData<string[], string> UsageErrors => new()
    {
        // create: where to and what, both required.
        { ["webhooks", "create", "--event", "execution.failed"], "Option '--endpoint-url' is required" },
        { ["webhooks", "create", "--endpoint-url", Endpoint], "Option '--event' is required" },
        { ["webhooks", "create", "--endpoint-url", "hooks.example.com/jobplane", "--event", "execution.failed"],
            "--endpoint-url must be an absolute https:// URL (http:// where the operator allows it), e.g. https://example.com/hooks/jobplane (got 'hooks.example.com/jobplane')" },
        { ["webhooks", "create", "--endpoint-url", "ftp://hooks.example.com/", "--event", "execution.failed"], "(got 'ftp://hooks.example.com/')" },
        { ["webhooks", "update", HookId, "--endpoint-url", "/relative"], "--endpoint-url must be an absolute https:// URL" },
        // One event per flag: a second word would otherwise be taken for the endpoint's next event silently.
        { [.. Create, "execution.succeeded"], "Unrecognized command or argument 'execution.succeeded'" },
        { [.. Create, "--job-id", "nightly"], "--job-id: 'nightly' is not a valid id (expected a UUID)" },
        { [.. Create, "--job-id", HookId, "--job-id", "2"], "--job-id: '2' is not a valid id" },

        // update: something to change, and no flags that contradict each other.
        { ["webhooks", "update", HookId], "nothing to update: give at least one of --endpoint-url, --event, --job-id, --job, --all-jobs, --enable, --disable, --description" },
        { ["webhooks", "update", HookId, "--enable", "--disable"], "give --enable or --disable, not both" },
        { ["webhooks", "update", HookId, "--all-jobs", "--job", "nightly"], "--all-jobs removes the job filters: give it without --job and --job-id" },
        { ["webhooks", "update", HookId, "--all-jobs", "--job-id", OtherId], "--all-jobs removes the job filters" },
        { ["webhooks", "create", "--endpoint-url", Endpoint, "--event", "execution.failed", "--enable"], "Unrecognized command or argument '--enable'" },

        // rotate-secret --overlap: a duration of whole seconds, at most the controller's 30 days.
        { ["webhooks", "rotate-secret", HookId, "--overlap", "soon"], "--overlap must be a duration such as 24h, 90m or 7d, or 0 (got 'soon')" },
        { ["webhooks", "rotate-secret", HookId, "--overlap", "31d"], "--overlap must be at most 30d (got '31d')" },
        { ["webhooks", "rotate-secret", HookId, "--overlap", "721h"], "--overlap must be at most 30d (got '721h')" },
        { ["webhooks", "rotate-secret", HookId, "--overlap", "1e300"], "--overlap must be at most 30d (got '1e300')" },
        { ["webhooks", "rotate-secret", HookId, "--overlap", "1.5s"], "--overlap must be a whole number of seconds (got '1.5s')" },
        { ["webhooks", "rotate-secret", HookId, "--overlap", "-1h"], "(got '-1h')" },

        // Ids, and paging of the delivery log.
        { ["webhooks", "get", "pager"], "WEBHOOK_ID: 'pager' is not a valid id (expected a UUID)" },
        { ["webhooks", "get"], "missing WEBHOOK_ID" },
        { ["webhooks", "delete", "x"], "WEBHOOK_ID: 'x' is not a valid id" },
        { ["webhooks", "test", "x"], "WEBHOOK_ID: 'x' is not a valid id" },
        { ["webhooks", "rotate-secret", "x"], "WEBHOOK_ID: 'x' is not a valid id" },
        { ["webhooks", "update", "x", "--disable"], "WEBHOOK_ID: 'x' is not a valid id" },
        { ["webhooks", "deliveries", HookId, "--limit", "0"], "--limit must be an integer >= 1 (got '0')" },
        { ["webhooks", "deliveries", HookId, "--before", "12"], "--before: '12' is not a valid id (expected a UUID)" },
        { ["webhooks", "delivery", HookId], "missing DELIVERY_ID (usage: jobctl webhooks delivery WEBHOOK_ID DELIVERY_ID)" },
        { ["webhooks", "delivery", HookId, "7"], "DELIVERY_ID: '7' is not a valid id" },
        { ["webhooks", "redeliver", HookId], "missing DELIVERY_ID (usage: jobctl webhooks redeliver WEBHOOK_ID DELIVERY_ID)" },
        { ["webhooks", "redeliver"], "missing WEBHOOK_ID and DELIVERY_ID" },
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

    [Theory]
    [InlineData("24h", 86_400)]
    [InlineData("90m", 5_400)]
    [InlineData("7d", 604_800)]
    [InlineData("1d12h", 129_600)]
    [InlineData("30d", 2_592_000)]
    [InlineData("3600", 3_600)]
    [InlineData("0", 0)]
    [InlineData("0s", 0)]
    public void Overlap_takes_days_hours_minutes_or_seconds(string text, int seconds)
    {
        var parsed = WebhookCommands.ParseOverlap(text);

        Assert.Null(parsed.Error);
        Assert.Equal(seconds, parsed.Value);
    }

    [Fact]
    public async Task Create_sends_the_given_fields_and_prints_the_endpoint_with_its_secret_once()
    {
        var handler = new AnswerHandler(HttpStatusCode.Created, HookJson
            .Replace("\"enabled\":true", "\"enabled\":false", StringComparison.Ordinal)
            .Replace("\"job_names\"", $"\"job_ids\":[\"{OtherId}\"],\"job_names\"", StringComparison.Ordinal));

        var result = await CliRunner.RunWithAsync(null, handler, "webhooks", "create", "--endpoint-url", Endpoint, "--event", "execution.failed",
            "--event", "execution.dead_lettered", "--job", "nightly", "--job-id", OtherId, "--job-id", OtherId, "--description", "pager",
            "--disabled", "-t", Token);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(HttpMethod.Post, handler.Method);
        Assert.Equal(Routes.Webhooks, handler.Path);
        // A job id given twice is sent once.
        Assert.Equal($$"""{"url":"{{Endpoint}}","description":"pager","events":["execution.failed","execution.dead_lettered"],"job_ids":["{{OtherId}}"],"job_names":["nightly"],"enabled":false}""",
            handler.Body);
        Assert.Equal(
            $"""
            id:          {HookId}
            url:         {Endpoint}
            description: pager
            events:      execution.failed, execution.dead_lettered
            job_ids:     {OtherId}
            job_names:   nightly
            enabled:     false
            created_at:  2030-03-01T00:00:00Z
            updated_at:  2030-03-02T00:00:00Z
            secret:      whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=

            """, result.Stdout);
        Assert.Equal("note: the signing secret is shown only once; store it now (your receiver verifies each delivery's signature with it)\n", result.Stderr);
    }

    [Fact]
    public async Task Create_with_only_what_is_required_sends_no_other_field()
    {
        var handler = new AnswerHandler(HttpStatusCode.Created, HookJson);

        var result = await CliRunner.RunWithAsync(null, handler, [.. Create, "-t", Token]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($$"""{"url":"{{Endpoint}}","events":["execution.failed"]}""", handler.Body);
    }

    [Fact]
    public async Task The_controllers_url_may_come_before_the_subcommand()
    {
        var handler = new AnswerHandler(HttpStatusCode.Created, HookJson);

        var result = await CliRunner.RunWithAsync(null, handler, ["--url", "http://controller.internal:6161", .. Create, "-t", Token]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("http://controller.internal:6161/webhooks", handler.Uri);
        Assert.Contains($"\"url\":\"{Endpoint}\"", handler.Body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--disable" }, """{"enabled":false}""")]
    [InlineData(new[] { "--enable", "--description", "" }, """{"description":"","enabled":true}""")]
    [InlineData(new[] { "--all-jobs" }, """{"job_ids":[],"job_names":[]}""")]
    [InlineData(new[] { "--job", "a", "--job", "b", "--event", "execution.started" }, """{"events":["execution.started"],"job_names":["a","b"]}""")]
    [InlineData(new[] { "--endpoint-url", "http://10.0.0.7:8080/hook" }, """{"url":"http://10.0.0.7:8080/hook"}""")]
    public async Task Update_sends_only_the_given_fields(string[] flags, string body)
    {
        var handler = new AnswerHandler(HttpStatusCode.OK, HookJson.Replace("\"secret\":\"whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=\",", "", StringComparison.Ordinal));

        var result = await CliRunner.RunWithAsync(null, handler, ["webhooks", "update", HookId, .. flags, "-t", Token]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(HttpMethod.Patch, handler.Method);
        Assert.Equal(Routes.Of(Routes.Webhook, HookId), handler.Path);
        Assert.Equal(body, handler.Body);
        Assert.DoesNotContain("secret", result.Stdout, StringComparison.Ordinal);
        Assert.Empty(result.Stderr);
    }

    [Fact]
    public async Task Rotate_secret_sends_the_overlap_in_seconds_or_no_body_for_the_controllers_default()
    {
        var rotated = HookJson.Replace("\"created_at\"", "\"previous_secret_expires_at\":\"2030-03-03T00:00:00Z\",\"created_at\"", StringComparison.Ordinal);
        var withOverlap = new AnswerHandler(HttpStatusCode.OK, rotated);
        var byDefault = new AnswerHandler(HttpStatusCode.OK, rotated);

        var given = await CliRunner.RunWithAsync(null, withOverlap, "webhooks", "rotate-secret", HookId, "--overlap", "1d", "-t", Token);
        var omitted = await CliRunner.RunWithAsync(null, byDefault, "webhooks", "rotate-secret", HookId, "-t", Token);

        Assert.True(given.ExitCode == 0, given.ToString());
        Assert.Equal(HttpMethod.Post, withOverlap.Method);
        Assert.Equal(Routes.Of(Routes.WebhookRotateSecret, HookId), withOverlap.Path);
        Assert.Equal("""{"overlap_seconds":86400}""", withOverlap.Body);
        Assert.Contains("previous_secret_expires_at: 2030-03-03T00:00:00Z\n", given.Stdout, StringComparison.Ordinal);
        Assert.EndsWith("secret:                     whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=\n", given.Stdout, StringComparison.Ordinal);
        Assert.Equal("note: the new signing secret is shown only once; store it now "
            + "(deliveries carry a signature with the previous secret too until 2030-03-03T00:00:00Z)\n", given.Stderr);
        Assert.True(omitted.ExitCode == 0, omitted.ToString());
        Assert.Equal("", byDefault.Body);
    }

    [Fact]
    public async Task List_shows_one_row_per_endpoint_and_never_a_secret()
    {
        var handler = new AnswerHandler(HttpStatusCode.OK, $$"""
            {"webhooks":[
             {"id":"{{HookId}}","url":"{{Endpoint}}","events":["execution.failed","execution.retrying"],"enabled":true,
              "created_at":"2030-03-01T00:00:00Z","updated_at":"2030-03-01T00:00:00Z"},
             {"id":"{{OtherId}}","url":"https://gone.example.com/h","events":["execution.succeeded"],"job_ids":["{{DeliveryId}}"],"job_names":["nightly"],
              "enabled":false,"disabled_reason":"the endpoint answered 410 Gone","failing_since":"2030-03-02T10:00:00Z",
              "created_at":"2030-03-01T00:00:00Z","updated_at":"2030-03-02T10:00:00Z"}]}
            """);

        var result = await CliRunner.RunWithAsync(null, handler, "webhooks", "list", "-t", Token);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(HttpMethod.Get, handler.Method);
        Assert.Equal(Routes.Webhooks, handler.Path);
        Assert.Equal(
            $"""
            ID                                    URL                                 EVENTS                               JOBS                                          ENABLED  FAILING_SINCE         DISABLED_REASON
            {HookId}  {Endpoint}  execution.failed,execution.retrying  all                                           true     -                     -
            {OtherId}  https://gone.example.com/h          execution.succeeded                  nightly,{DeliveryId}  false    2030-03-02T10:00:00Z  the endpoint answered 410 Gone

            """, result.Stdout);
    }

    [Fact]
    public async Task Deliveries_are_a_table_and_the_next_page_command_goes_to_stderr()
    {
        var handler = new AnswerHandler(HttpStatusCode.OK, $$"""
            {"deliveries":[
             {"id":"{{DeliveryId}}","event_type":"execution.failed","execution_id":"{{OtherId}}","state":"pending","attempts":2,
              "created_at":"2030-03-01T00:00:00Z","next_attempt_at":"2030-03-01T00:00:20Z","last_status":503,"last_error":"HTTP 503\nService Unavailable"}],
             "next_before":"{{DeliveryId}}"}
            """);

        var result = await CliRunner.RunWithAsync(null, handler, "webhooks", "deliveries", HookId, "--limit", "1", "--before", OtherId, "-t", Token);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(HttpMethod.Get, handler.Method);
        Assert.Equal($"{Routes.Of(Routes.WebhookDeliveries, HookId)}?limit=1&before={OtherId}", handler.PathAndQuery);
        Assert.Equal(
            $"""
            ID                                    EVENT             STATE    ATTEMPTS  LAST_STATUS  CREATED_AT            NEXT_ATTEMPT_AT       LAST_ERROR
            {DeliveryId}  execution.failed  pending  2         503          2030-03-01T00:00:00Z  2030-03-01T00:00:20Z  HTTP 503 Service Unavailable

            """, result.Stdout);
        Assert.Equal($"note: more entries: jobctl webhooks deliveries {HookId} --before {DeliveryId} --limit 1\n", result.Stderr);
    }

    [Fact]
    public async Task A_delivery_prints_its_fields_and_a_table_of_its_attempts()
    {
        var handler = new AnswerHandler(HttpStatusCode.OK, $$"""
            {"id":"{{DeliveryId}}","event_type":"webhook.test","state":"delivered","attempts":2,"created_at":"2030-03-01T00:00:00Z",
             "finished_at":"2030-03-01T00:00:06Z","last_status":200,
             "attempt_log":[
              {"attempt":1,"at":"2030-03-01T00:00:01Z","status_code":null,"latency_ms":5000,"error":"connection refused","response_head":null},
              {"attempt":2,"at":"2030-03-01T00:00:06Z","status_code":200,"latency_ms":12,"error":null,"response_head":"ok"}]}
            """);

        var result = await CliRunner.RunWithAsync(null, handler, "webhooks", "delivery", HookId, DeliveryId, "-t", Token);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($"/webhooks/{HookId}/deliveries/{DeliveryId}", handler.Path);
        Assert.Equal(
            $"""
            id:              {DeliveryId}
            event_type:      webhook.test
            execution_id:    -
            state:           delivered
            attempts:        2
            last_status:     200
            created_at:      2030-03-01T00:00:00Z
            next_attempt_at: -
            finished_at:     2030-03-01T00:00:06Z

            attempt_log:
            ATTEMPT  AT                    STATUS  LATENCY  ERROR               RESPONSE_HEAD
            1        2030-03-01T00:00:01Z  -       5000ms   connection refused  -
            2        2030-03-01T00:00:06Z  200     12ms     -                   ok

            """, result.Stdout);
    }

    [Fact]
    public async Task Test_prints_the_delivery_id_and_redeliver_and_delete_print_nothing_on_stdout()
    {
        var test = new AnswerHandler(HttpStatusCode.Accepted, $$"""{"delivery_id":"{{DeliveryId}}"}""");
        var redeliver = new AnswerHandler(HttpStatusCode.Accepted, "");
        var delete = new AnswerHandler(HttpStatusCode.NoContent, "");

        var tested = await CliRunner.RunWithAsync(null, test, "webhooks", "test", HookId, "-t", Token);
        var redelivered = await CliRunner.RunWithAsync(null, redeliver, "webhooks", "redeliver", HookId, DeliveryId, "-t", Token);
        var deleted = await CliRunner.RunWithAsync(null, delete, "webhooks", "delete", HookId, "-t", Token);

        Assert.True(tested.ExitCode == 0, tested.ToString());
        Assert.Equal((HttpMethod.Post, Routes.Of(Routes.WebhookTest, HookId)), (test.Method, test.Path));
        Assert.Equal(DeliveryId + "\n", tested.Stdout);
        Assert.Equal($"note: queued; see how it went with: jobctl webhooks delivery {HookId} {DeliveryId}\n", tested.Stderr);
        Assert.True(redelivered.ExitCode == 0, redelivered.ToString());
        Assert.Equal((HttpMethod.Post, $"/webhooks/{HookId}/deliveries/{DeliveryId}/redeliver"), (redeliver.Method, redeliver.Path));
        Assert.Empty(redelivered.Stdout);
        Assert.Equal($"delivery {DeliveryId} queued to be sent again; see it with: jobctl webhooks delivery {HookId} {DeliveryId}\n", redelivered.Stderr);
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        Assert.Equal((HttpMethod.Delete, Routes.Of(Routes.Webhook, HookId)), (delete.Method, delete.Path));
        Assert.Empty(deleted.Stdout);
        Assert.Equal($"webhook {HookId} deleted\n", deleted.Stderr);
    }

    [Fact]
    public async Task A_refusal_from_the_controller_exits_1_with_its_message()
    {
        var handler = new AnswerHandler(HttpStatusCode.Conflict,
            """{"error":"the delivery is still pending: it will be tried again by itself","code":"conflict"}""");

        var result = await CliRunner.RunWithAsync(null, handler, "webhooks", "redeliver", HookId, DeliveryId, "-t", Token);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("error: the delivery is still pending: it will be tried again by itself (conflict, HTTP 409)\n", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Theory]
    [InlineData("create")]
    [InlineData("list")]
    [InlineData("get")]
    [InlineData("update")]
    [InlineData("delete")]
    [InlineData("rotate-secret")]
    [InlineData("test")]
    [InlineData("deliveries")]
    [InlineData("delivery")]
    [InlineData("redeliver")]
    public async Task Webhooks_help_lists_every_subcommand(string subcommand)
    {
        var result = await CliRunner.RunAsync("webhooks", "--help");

        Assert.Equal(0, result.ExitCode);
        Assert.Matches($@"\n  {subcommand}\b", result.Stdout);
    }

    [Fact]
    public async Task The_global_url_stays_the_controllers_address_in_webhook_commands()
    {
        // --url before or after the subcommand is where jobctl connects, never the endpoint's new URL.
        var handler = new AnswerHandler(HttpStatusCode.OK, "{}");
        await CliRunner.RunWithAsync(null, handler, "webhooks", "update", HookId, "--url", "http://controller.example:6161", "--disable", "-t", Token);

        Assert.StartsWith("http://controller.example:6161/webhooks/" + HookId, handler.Uri, StringComparison.Ordinal);
        Assert.Equal("""{"enabled":false}""", handler.Body);
    }

    /// <summary>Records one request and answers it with the given status and JSON body, as the controller would.</summary>
    private sealed class AnswerHandler(HttpStatusCode status, string body) : HttpMessageHandler
    {
        public HttpMethod? Method { get; private set; }
        public string Uri { get; private set; } = "";
        public string Path { get; private set; } = "";
        public string PathAndQuery { get; private set; } = "";
        public string Body { get; private set; } = "";

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Method = request.Method;
            Uri = request.RequestUri!.GetLeftPart(UriPartial.Path);
            Path = request.RequestUri.AbsolutePath;
            PathAndQuery = request.RequestUri.PathAndQuery;
            Body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
            var response = new HttpResponseMessage(status);
            if (body.Length > 0)
                response.Content = new StringContent(body, Encoding.UTF8, "application/json");
            return response;
        }
    }
}

using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Jobplane.Testing;
using Jobplane.Webhooks;

namespace Jobplane.Cli.Tests;

/// <summary>
/// A real controller whose webhooks may reach a receiver on 127.0.0.1 over plain http (the operator's
/// allow-list and WEBHOOK_ALLOW_HTTP, as a test must; every other private or link-local address is
/// still refused), retrying fast so that a failing receiver shows its retries within a test.
/// </summary>
public sealed class LiveWebhookControllerFixture : IAsyncLifetime
{
    public ControllerHost Host { get; } = new(new Dictionary<string, string?>
    {
        ["WEBHOOK_ALLOWED_RANGES"] = "127.0.0.1/32",
        ["WEBHOOK_ALLOW_HTTP"] = "true",
        ["WEBHOOK_RETRY_BASE"] = "50ms",
        ["WEBHOOK_RETRY_MAX"] = "200ms",
        ["WEBHOOK_POLL_INTERVAL"] = "20ms",
        ["WEBHOOK_TIMEOUT"] = "5s",
    });

    public Task InitializeAsync() => Host.InitializeAsync();

    public Task DisposeAsync() => Host.DisposeAsync();
}

/// <summary>
/// `jobctl webhooks ...` against the real controller and PostgreSQL, delivering to a real HTTP
/// receiver on loopback: each test has its own tenant, endpoints and receiver.
/// </summary>
public sealed class LiveWebhookCommandTests(LiveWebhookControllerFixture fixture) : IClassFixture<LiveWebhookControllerFixture>
{
    private const string Failed = "execution.failed";
    private const string Succeeded = "execution.succeeded";

    /// <summary>How long a delivery may take to show an outcome: far beyond what it needs, only so that a broken dispatcher fails the test.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly LiveJobctl jobctl = new(fixture.Host);

    private static void AssertOk(CliResult result) => Assert.True(result.ExitCode == 0, result.ToString());

    private static void AssertFails(CliResult result, params string[] expectedInStderr)
    {
        Assert.True(result.ExitCode == 1, result.ToString());
        foreach (var expected in expectedInStderr)
            Assert.Contains(expected, result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.Stdout);
    }

    private static JsonElement Json(CliResult result)
    {
        AssertOk(result);
        return JsonDocument.Parse(result.Stdout).RootElement;
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The value of a `key: value` line of a key/value listing; null when there is no such line.</summary>
    private static string? Field(CliResult result, string key)
    {
        AssertOk(result);
        var line = Lines(result.Stdout).SingleOrDefault(l => l.StartsWith(key + ":", StringComparison.Ordinal));
        return line?[(key.Length + 1)..].Trim();
    }

    private async Task<string> CreateAsync(string key, string url, params string[] more)
    {
        var created = await jobctl.RunAsync(key, ["webhooks", "create", "--endpoint-url", url, .. more]);
        AssertOk(created);
        return Field(created, "id")!;
    }

    /// <summary>
    /// Reads the delivery log through jobctl until <paramref name="done"/> holds of the delivery; fails
    /// with the last answer when it does not within <see cref="Patience"/>.
    /// </summary>
    private async Task<JsonElement> WaitForDeliveryAsync(string key, string hookId, string deliveryId, Func<JsonElement, bool> done, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var log = Json(await jobctl.RunAsync(key, "webhooks", "deliveries", hookId, "-o", "json"));
            var delivery = log.GetProperty("deliveries").EnumerateArray().SingleOrDefault(d => d.GetProperty("id").GetString() == deliveryId);
            if (delivery.ValueKind == JsonValueKind.Object && done(delivery))
                return delivery;
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"delivery {deliveryId} did not become {what} within {Patience}; the log said: {log}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Create_prints_the_secret_once_and_list_and_get_never_show_it()
    {
        var (_, key) = await jobctl.NewTenantAsync();

        var created = await jobctl.RunAsync(key, "webhooks", "create", "--endpoint-url", "https://127.0.0.1:9/hooks/jobplane", "--event", Failed,
            "--event", "execution.dead_lettered", "--job", "nightly", "--description", "pager duty");
        AssertOk(created);
        var id = Field(created, "id")!;
        Assert.True(Guid.TryParse(id, out _), created.ToString());
        Assert.Equal("https://127.0.0.1:9/hooks/jobplane", Field(created, "url"));
        Assert.Equal("pager duty", Field(created, "description"));
        Assert.Equal("execution.failed, execution.dead_lettered", Field(created, "events"));
        Assert.Equal("nightly", Field(created, "job_names"));
        Assert.Equal("true", Field(created, "enabled"));
        var secret = Field(created, "secret");
        Assert.Matches("^whsec_[A-Za-z0-9+/=]+$", secret);
        Assert.Equal("note: the signing secret is shown only once; store it now (your receiver verifies each delivery's signature with it)\n",
            created.Stderr);

        // list: one row, every column a user reads, and no secret anywhere.
        var list = await jobctl.RunAsync(key, "webhooks", "list");
        AssertOk(list);
        var lines = Lines(list.Stdout);
        Assert.Matches("^ID +URL +EVENTS +JOBS +ENABLED +FAILING_SINCE +DISABLED_REASON$", lines[0]);
        Assert.Matches($@"^{id} +https://127\.0\.0\.1:9/hooks/jobplane +execution\.failed,execution\.dead_lettered +nightly +true +- +-$",
            Assert.Single(lines.Skip(1)));
        Assert.DoesNotContain("whsec_", list.Stdout, StringComparison.Ordinal);
        Assert.Empty(list.Stderr);

        var got = await jobctl.RunAsync(key, "webhooks", "get", id);
        Assert.Equal("nightly", Field(got, "job_names"));
        Assert.Null(Field(got, "secret"));
        Assert.DoesNotContain("whsec_", got.Stdout, StringComparison.Ordinal);

        // -o json: the controller's answers as they are, which parse; the secret only in create's.
        var createdJson = Json(await jobctl.RunAsync(key, "webhooks", "create", "--endpoint-url", "https://127.0.0.1:9/other", "--event", Succeeded, "-o", "json"));
        Assert.StartsWith("whsec_", createdJson.GetProperty("secret").GetString(), StringComparison.Ordinal);
        Assert.Equal([Succeeded], createdJson.GetProperty("events").EnumerateArray().Select(e => e.GetString()));
        var listJson = Json(await jobctl.RunAsync(key, "webhooks", "list", "-o", "json"));
        var hooks = listJson.GetProperty("webhooks").EnumerateArray().ToList();
        Assert.Equal([id, createdJson.GetProperty("id").GetString()], hooks.Select(h => h.GetProperty("id").GetString()));
        Assert.All(hooks, h => Assert.False(h.TryGetProperty("secret", out _), h.ToString()));
        var getJson = Json(await jobctl.RunAsync(key, "webhooks", "get", id, "-o", "json"));
        Assert.False(getJson.TryGetProperty("secret", out _), getJson.ToString());
        Assert.Equal(["nightly"], getJson.GetProperty("job_names").EnumerateArray().Select(e => e.GetString()));
    }

    [Theory]
    [InlineData("https://169.254.169.254/", "link-local (cloud metadata)")]
    [InlineData("https://10.1.2.3/hook", "private")]
    // Only 127.0.0.1 is allow-listed for the tests' receiver; the rest of loopback stays refused.
    [InlineData("https://127.0.0.2/hook", "loopback")]
    public async Task An_address_of_the_platforms_own_network_is_refused_with_the_APIs_message_and_nothing_is_created(string url, string reason)
    {
        var (_, key) = await jobctl.NewTenantAsync();

        var refused = await jobctl.RunAsync(key, "webhooks", "create", "--endpoint-url", url, "--event", Failed);

        AssertFails(refused, "error: url: ", reason, "HTTP 400)");
        Assert.Single(Lines(refused.Stderr));
        var list = await jobctl.RunAsync(key, "webhooks", "list");
        AssertOk(list);
        Assert.Single(Lines(list.Stdout));
    }

    [Fact]
    public async Task Event_names_are_checked_by_the_controller_which_names_the_ones_it_knows()
    {
        var (_, key) = await jobctl.NewTenantAsync();

        var refused = await jobctl.RunAsync(key, "webhooks", "create", "--endpoint-url", "https://127.0.0.1:9/hook", "--event", "execution.finished");

        AssertFails(refused, "events: 'execution.finished' is not an event type; use execution.started, execution.succeeded", "HTTP 400)");
    }

    [Fact]
    public async Task Update_changes_only_what_is_given_disables_and_enables_and_drops_the_job_filters()
    {
        var (_, key) = await jobctl.NewTenantAsync();
        var job = await jobctl.RunAsync(key, "create", "--name", "report", "--image", "exec", "-c", "true");
        AssertOk(job);
        var jobId = job.Stdout.TrimEnd('\n');
        var id = await CreateAsync(key, "https://127.0.0.1:9/hook", "--event", Failed, "--description", "first");

        var disabled = await jobctl.RunAsync(key, "webhooks", "update", id, "--disable");
        Assert.Equal("false", Field(disabled, "enabled"));
        Assert.Equal("first", Field(disabled, "description"));
        Assert.Equal("https://127.0.0.1:9/hook", Field(disabled, "url"));
        Assert.Null(Field(disabled, "secret"));
        Assert.Matches($@"\n{id} +\S+ +\S+ +all +false ", "\n" + (await jobctl.RunAsync(key, "webhooks", "list")).Stdout);

        // A disabled endpoint is sent nothing, not even a test: the controller's 409 says what to do.
        var test = await jobctl.RunAsync(key, "webhooks", "test", id);
        AssertFails(test, "the endpoint is disabled (by the tenant); enable it first", "HTTP 409)");

        var changed = await jobctl.RunAsync(key, "webhooks", "update", id, "--enable", "--endpoint-url", "https://127.0.0.1:9/v2",
            "--event", Succeeded, "--event", Failed, "--job", "report", "--job-id", jobId);
        Assert.Equal("true", Field(changed, "enabled"));
        Assert.Equal("https://127.0.0.1:9/v2", Field(changed, "url"));
        Assert.Equal("execution.succeeded, execution.failed", Field(changed, "events"));
        Assert.Equal(jobId, Field(changed, "job_ids"));
        Assert.Equal("report", Field(changed, "job_names"));
        Assert.Null(Field(changed, "jobs"));
        Assert.Equal("first", Field(changed, "description"));

        var all = await jobctl.RunAsync(key, "webhooks", "update", id, "--all-jobs", "-o", "json");
        var json = Json(all);
        Assert.True(json.GetProperty("enabled").GetBoolean());
        Assert.Equal(JsonValueKind.Null, json.TryGetProperty("job_ids", out var ids) ? ids.ValueKind : JsonValueKind.Null);
        Assert.Equal(JsonValueKind.Null, json.TryGetProperty("job_names", out var names) ? names.ValueKind : JsonValueKind.Null);
        Assert.Equal("all", Field(await jobctl.RunAsync(key, "webhooks", "get", id), "jobs"));

        // Another tenant's endpoint does not exist for this one.
        var (_, stranger) = await jobctl.NewTenantAsync();
        AssertFails(await jobctl.RunAsync(stranger, "webhooks", "update", id, "--disable"), "HTTP 404)");
    }

    [Fact]
    public async Task Test_prints_a_delivery_id_whose_signed_delivery_shows_in_the_log_and_can_be_redelivered()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (_, key) = await jobctl.NewTenantAsync();
        var created = await jobctl.RunAsync(key, "webhooks", "create", "--endpoint-url", receiver.Url.ToString(), "--event", Failed);
        var id = Field(created, "id")!;
        var secret = Field(created, "secret")!;

        var test = await jobctl.RunAsync(key, "webhooks", "test", id);
        AssertOk(test);
        var deliveryId = test.Stdout.TrimEnd('\n');
        Assert.True(Guid.TryParse(deliveryId, out _), test.ToString());
        Assert.Equal($"note: queued; see how it went with: jobctl webhooks delivery {id} {deliveryId}\n", test.Stderr);

        await WaitForDeliveryAsync(key, id, deliveryId, d => d.GetProperty("state").GetString() == "delivered", "delivered");
        // The receiver got it under the id jobctl printed, signed with the secret jobctl printed.
        var got = Assert.Single(receiver.Received);
        Assert.Equal(deliveryId, got.Id);
        Assert.Equal("webhook.test", JsonDocument.Parse(got.Body).RootElement.GetProperty("type").GetString());
        AssertSignedWith(got, secret);

        var log = await jobctl.RunAsync(key, "webhooks", "deliveries", id);
        AssertOk(log);
        var lines = Lines(log.Stdout);
        Assert.Matches("^ID +EVENT +STATE +ATTEMPTS +LAST_STATUS +CREATED_AT +NEXT_ATTEMPT_AT +LAST_ERROR$", lines[0]);
        Assert.Matches($@"^{deliveryId} +webhook\.test +delivered +1 +200 +\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ +- +-$", Assert.Single(lines.Skip(1)));
        Assert.Empty(log.Stderr);

        var one = await jobctl.RunAsync(key, "webhooks", "delivery", id, deliveryId);
        Assert.Equal("webhook.test", Field(one, "event_type"));
        Assert.Equal("delivered", Field(one, "state"));
        Assert.Equal("200", Field(one, "last_status"));
        Assert.Equal(["1"], AttemptRows(one).Select(r => r[0]));
        Assert.Equal("200", AttemptRows(one)[0][2]);

        // Redelivery: the same webhook-id again, and a second attempt in the log.
        var redelivered = await jobctl.RunAsync(key, "webhooks", "redeliver", id, deliveryId);
        AssertOk(redelivered);
        Assert.Empty(redelivered.Stdout);
        Assert.Equal($"delivery {deliveryId} queued to be sent again; see it with: jobctl webhooks delivery {id} {deliveryId}\n", redelivered.Stderr);
        var again = await WaitForDeliveryAsync(key, id, deliveryId,
            d => d.GetProperty("state").GetString() == "delivered" && d.GetProperty("attempts").GetInt32() == 2, "delivered a second time");
        Assert.Equal(200, again.GetProperty("last_status").GetInt32());
        Assert.Equal([deliveryId, deliveryId], receiver.Received.Select(r => r.Id));
        var detail = Json(await jobctl.RunAsync(key, "webhooks", "delivery", id, deliveryId, "-o", "json"));
        Assert.Equal([200, 200], detail.GetProperty("attempt_log").EnumerateArray().Select(a => a.GetProperty("status_code").GetInt32()));
    }

    [Fact]
    public async Task A_receiver_that_fails_shows_its_answer_and_the_next_attempt_in_the_log()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer = _ => (int)HttpStatusCode.ServiceUnavailable;
        var (_, key) = await jobctl.NewTenantAsync();
        var id = await CreateAsync(key, receiver.Url.ToString(), "--event", Failed);

        var deliveryId = Json(await jobctl.RunAsync(key, "webhooks", "test", id, "-o", "json")).GetProperty("delivery_id").GetString()!;
        await WaitForDeliveryAsync(key, id, deliveryId, d => d.GetProperty("attempts").GetInt32() >= 2, "tried twice");

        var log = await jobctl.RunAsync(key, "webhooks", "deliveries", id);
        AssertOk(log);
        // Still pending (the retry period is a day), the receiver's 503 and its error, and when it is tried next.
        Assert.Matches($@"^{deliveryId} +webhook\.test +pending +\d+ +503 +\S+Z +\S+Z +\S.*503",
            Assert.Single(Lines(log.Stdout).Skip(1)));

        // The endpoint says since when it has been failing, in get and in list.
        var failingSince = Field(await jobctl.RunAsync(key, "webhooks", "get", id), "failing_since");
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", failingSince);
        Assert.Matches($@"\n{id} +\S+ +execution\.failed +all +true +{failingSince} +-\n", "\n" + (await jobctl.RunAsync(key, "webhooks", "list")).Stdout);

        // A pending delivery is not redelivered by hand: it is retried by itself, and the controller says so.
        var redeliver = await jobctl.RunAsync(key, "webhooks", "redeliver", id, deliveryId);
        AssertFails(redeliver, "the delivery is still pending: it will be tried again by itself", "HTTP 409)");

        // Deleting the endpoint stops the retries along with everything else of it.
        AssertOk(await jobctl.RunAsync(key, "webhooks", "delete", id));
    }

    [Fact]
    public async Task Rotate_secret_prints_a_new_secret_that_signs_and_until_when_the_old_one_does_too()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (_, key) = await jobctl.NewTenantAsync();
        var created = await jobctl.RunAsync(key, "webhooks", "create", "--endpoint-url", receiver.Url.ToString(), "--event", Failed);
        var id = Field(created, "id")!;
        var first = Field(created, "secret")!;

        var rotated = await jobctl.RunAsync(key, "webhooks", "rotate-secret", id, "--overlap", "24h");
        AssertOk(rotated);
        var second = Field(rotated, "secret")!;
        Assert.StartsWith("whsec_", second, StringComparison.Ordinal);
        Assert.NotEqual(first, second);
        var until = Field(rotated, "previous_secret_expires_at");
        Assert.Equal($"note: the new signing secret is shown only once; store it now (deliveries carry a signature with the previous secret too until {until})\n",
            rotated.Stderr);
        Assert.Null(Field(await jobctl.RunAsync(key, "webhooks", "get", id), "secret"));

        // The overlap is counted from the rotation, by the controller's database clock.
        var json = Json(await jobctl.RunAsync(key, "webhooks", "rotate-secret", id, "--overlap", "1d12h", "-o", "json"));
        var third = json.GetProperty("secret").GetString()!;
        Assert.Equal(TimeSpan.FromHours(36),
            json.GetProperty("previous_secret_expires_at").GetDateTimeOffset() - json.GetProperty("updated_at").GetDateTimeOffset());

        // A delivery now verifies with the newest secret alone, and (during the overlap) with the one before it.
        var deliveryId = (await jobctl.RunAsync(key, "webhooks", "test", id)).Stdout.TrimEnd('\n');
        await WaitForDeliveryAsync(key, id, deliveryId, d => d.GetProperty("state").GetString() == "delivered", "delivered");
        var got = Assert.Single(receiver.Received);
        AssertSignedWith(got, third);
        AssertSignedWith(got, second);
        // Two rotations on, the first secret signs nothing: only the newest and the one before it are kept.
        Assert.False(Verify(got, first).IsValid, "the secret before the previous one still signs");
    }

    [Fact]
    public async Task Delete_removes_the_endpoint_and_then_it_is_not_found()
    {
        var (_, key) = await jobctl.NewTenantAsync();
        var id = await CreateAsync(key, "https://127.0.0.1:9/hook", "--event", Failed);

        var deleted = await jobctl.RunAsync(key, "webhooks", "delete", id);

        AssertOk(deleted);
        Assert.Empty(deleted.Stdout);
        Assert.Equal($"webhook {id} deleted\n", deleted.Stderr);
        AssertFails(await jobctl.RunAsync(key, "webhooks", "get", id), "HTTP 404)");
        AssertFails(await jobctl.RunAsync(key, "webhooks", "delete", id), "HTTP 404)");
        AssertFails(await jobctl.RunAsync(key, "webhooks", "test", id), "HTTP 404)");
        Assert.Empty(Json(await jobctl.RunAsync(key, "webhooks", "list", "-o", "json")).GetProperty("webhooks").EnumerateArray());
    }

    [Fact]
    public async Task Deliveries_page_with_the_command_printed_on_stderr()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (_, key) = await jobctl.NewTenantAsync();
        var id = await CreateAsync(key, receiver.Url.ToString(), "--event", Failed);
        var sent = new List<string>();
        for (var i = 0; i < 3; i++)
            sent.Add((await jobctl.RunAsync(key, "webhooks", "test", id)).Stdout.TrimEnd('\n'));

        // Newest first, two a page: the note names the command for the rest, which lists the oldest.
        var page = await jobctl.RunAsync(key, "webhooks", "deliveries", id, "--limit", "2");
        AssertOk(page);
        var ids = Lines(page.Stdout).Skip(1).Select(l => l.Split(' ')[0]).ToList();
        Assert.Equal(2, ids.Count);
        var note = Regex.Match(page.Stderr, @"^note: more entries: jobctl webhooks deliveries (\S+) --before (\S+) --limit 2\n$");
        Assert.True(note.Success, page.ToString());
        Assert.Equal((id, ids[^1]), (note.Groups[1].Value, note.Groups[2].Value));
        var rest = await jobctl.RunAsync(key, "webhooks", "deliveries", id, "--before", ids[^1], "--limit", "2");
        AssertOk(rest);
        Assert.Empty(rest.Stderr);
        ids.AddRange(Lines(rest.Stdout).Skip(1).Select(l => l.Split(' ')[0]));
        Assert.Equal(sent.Order(), ids.Order());
    }

    /// <summary>The rows of the attempt_log table under a delivery's key/value lines, split on runs of spaces.</summary>
    private static List<string[]> AttemptRows(CliResult result)
    {
        var lines = Lines(result.Stdout);
        var heading = Array.IndexOf(lines, "attempt_log:");
        Assert.True(heading > 0, result.ToString());
        Assert.Matches("^ATTEMPT +AT +STATUS +LATENCY +ERROR +RESPONSE_HEAD$", lines[heading + 1]);
        return [.. lines.Skip(heading + 2).Select(l => Regex.Split(l, " {2,}"))];
    }

    private static WebhookVerification Verify(ReceivedWebhook got, string secret) =>
        WebhookSignature.Verify(got.Id, got.Timestamp, got.Signature, Encoding.UTF8.GetBytes(got.Body), [WebhookSecret.Parse(secret)], DateTimeOffset.UtcNow);

    private static void AssertSignedWith(ReceivedWebhook got, string secret)
    {
        var verified = Verify(got, secret);
        Assert.True(verified.IsValid, verified.Problem);
    }
}

using System.Net;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>A controller allowing two schedules per tenant, due times a second apart, and a quick look for due times.</summary>
public sealed class ScheduleFixture : IAsyncLifetime
{
    public ControllerHost Host { get; } = new(new Dictionary<string, string?>
    {
        ["MAX_SCHEDULES_PER_TENANT"] = "2",
        ["SCHEDULE_MIN_INTERVAL"] = "1s",
        ["SCHEDULE_POLL_INTERVAL"] = "100ms",
    });

    public Task InitializeAsync() => Host.InitializeAsync();

    public Task DisposeAsync() => Host.DisposeAsync();
}

/// <summary>
/// The schedules API: a definition is checked in full (400 naming the field, nothing stored), the
/// answer shows the next five fire times in the user's zone, PATCH changes only what it names, the
/// controller's firer runs the job and a pause stops it at once, and the cap holds.
/// </summary>
public sealed class ScheduleApiTests(ScheduleFixture fixture) : IClassFixture<ScheduleFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private static Task<HttpResponseMessage> CreateAsync(HttpClient client, string body) => client.PostAsync("/schedules", Api.RawJson(body));

    private async Task<long> SchedulesOfAsync(Guid tenant)
    {
        await using var cmd = _host.Database.DataSource.CreateCommand("select count(*) from schedules where tenant_id = $1");
        cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = tenant });
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    [Theory]
    [InlineData("""{"name": "n", "cron": "61 * * * *"}""", "cron")]
    [InlineData("""{"name": "n", "cron": "* * * *"}""", "five fields")]
    [InlineData("""{"name": "n", "cron": "0 2 * * *", "time_zone": "Mars/Olympus_Mons"}""", "time_zone")]
    [InlineData("""{"name": "n", "cron": "0 2 * * *", "time_zone": "W. Europe Standard Time"}""", "IANA")]
    [InlineData("""{"name": "n", "cron": "0 2 * * *", "interval_seconds": 60}""", "not both")]
    [InlineData("""{"name": "n"}""", "cron or interval_seconds")]
    [InlineData("""{"name": "n", "interval_seconds": 0}""", "interval_seconds")]
    [InlineData("""{"name": "n", "cron": "0 2 * * *", "misfire": "sometimes"}""", "misfire must be one of skip, fire_once, catch_up")]
    [InlineData("""{"name": "n", "cron": "0 2 * * *", "overlap": "maybe"}""", "overlap must be one of allow, skip, queue, cancel")]
    [InlineData("""{"name": "n", "cron": "0 2 * * *", "catch_up_max": 0}""", "catch_up_max")]
    [InlineData("""{"name": "n", "cron": "0 2 * * *", "starts_at": "2040-01-02T00:00:00Z", "ends_at": "2040-01-01T00:00:00Z"}""", "ends_at must be after starts_at")]
    [InlineData("""{"name": "n", "cron": "0 2 * * *", "ends_at": "2001-01-01T00:00:00Z"}""", "ends_at must be in the future")]
    [InlineData("""{"name": "n", "cron": "0 2 * * *", "idempotency_key_prefix": "a\u0001b"}""", "idempotency_key_prefix")]
    [InlineData("""{"name": "", "cron": "0 2 * * *"}""", "name")]
    [InlineData("""{"name": "n", "cron": "0 0 30 2 *"}""", "never fires")]
    public async Task An_invalid_definition_is_a_400_naming_the_field_and_stores_nothing(string body, string named)
    {
        var (tenant, client) = await _host.TenantClientAsync();
        using (client)
        {
            var job = await Api.CreateJobAsync(client);
            var withJob = body.Insert(1, $"\"job_id\": \"{job}\", ");
            var error = await Api.AssertErrorAsync(await CreateAsync(client, withJob), HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument);
            Assert.Contains(named, error.Error, StringComparison.Ordinal);
            Assert.Equal(0, await SchedulesOfAsync(tenant.TenantId));
        }
    }

    [Fact]
    public async Task The_answer_shows_the_next_five_fire_times_in_the_schedules_zone()
    {
        var (_, client) = await _host.TenantClientAsync();
        using (client)
        {
            var job = await Api.CreateJobAsync(client);
            var view = await Api.ReadAsync(await CreateAsync(client, $$"""{"name": "nightly", "job_id": "{{job}}", "cron": "30 2 * * *", "time_zone": "Europe/Berlin"}"""),
                Api.Json.ScheduleView, HttpStatusCode.Created);
            Assert.Equal(("active", "fire_once", "allow", "Europe/Berlin"), (view.State, view.Misfire, view.Overlap, view.TimeZone));
            Assert.Equal(5, view.NextFireTimes.Count);
            var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
            foreach (var t in view.NextFireTimes)
            {
                var local = TimeZoneInfo.ConvertTime(t, berlin);
                // 02:30 every night, or 03:00 on the night 02:30 does not exist.
                Assert.True(local.TimeOfDay == new TimeSpan(2, 30, 0) || (local.TimeOfDay == new TimeSpan(3, 0, 0) && berlin.IsDaylightSavingTime(local)),
                    $"{t:O} is {local:O} in Berlin");
            }
            Assert.Equal(view.NextDueAt, view.NextFireTimes[0]);
            Assert.All(view.NextFireTimes.Zip(view.NextFireTimes.Skip(1)), p => Assert.True(p.Second > p.First));
        }
    }

    [Fact]
    public async Task A_job_can_be_named_or_defined_inline_and_a_bad_inline_definition_stores_neither()
    {
        var (tenant, client) = await _host.TenantClientAsync();
        using (client)
        {
            var error = await Api.AssertErrorAsync(await CreateAsync(client,
                """{"name": "s", "cron": "0 * * * *", "job_definition": {"name": "inline", "image": "NOT VALID"}}"""), HttpStatusCode.BadRequest);
            Assert.StartsWith("job_definition:", error.Error, StringComparison.Ordinal);
            await Api.AssertErrorAsync(await CreateAsync(client, """{"name": "s", "cron": "0 * * * *", "job": "no-such-job"}"""), HttpStatusCode.NotFound);
            Assert.Equal(0, await SchedulesOfAsync(tenant.TenantId));
            Assert.Empty((await Api.ReadAsync(await client.GetAsync("/jobs"), Api.Json.JobList)).Jobs);

            var inline = await Api.ReadAsync(await CreateAsync(client,
                """{"name": "s", "cron": "0 * * * *", "job_definition": {"name": "inline", "image": "exec", "command": ["true"]}}"""),
                Api.Json.ScheduleView, HttpStatusCode.Created);
            Assert.Equal("inline", inline.JobName);
            var byName = await Api.ReadAsync(await CreateAsync(client, """{"name": "t", "cron": "0 * * * *", "job": "inline"}"""),
                Api.Json.ScheduleView, HttpStatusCode.Created);
            Assert.Equal(inline.JobId, byName.JobId);
            // The cap (two here) holds, and says which setting.
            var full = await Api.AssertErrorAsync(await CreateAsync(client, """{"name": "u", "cron": "0 * * * *", "job": "inline"}"""), HttpStatusCode.Conflict);
            Assert.Contains("MAX_SCHEDULES_PER_TENANT", full.Error, StringComparison.Ordinal);
            // A name is used once per tenant.
            Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/schedules/{byName.Id}")).StatusCode);
            await Api.AssertErrorAsync(await CreateAsync(client, """{"name": "s", "cron": "0 * * * *", "job": "inline"}"""), HttpStatusCode.Conflict);
        }
    }

    [Fact]
    public async Task Patch_changes_only_what_it_names_and_a_new_timing_shows_new_fire_times()
    {
        var (_, client) = await _host.TenantClientAsync();
        using (client)
        {
            var job = await Api.CreateJobAsync(client);
            var created = await Api.ReadAsync(await CreateAsync(client,
                $$"""{"name": "p", "job_id": "{{job}}", "cron": "0 9 * * MON-FRI", "time_zone": "America/New_York", "overlap": "queue", "priority": "high"}"""),
                Api.Json.ScheduleView, HttpStatusCode.Created);
            var patched = await Api.ReadAsync(await client.PatchAsync($"/schedules/{created.Id}", Api.RawJson("""{"misfire": "skip"}""")), Api.Json.ScheduleView);
            Assert.Equal(("skip", "queue", "0 9 * * MON-FRI", "America/New_York"), (patched.Misfire, patched.Overlap, patched.Cron, patched.TimeZone));
            Assert.Equal(created.NextFireTimes, patched.NextFireTimes);
            Assert.Equal(created.Priority, patched.Priority);

            var hourly = await Api.ReadAsync(await client.PatchAsync($"/schedules/{created.Id}", Api.RawJson("""{"interval_seconds": 3600}""")), Api.Json.ScheduleView);
            Assert.Null(hourly.Cron);
            Assert.Equal(3600, hourly.IntervalSeconds);
            Assert.All(hourly.NextFireTimes.Zip(hourly.NextFireTimes.Skip(1)), p => Assert.Equal(TimeSpan.FromHours(1), p.Second - p.First));

            await Api.AssertErrorAsync(await client.PatchAsync($"/schedules/{created.Id}", Api.RawJson("""{"paused": true}""")), HttpStatusCode.BadRequest);
            await Api.AssertErrorAsync(await client.PatchAsync($"/schedules/{created.Id}", Api.RawJson("""{"cron": "nope"}""")), HttpStatusCode.BadRequest);
            Assert.Equal(hourly.NextFireTimes, (await Api.ReadAsync(await client.GetAsync($"/schedules/{created.Id}"), Api.Json.ScheduleView)).NextFireTimes);
        }
    }

    [Fact]
    public async Task The_controller_fires_a_due_schedule_and_a_pause_stops_it_at_once()
    {
        var (tenant, client) = await _host.TenantClientAsync();
        using (client)
        {
            var job = await Api.CreateJobAsync(client);
            var schedule = await Api.ReadAsync(await CreateAsync(client, $$"""{"name": "every-second", "job_id": "{{job}}", "cron": "* * * * * *"}"""),
                Api.Json.ScheduleView, HttpStatusCode.Created);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            ScheduleHistory history;
            do
            {
                await Task.Delay(100, timeout.Token);
                history = await Api.ReadAsync(await client.GetAsync($"/schedules/{schedule.Id}/history"), Api.Json.ScheduleHistory);
            } while (history.Fires.Count(f => f.Outcome == "fired") < 2);

            var fire = history.Fires.First(f => f.Outcome == "fired");
            var execution = await Api.GetExecutionAsync(client, fire.ExecutionId!.Value);
            Assert.Equal((schedule.Id, fire.DueAt), (execution.ScheduleId, execution.ScheduleDueAt));
            Assert.NotNull(fire.LatenessMs);

            var paused = await Api.ReadAsync(await client.PostAsync($"/schedules/{schedule.Id}/pause", null), Api.Json.ScheduleView);
            Assert.Equal("paused", paused.State);
            var atPause = (await Api.ReadAsync(await client.GetAsync($"/executions?job_id={job}"), Api.Json.ExecutionList)).Executions.Count;
            await Task.Delay(2500, timeout.Token);
            Assert.Equal(atPause, (await Api.ReadAsync(await client.GetAsync($"/executions?job_id={job}"), Api.Json.ExecutionList)).Executions.Count);

            using var admin = _host.AdminClient();
            var metrics = await admin.GetStringAsync("/metrics");
            Assert.Contains("jobplane_schedules_fires", metrics, StringComparison.Ordinal);
            Assert.Contains("jobplane_schedules_lateness", metrics, StringComparison.Ordinal);
            var audit = await Api.ReadAsync(await admin.GetAsync($"/audit?tenant_id={tenant.TenantId}"), Api.Json.AuditPage);
            Assert.Contains(audit.Entries, e => e.Action == "schedule.create" && e.Target == schedule.Id.ToString());
            Assert.Contains(audit.Entries, e => e.Action == "schedule.pause" && e.Target == schedule.Id.ToString() && e.Actor.StartsWith("api_key:", StringComparison.Ordinal));
        }
    }
}

/// <summary>The operator's minimum interval, at its default (10 s).</summary>
public sealed class ScheduleMinimumIntervalTests : IAsyncLifetime
{
    private readonly ControllerHost _host = new();

    public Task InitializeAsync() => _host.InitializeAsync();

    public Task DisposeAsync() => _host.DisposeAsync();

    [Theory]
    [InlineData("""{"name": "n", "cron": "* * * * * *"}""", "cron fires 1s apart at its closest")]
    [InlineData("""{"name": "n", "cron": "0,5 * * * * *"}""", "cron fires 5s apart at its closest")]
    [InlineData("""{"name": "n", "interval_seconds": 9}""", "interval_seconds fires 9s apart")]
    public async Task A_schedule_firing_more_often_than_the_operator_allows_is_refused(string body, string message)
    {
        var (tenant, client) = await _host.TenantClientAsync();
        using (client)
        {
            var job = await Api.CreateJobAsync(client);
            var error = await Api.AssertErrorAsync(await client.PostAsync("/schedules", Api.RawJson(body.Insert(1, $"\"job_id\": \"{job}\", "))),
                HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument);
            Assert.Contains(message, error.Error, StringComparison.Ordinal);
            Assert.Contains("SCHEDULE_MIN_INTERVAL", error.Error, StringComparison.Ordinal);
            Assert.Empty((await Api.ReadAsync(await client.GetAsync("/schedules"), Api.Json.ScheduleList)).Schedules);
            // Every ten seconds is allowed.
            await Api.ReadAsync(await client.PostAsync("/schedules", Api.RawJson($$"""{"name": "ok", "job_id": "{{job}}", "cron": "*/10 * * * * *"}""")),
                Api.Json.ScheduleView, HttpStatusCode.Created);
            _ = tenant;
        }
    }
}

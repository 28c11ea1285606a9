using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Jobplane.Cli.Tests;

/// <summary>
/// `jobctl schedules ...` against the real controller and PostgreSQL: each test has its own tenant,
/// job and schedules. Cron expressions fire at most daily, and start days from now (--starts-at), so
/// the controller's firer never fires one while a test runs whatever the time of day, and no
/// SCHEDULE_MIN_INTERVAL setting is needed.
/// </summary>
public sealed partial class LiveScheduleCommandTests(LiveControllerFixture fixture) : IClassFixture<LiveControllerFixture>
{
    private const string Berlin = "Europe/Berlin";

    /// <summary>Where the tests' cron schedules start: no due time comes while a test runs.</summary>
    private static readonly string StartsAt = DateTimeOffset.UtcNow.AddDays(3).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private readonly LiveJobctl jobctl = new(fixture.Host);

    private static void AssertOk(CliResult result) => Assert.True(result.ExitCode == 0, result.ToString());

    private static void AssertFails(CliResult result, string expectedInStderr)
    {
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains(expectedInStderr, result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.Stdout);
    }

    private static JsonElement Json(CliResult result)
    {
        AssertOk(result);
        return JsonDocument.Parse(result.Stdout).RootElement;
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The value of a `key: value` line of a key/value listing.</summary>
    private static string Field(CliResult result, string key)
    {
        AssertOk(result);
        var line = Assert.Single(Lines(result.Stdout), l => l.StartsWith(key + ":", StringComparison.Ordinal));
        return line[(key.Length + 1)..].Trim();
    }

    /// <summary>A new tenant with one job (named <paramref name="jobName"/>): its key and the job's id.</summary>
    private async Task<(string Key, Guid JobId)> TenantWithJobAsync(string jobName)
    {
        var (_, key) = await jobctl.NewTenantAsync();
        var created = await jobctl.RunAsync(key, "create", "--name", jobName, "--image", "exec", "-c", "true");
        AssertOk(created);
        return (key, Guid.Parse(created.Stdout.TrimEnd('\n')));
    }

    /// <summary>
    /// The rows of the next fire times table under a schedule's key/value lines: each row's UTC and
    /// local time, checked to be the same instant and the local one in <paramref name="zone"/>'s offset then.
    /// </summary>
    private static List<(DateTimeOffset Utc, DateTimeOffset Local)> FireTimes(CliResult result, string zone)
    {
        AssertOk(result);
        var lines = Lines(result.Stdout);
        var heading = Array.FindIndex(lines, l => l.StartsWith("next_fire_times", StringComparison.Ordinal));
        Assert.True(heading > 0, result.ToString());
        var utcOnly = zone == "UTC";
        Assert.StartsWith(utcOnly ? "next_fire_times (UTC" : $"next_fire_times (UTC and {zone}", lines[heading], StringComparison.Ordinal);
        Assert.Matches(utcOnly ? "^UTC$" : "^UTC +LOCAL$", lines[heading + 1]);
        var timeZone = TimeZoneInfo.FindSystemTimeZoneById(zone);
        var times = new List<(DateTimeOffset, DateTimeOffset)>();
        foreach (var row in lines.Skip(heading + 2))
        {
            var match = FireTimeRow().Match(row);
            Assert.True(match.Success && match.Groups["local"].Success != utcOnly, $"not a fire time row: '{row}'\n{result}");
            var utc = DateTimeOffset.Parse(match.Groups["utc"].Value, CultureInfo.InvariantCulture);
            var local = utcOnly ? utc : DateTimeOffset.Parse(match.Groups["local"].Value, CultureInfo.InvariantCulture);
            Assert.Equal(TimeSpan.Zero, utc.Offset);
            Assert.Equal(utc, local);
            Assert.Equal(timeZone.GetUtcOffset(utc), local.Offset);
            times.Add((utc, local));
        }
        return times;
    }

    private static void AssertWeekdaysAt(List<(DateTimeOffset Utc, DateTimeOffset Local)> times, int hour, int minute, bool weekdaysOnly)
    {
        Assert.Equal(5, times.Count);
        Assert.True(times.Select(t => t.Utc).SequenceEqual(times.Select(t => t.Utc).Order()), "fire times out of order");
        Assert.Equal(times.Count, times.Select(t => t.Utc).Distinct().Count());
        var starts = DateTimeOffset.Parse(StartsAt, CultureInfo.InvariantCulture);
        foreach (var (utc, local) in times)
        {
            Assert.Equal((hour, minute, 0), (local.Hour, local.Minute, local.Second));
            if (weekdaysOnly) Assert.True(local.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday), $"{local} is a weekend day");
            Assert.True(utc >= starts, $"{utc} is before the schedule's start {StartsAt}");
        }
    }

    private async Task<string> CreateBerlinScheduleAsync(string key, string name, string jobName)
    {
        var created = await jobctl.RunAsync(key, "schedules", "create", "--name", name, "--job", jobName,
            "--cron", "0 9 * * 1-5", "--time-zone", Berlin, "--starts-at", StartsAt);
        AssertOk(created);
        return Field(created, "id");
    }

    [Fact]
    public async Task Create_list_get_pause_resume_and_delete_a_cron_schedule_in_Berlin()
    {
        var (key, jobId) = await TenantWithJobAsync("report");

        var created = await jobctl.RunAsync(key, "schedules", "create", "--name", "weekday-report", "--job", "report",
            "--cron", "0 9 * * 1-5", "--time-zone", Berlin, "--starts-at", StartsAt, "--overlap", "skip", "--misfire", "catch_up", "--catch-up-max", "3",
            "--priority", "high", "--timeout", "120", "--idempotency-key-prefix", "report-");
        AssertOk(created);
        Assert.Empty(created.Stderr);
        var id = Field(created, "id");
        Assert.True(Guid.TryParse(id, out _), created.ToString());
        Assert.Equal("weekday-report", Field(created, "name"));
        Assert.Equal(jobId.ToString(), Field(created, "job_id"));
        Assert.Equal("report", Field(created, "job_name"));
        Assert.Equal("0 9 * * 1-5", Field(created, "timing"));
        Assert.Equal(Berlin, Field(created, "time_zone"));
        Assert.Equal(StartsAt, Field(created, "starts_at"));
        Assert.Equal("catch_up (at most 3)", Field(created, "misfire"));
        Assert.Equal("skip", Field(created, "overlap"));
        Assert.Equal("75", Field(created, "priority"));
        Assert.Equal("120s", Field(created, "timeout"));
        Assert.Equal("report-", Field(created, "idempotency_key_prefix"));
        Assert.Equal("active", Field(created, "state"));
        var times = FireTimes(created, Berlin);
        AssertWeekdaysAt(times, 9, 0, weekdaysOnly: true);
        Assert.Equal(times[0].Utc.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture), Field(created, "next_due_at"));

        // list: one row with the timing, the zone, the state and the next due time.
        var list = await jobctl.RunAsync(key, "schedules", "list");
        AssertOk(list);
        var lines = Lines(list.Stdout);
        Assert.Matches(@"^ID +NAME +JOB +TIMING +ZONE +STATE +NEXT_DUE$", lines[0]);
        var row = Assert.Single(lines.Skip(1));
        Assert.Matches($@"^{id} +weekday-report +report +0 9 \* \* 1-5 +Europe/Berlin +active +{Regex.Escape(Field(created, "next_due_at"))}$", row);
        Assert.Empty(list.Stderr);

        // get: the same schedule, the same five fire times.
        var got = await jobctl.RunAsync(key, "schedules", "get", id);
        Assert.Equal(times, FireTimes(got, Berlin));
        Assert.Equal("active", Field(got, "state"));
        var json = Json(await jobctl.RunAsync(key, "schedules", "get", id, "-o", "json"));
        Assert.Equal(times.Select(t => t.Utc), json.GetProperty("next_fire_times").EnumerateArray().Select(e => e.GetDateTimeOffset()));
        Assert.Equal("weekday-report", json.GetProperty("name").GetString());

        var paused = await jobctl.RunAsync(key, "schedules", "pause", id);
        Assert.Equal("paused", Field(paused, "state"));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", Field(paused, "paused_at"));
        Assert.Contains("paused: nothing fires until it is resumed", paused.Stdout, StringComparison.Ordinal);
        Assert.Matches($@" weekday-report .* paused ", Lines((await jobctl.RunAsync(key, "schedules", "list")).Stdout)[1]);

        var resumed = await jobctl.RunAsync(key, "schedules", "resume", id);
        Assert.Equal("active", Field(resumed, "state"));
        Assert.DoesNotContain(Lines(resumed.Stdout), l => l.StartsWith("paused_at:", StringComparison.Ordinal));
        AssertWeekdaysAt(FireTimes(resumed, Berlin), 9, 0, weekdaysOnly: true);

        var deleted = await jobctl.RunAsync(key, "schedules", "delete", id);
        AssertOk(deleted);
        Assert.Empty(deleted.Stdout);
        Assert.Equal($"schedule {id} deleted\n", deleted.Stderr);

        AssertFails(await jobctl.RunAsync(key, "schedules", "get", id), "error: schedule not found (not_found, HTTP 404)");
        AssertFails(await jobctl.RunAsync(key, "schedules", "delete", id), "schedule not found");
        Assert.Single(Lines((await jobctl.RunAsync(key, "schedules", "list")).Stdout));
    }

    [Fact]
    public async Task Trigger_starts_an_execution_of_the_schedule_that_status_and_history_show()
    {
        var (key, jobId) = await TenantWithJobAsync("export");
        var id = await CreateBerlinScheduleAsync(key, "nightly-export", "export");
        var before = Field(await jobctl.RunAsync(key, "schedules", "get", id), "next_due_at");

        var triggered = await jobctl.RunAsync(key, "schedules", "trigger", id);
        AssertOk(triggered);
        var executionId = Guid.Parse(triggered.Stdout.TrimEnd('\n')).ToString();

        var status = await jobctl.RunAsync(key, "status", executionId);
        Assert.Equal(id, Field(status, "schedule_id"));
        Assert.Equal(jobId.ToString(), Field(status, "job_id"));
        Assert.Equal("PENDING", Field(status, "status"));
        var execution = Json(await jobctl.RunAsync(key, "status", executionId, "-o", "json"));
        Assert.Equal(id, execution.GetProperty("schedule_id").GetString());

        // The manual run does not move the next due time.
        Assert.Equal(before, Field(await jobctl.RunAsync(key, "schedules", "get", id), "next_due_at"));

        var history = await jobctl.RunAsync(key, "schedules", "history", id);
        AssertOk(history);
        var lines = Lines(history.Stdout);
        Assert.Matches(@"^DUE_AT +TRIGGER +OUTCOME +EXECUTION +STATUS +LATENESS +MISSED +REASON$", lines[0]);
        var row = Assert.Single(lines.Skip(1));
        Assert.Matches($@"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ +manual +fired +{executionId} +PENDING +- +1 +triggered by .+$", row);
        Assert.Empty(history.Stderr);

        var fires = Json(await jobctl.RunAsync(key, "schedules", "history", id, "-o", "json")).GetProperty("fires");
        var fire = Assert.Single(fires.EnumerateArray());
        Assert.Equal("manual", fire.GetProperty("trigger").GetString());
        Assert.Equal(executionId, fire.GetProperty("execution_id").GetString());

        // A second trigger: two entries, newest first, and paging by --before-id prints the next page's command.
        var second = await jobctl.RunAsync(key, "schedules", "trigger", id, "-o", "json");
        var secondId = Json(second).GetProperty("execution_id").GetString();
        var first = await jobctl.RunAsync(key, "schedules", "history", id, "--limit", "1");
        AssertOk(first);
        Assert.Contains($" {secondId} ", Assert.Single(Lines(first.Stdout).Skip(1)), StringComparison.Ordinal);
        var note = MoreNote().Match(first.Stderr);
        Assert.True(note.Success, first.ToString());
        var next = await jobctl.RunAsync(key, note.Groups["command"].Value.Split(' '));
        AssertOk(next);
        Assert.Contains($" {executionId} ", Assert.Single(Lines(next.Stdout).Skip(1)), StringComparison.Ordinal);
        Assert.Empty(next.Stderr);

        AssertFails(await jobctl.RunAsync(key, "schedules", "trigger", Guid.NewGuid().ToString()), "schedule not found");
        AssertFails(await jobctl.RunAsync(key, "schedules", "history", Guid.NewGuid().ToString()), "schedule not found");
    }

    [Fact]
    public async Task Update_changes_only_the_given_fields_and_shows_the_new_fire_times()
    {
        var (key, _) = await TenantWithJobAsync("digest");
        var id = await CreateBerlinScheduleAsync(key, "digest", "digest");
        var created = await jobctl.RunAsync(key, "schedules", "get", id);
        AssertWeekdaysAt(FireTimes(created, Berlin), 9, 0, weekdaysOnly: true);

        var updated = await jobctl.RunAsync(key, "schedules", "update", id, "--cron", "30 18 * * *");
        Assert.Equal("30 18 * * *", Field(updated, "timing"));
        Assert.Equal(Berlin, Field(updated, "time_zone"));
        Assert.Equal("digest", Field(updated, "name"));
        Assert.Equal("fire_once", Field(updated, "misfire"));
        AssertWeekdaysAt(FireTimes(updated, Berlin), 18, 30, weekdaysOnly: false);

        // Another zone: the same wall-clock time there, and nothing else changed.
        var moved = await jobctl.RunAsync(key, "schedules", "update", id, "--time-zone", "America/New_York", "--name", "digest-ny", "--overlap", "queue");
        Assert.Equal("30 18 * * *", Field(moved, "timing"));
        Assert.Equal("digest-ny", Field(moved, "name"));
        Assert.Equal("queue", Field(moved, "overlap"));
        AssertWeekdaysAt(FireTimes(moved, "America/New_York"), 18, 30, weekdaysOnly: false);

        // A cron expression the controller refuses: its 400, naming the field, and the schedule as it was.
        var refused = await jobctl.RunAsync(key, "schedules", "update", id, "--cron", "61 * * * *");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("cron '61 * * * *' is not a valid expression", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("HTTP 400", refused.Stderr, StringComparison.Ordinal);
        Assert.Empty(refused.Stdout);
        Assert.Equal("30 18 * * *", Field(await jobctl.RunAsync(key, "schedules", "get", id), "timing"));

        AssertFails(await jobctl.RunAsync(key, "schedules", "update", Guid.NewGuid().ToString(), "--name", "x"), "schedule not found");
    }

    [Fact]
    public async Task An_interval_schedule_created_paused_lists_as_every_and_stays_paused()
    {
        var (key, jobId) = await TenantWithJobAsync("poll");

        var created = await jobctl.RunAsync(key, "schedules", "create", "--name", "poller", "--job-id", jobId.ToString(), "--every", "90s", "--paused");
        Assert.Equal("every 90s", Field(created, "timing"));
        Assert.Equal("UTC", Field(created, "time_zone"));
        Assert.Equal("paused", Field(created, "state"));
        var times = FireTimes(created, "UTC");
        Assert.Equal(5, times.Count);
        Assert.All(times.Zip(times.Skip(1)), pair => Assert.Equal(TimeSpan.FromSeconds(90), pair.Second.Utc - pair.First.Utc));

        var row = Assert.Single(Lines((await jobctl.RunAsync(key, "schedules", "list")).Stdout).Skip(1));
        Assert.Matches(@" poller +poll +every 90s +UTC +paused +\d{4}-", row);

        var json = Json(await jobctl.RunAsync(key, "schedules", "list", "-o", "json"));
        var schedule = Assert.Single(json.GetProperty("schedules").EnumerateArray());
        Assert.Equal(90, schedule.GetProperty("interval_seconds").GetInt32());
        Assert.False(schedule.TryGetProperty("cron", out _));

        var hourly = await jobctl.RunAsync(key, "schedules", "update", Field(created, "id"), "--every", "1h");
        Assert.Equal("every 1h", Field(hourly, "timing"));
        Assert.Equal("paused", Field(hourly, "state"));
    }

    [Fact]
    public async Task The_controllers_refusals_print_its_message()
    {
        var (key, _) = await TenantWithJobAsync("backup");
        await CreateBerlinScheduleAsync(key, "taken", "backup");

        AssertFails(await jobctl.RunAsync(key, "schedules", "create", "--name", "taken", "--job", "backup", "--cron", "@daily"),
            "a schedule named 'taken' already exists (conflict, HTTP 409)");
        AssertFails(await jobctl.RunAsync(key, "schedules", "create", "--name", "other", "--job", "no-such-job", "--cron", "@daily"),
            "job 'no-such-job' not found");
        AssertFails(await jobctl.RunAsync(key, "schedules", "create", "--name", "other", "--job", "backup", "--cron", "@daily", "--time-zone", "Mars/Olympus"),
            "time_zone must be an IANA time zone name");
        AssertFails(await jobctl.RunAsync(key, "schedules", "create", "--name", "other", "--job", "backup", "--every", "2s"),
            "SCHEDULE_MIN_INTERVAL");
        AssertFails(await jobctl.RunAsync(key, "schedules", "create", "--name", "other", "--job", "backup", "--cron", "@daily",
            "--ends-at", "2001-01-01T00:00:00Z"), "ends_at must be in the future");

        Assert.Single(Json(await jobctl.RunAsync(key, "schedules", "list", "-o", "json")).GetProperty("schedules").EnumerateArray());
    }

    [Fact]
    public async Task List_pages_with_the_cursor_its_note_prints()
    {
        var (key, _) = await TenantWithJobAsync("sweep");
        var made = new List<string>();
        for (var i = 0; i < 3; i++) made.Add(await CreateBerlinScheduleAsync(key, $"sweep-{i}", "sweep"));

        var seen = new List<string>();
        string[] args = ["schedules", "list", "--limit", "2"];
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < 10, "paging never ended");
            var page = await jobctl.RunAsync(key, args);
            AssertOk(page);
            seen.AddRange(Lines(page.Stdout).Skip(1).Select(r => r.Split(' ')[0]));
            var note = MoreNote().Match(page.Stderr);
            if (!note.Success)
            {
                Assert.Empty(page.Stderr);
                break;
            }
            Assert.StartsWith("schedules list --limit 2 --cursor ", note.Groups["command"].Value, StringComparison.Ordinal);
            args = note.Groups["command"].Value.Split(' ');
        }
        Assert.Equal(made.AsEnumerable().Reverse(), seen);
    }

    [GeneratedRegex(@"^(?<utc>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)(?: +(?<local>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:Z|[+-]\d\d:\d\d)))?$")]
    private static partial Regex FireTimeRow();

    [GeneratedRegex(@"note: more entries: jobctl (?<command>.+)\n")]
    private static partial Regex MoreNote();
}

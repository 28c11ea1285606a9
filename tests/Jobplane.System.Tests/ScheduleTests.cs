using System.Text.Json;
using Jobplane.Testing.Processes;
using Npgsql;
using Xunit.Abstractions;

namespace Jobplane.SystemTests;

/// <summary>
/// Recurring schedules through real controller processes on real PostgreSQL: three controllers
/// (one of them killed and restarted on the way) fire an every-second schedule for a minute with
/// exactly one execution per due time and none missed; a controller stopped and restarted applies
/// each misfire policy to what came due while it was down, and nothing else.
/// </summary>
public sealed class ScheduleTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly Platform _platform = new();

    public async Task InitializeAsync()
    {
        await _platform.InitializeAsync();
        _platform.ControllerEnv["SCHEDULE_MIN_INTERVAL"] = "1s";
        // Generous for a shared 2-core machine under a full test run: a firer stalled longer than
        // this treats the due time as missed, which is right, but would blur what the tests count.
        _platform.ControllerEnv["SCHEDULE_MISFIRE_GRACE"] = "5s";
        _platform.ControllerEnv["SCHEDULE_POLL_INTERVAL"] = "200ms";
    }

    public Task DisposeAsync() => _platform.DisposeAsync();

    private async Task<(Api Api, string Job)> TenantWithJobAsync(string name)
    {
        var token = await _platform.CreateTenantAsync(name);
        var api = new Api(_platform.Url, token);
        var job = await api.PostJsonAsync("/jobs", """{"name": "tick", "image": "exec", "command": ["true"]}""");
        return (api, job.GetProperty("job_id").GetString()!);
    }

    private async Task<List<(DateTime Due, Guid Execution)>> ExecutionsOfAsync(string schedule)
    {
        await using var cmd = _platform.Database.DataSource.CreateCommand(
            "select schedule_due_at, id from executions where schedule_id = $1 order by schedule_due_at, id");
        cmd.Parameters.Add(new NpgsqlParameter { Value = Guid.Parse(schedule) });
        await using var reader = await cmd.ExecuteReaderAsync();
        var list = new List<(DateTime, Guid)>();
        while (await reader.ReadAsync()) list.Add((reader.GetDateTime(0), reader.GetGuid(1)));
        return list;
    }

    [Fact]
    public async Task Three_controllers_fire_an_every_second_schedule_for_a_minute_once_per_due_time_even_when_one_is_killed()
    {
        await _platform.StartControllerAsync();
        var second = await _platform.StartReplicaAsync("controller-2", FreePort.Next());
        var third = await _platform.StartReplicaAsync("controller-3", FreePort.Next());
        var (api, job) = await TenantWithJobAsync("three-controllers");
        using (api)
        {
            var schedule = await api.PostJsonAsync("/schedules", $$"""{"name": "every-second", "job_id": "{{job}}", "cron": "* * * * * *"}""");
            var id = schedule.GetProperty("id").GetString()!;
            var createdAt = schedule.GetProperty("created_at").GetDateTimeOffset();

            await Task.Delay(TimeSpan.FromSeconds(20));
            // One replica dies mid-flight (no shutdown, a transaction possibly open) and comes back later.
            second.Process.Signal(Signals.SIGKILL);
            await Task.Delay(TimeSpan.FromSeconds(15));
            await _platform.StartReplicaAsync("controller-2b", FreePort.Next());
            await Task.Delay(TimeSpan.FromSeconds(25));
            var paused = await api.PostJsonAsync($"/schedules/{id}/pause", "{}");
            Assert.Equal("paused", paused.GetProperty("state").GetString());

            var fired = await ExecutionsOfAsync(id);
            var dues = fired.Select(f => f.Due).ToList();
            var duplicates = dues.Count - dues.Distinct().Count();
            var first = dues[0];
            var last = dues[^1];
            var expected = (int)(last - first).TotalSeconds + 1;
            var missed = expected - dues.Distinct().Count();
            output.WriteLine($"three controllers, one killed at 20 s and replaced at 35 s: due times {first:HH:mm:ss}..{last:HH:mm:ss} = {expected}, "
                + $"executions {fired.Count}, duplicates {duplicates}, missed {missed}");
            Console.WriteLine($"schedules: three controllers for a minute: due times {expected}, executions {fired.Count}, duplicates {duplicates}, missed {missed}");
            Assert.Equal(0, duplicates);
            Assert.Equal(0, missed);
            Assert.True(expected >= 55, $"only {expected} due times fired in a minute");
            // The first due time is the first whole second after the schedule was created.
            Assert.True(first - createdAt.UtcDateTime <= TimeSpan.FromSeconds(1), $"first due {first:O}, created {createdAt:O}");
            // Every one of them fired on time (none was treated as missed), as the history shows.
            var history = await api.GetJsonAsync($"/schedules/{id}/history?limit=1000");
            var entries = history.GetProperty("fires").EnumerateArray().ToList();
            Assert.All(entries, e => Assert.Equal("fired", e.GetProperty("outcome").GetString()));
            var lateness = entries.Select(e => e.GetProperty("lateness_ms").GetDouble()).Order().ToList();
            output.WriteLine($"lateness from due time to creation: p50 {lateness[lateness.Count / 2]:0.0} ms, max {lateness[^1]:0.0} ms");
            _ = third;
        }
    }

    [Fact]
    public async Task A_controller_stopped_and_restarted_applies_each_misfire_policy_to_what_came_due_while_it_was_down()
    {
        var controller = await _platform.StartControllerAsync();
        var (api, job) = await TenantWithJobAsync("outage");
        using (api)
        {
            var ids = new Dictionary<string, string>();
            foreach (var (policy, extra) in new[] { ("skip", ""), ("fire_once", ""), ("catch_up", ", \"catch_up_max\": 3") })
            {
                var s = await api.PostJsonAsync("/schedules",
                    $$"""{"name": "{{policy}}", "job_id": "{{job}}", "cron": "* * * * * *", "misfire": "{{policy}}"{{extra}}}""");
                ids[policy] = s.GetProperty("id").GetString()!;
            }
            await Task.Delay(TimeSpan.FromSeconds(4));

            // The only controller stops (the platform is down) for 30 seconds: 30 due times of each
            // schedule pass with nothing to fire them, far more than the 2 s grace.
            await controller.StopAsync(TimeSpan.FromSeconds(10));
            var downAt = DateTime.UtcNow;
            await Task.Delay(TimeSpan.FromSeconds(30));
            await _platform.StartControllerAsync();
            await Task.Delay(TimeSpan.FromSeconds(4));
            foreach (var id in ids.Values) await api.PostJsonAsync($"/schedules/{id}/pause", "{}");

            var expectedCatchUp = new Dictionary<string, int> { ["skip"] = 0, ["fire_once"] = 1, ["catch_up"] = 3 };
            foreach (var (policy, id) in ids)
            {
                var entries = (await api.GetJsonAsync($"/schedules/{id}/history?limit=1000")).GetProperty("fires").EnumerateArray()
                    .Select(e => (Due: e.GetProperty("due_at").GetDateTimeOffset().UtcDateTime, Outcome: e.GetProperty("outcome").GetString()!,
                        Missed: e.GetProperty("missed").GetInt32(), Reason: e.TryGetProperty("reason", out var r) ? r.GetString() : null,
                        FiredAt: e.GetProperty("fired_at").GetDateTimeOffset().UtcDateTime))
                    .OrderBy(e => e.Due).ToList();
                // What came due while it was down is handled by the restarted controller (fired after the
                // stop): the outage's missed due times are one skipped entry, and the catch-up runs are the
                // fires more than the grace after their due time (which is how the firer tells missed ones).
                var grace = TimeSpan.FromSeconds(5);
                var skipped = entries.Where(e => e.Outcome == "skipped" && e.FiredAt > downAt).MaxBy(e => e.Missed);
                Assert.True(skipped.Reason is not null, $"{policy}: no skipped entry after the outage");
                var caughtUp = entries.Where(e => e.Outcome == "fired" && e.FiredAt > downAt && e.FiredAt - e.Due > grace
                    && e.Due > skipped.Due && e.Due <= skipped.Due.AddSeconds(3)).ToList();
                output.WriteLine($"{policy}: skipped {skipped.Missed} missed due times ({skipped.Reason}); catch-up runs {caughtUp.Count}: "
                    + string.Join(", ", caughtUp.Select(c => c.Due.ToString("HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture))));
                Assert.Equal(expectedCatchUp[policy], caughtUp.Count);
                Assert.True(skipped.Missed >= 20, $"{policy}: only {skipped.Missed} missed due times counted over a 30 s outage");
                Assert.Contains($"misfire policy {policy}", skipped.Reason, StringComparison.Ordinal);
                // The catch-up runs are the latest missed due times, one second apart, right after the skipped ones.
                for (var i = 0; i < caughtUp.Count; i++) Assert.Equal(skipped.Due.AddSeconds(i + 1), caughtUp[i].Due);
                // The due time after the last catch-up (or after the skipped ones) was not missed: it fired on time.
                var next = entries.Single(e => e.Due == skipped.Due.AddSeconds(caughtUp.Count + 1));
                Assert.Equal("fired", next.Outcome);
                // Before the stop and after the restart: every due time fired once, on time.
                var executions = await ExecutionsOfAsync(id);
                Assert.Equal(executions.Count, executions.Select(e => e.Due).Distinct().Count());
                Assert.Equal(entries.Count(e => e.Outcome == "fired"), executions.Count);
                Assert.DoesNotContain(entries, e => e.Outcome == "fired" && e.Due > downAt.AddSeconds(1) && e.Due < skipped.Due);
            }
        }
    }
}

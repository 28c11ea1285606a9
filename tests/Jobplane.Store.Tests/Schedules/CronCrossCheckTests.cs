using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Jobplane.Store.Schedules;

namespace Jobplane.Store.Tests.Schedules;

/// <summary>
/// Our fire times (Cronos) against a second, independent cron implementation: Python's croniter
/// (Debian's python3-croniter, for /usr/bin/python3; scripts/ensure-croniter.sh installs it). Every
/// expression, zone and starting point must give the same instants, except on daylight-saving
/// nights, where the two libraries are known to differ: those differences are listed here, exactly,
/// so a change on either side fails this test instead of passing unnoticed.
/// </summary>
/// <remarks>
/// croniter is given a pytz zone. Its daylight-saving correction was written for pytz; with a
/// zoneinfo zone, croniter 1.3.5 also shifts fire times far from any transition night (a monthly
/// midnight in Europe/Berlin lands on 23:00 of 31 March), so it is no reference there.
/// </remarks>
public sealed class CronCrossCheckTests
{
    private const string Python = "/usr/bin/python3";
    private const int Count = 50;

    // Reads [{cron, zone, start, count}] on stdin; prints, for each, the next `count` fire times after
    // `start` as UTC ISO strings, computed from a zone-aware start.
    private const string Script = """
        import json, sys
        from datetime import datetime, timezone
        import pytz
        from croniter import croniter
        out = []
        for case in json.load(sys.stdin):
            start = datetime.fromisoformat(case["start"].replace("Z", "+00:00")).astimezone(pytz.timezone(case["zone"]))
            it = croniter(case["cron"], start)
            out.append([it.get_next(datetime).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") for _ in range(case["count"])])
        json.dump(out, sys.stdout)
        """;

    private static readonly string[] Expressions =
    [
        "*/15 * * * *", "0 9 * * MON-FRI", "0 0 1 * *", "5 4 * * SUN", "0 */6 * * *", "0 12 15 * *", "30 2 * * *", "0 0 29 2 *",
        // The two the README's daylight-saving remarks are about: a daily time in the repeated hour, and an hourly one.
        "30 1 * * *", "30 * * * *",
    ];

    // Starting points away from any transition (January, July) and a few hours before each of the
    // zone's 2026 transitions; zones without daylight saving take Berlin's spring night anyway.
    // Fifty fire times from each: half a day of '*/15', months of dailies, years of monthlies, two
    // centuries of leap days (pytz knows transitions up to 2037 and then keeps the last offset,
    // which in February is the winter one in the north and the summer one on Lord Howe, as the rules say).
    private static readonly (string Zone, string[] Starts)[] Zones =
    [
        ("UTC", ["2026-01-10T00:00:00Z", "2026-07-01T00:00:00Z", "2026-03-28T20:00:00Z"]),
        // 2026-03-29 01:00 UTC: 02:00 CET -> 03:00 CEST; 2026-10-25 01:00 UTC: 03:00 CEST -> 02:00 CET.
        ("Europe/Berlin", ["2026-01-10T00:00:00Z", "2026-07-01T00:00:00Z", "2026-03-28T20:00:00Z", "2026-10-24T20:00:00Z"]),
        // 2026-03-08 07:00 UTC: 02:00 EST -> 03:00 EDT; 2026-11-01 06:00 UTC: 02:00 EDT -> 01:00 EST.
        ("America/New_York", ["2026-01-10T00:00:00Z", "2026-07-01T00:00:00Z", "2026-03-08T01:00:00Z", "2026-11-01T00:00:00Z"]),
        ("Asia/Kolkata", ["2026-01-10T00:00:00Z", "2026-07-01T00:00:00Z", "2026-03-28T20:00:00Z"]),
        // Half-hour daylight saving. 2026-04-04 15:00 UTC: 02:00 (+11) -> 01:30 (+10:30);
        // 2026-10-03 15:30 UTC: 02:00 (+10:30) -> 02:30 (+11).
        ("Australia/Lord_Howe", ["2026-01-10T00:00:00Z", "2026-07-01T00:00:00Z", "2026-04-04T09:00:00Z", "2026-10-03T09:30:00Z"]),
    ];

    /// <summary>
    /// Where the two disagree: instants only Cronos gives, and instants only croniter gives, counted
    /// with repeats (an instant croniter gives twice, once where both agree, is listed once here).
    /// UTC; the local times are in the comments.
    /// </summary>
    private sealed record Difference(string Cron, string Zone, string Start, string[] CronosOnly, string[] CroniterOnly);

    private static readonly Difference[] Expected =
    [
        // Spring forward: a daily time in the gap (02:30 does not exist). Cronos: once, at 03:00
        // summer time. croniter: at 01:30 winter time and 03:30 summer time that night, and at 01:30
        // summer time the next night as well as its 02:30.
        // Berlin: 03:00 CEST | 01:30 CET, 03:30 CEST, 03-30 01:30 CEST.
        new("30 2 * * *", "Europe/Berlin", "2026-03-28T20:00:00Z",
            ["2026-03-29T01:00:00Z"],
            ["2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z", "2026-03-29T23:30:00Z"]),
        // New York: 03:00 EDT | 01:30 EST, 03:30 EDT, 03-09 01:30 EDT.
        new("30 2 * * *", "America/New_York", "2026-03-08T01:00:00Z",
            ["2026-03-08T07:00:00Z"],
            ["2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z", "2026-03-09T05:30:00Z"]),
        // Spring forward, hourly. Cronos fires the missing 02:30 at 03:00 summer time; croniter leaves it
        // out, but gives 01:30 winter time twice in a row, and 00:30 summer time of the next night twice.
        // Berlin: 03:00 CEST | 01:30 CET again, 03-30 00:30 CEST again.
        new("30 * * * *", "Europe/Berlin", "2026-03-28T20:00:00Z", ["2026-03-29T01:00:00Z"], ["2026-03-29T00:30:00Z", "2026-03-29T22:30:00Z"]),
        // New York: 03:00 EDT | 01:30 EST again, 03-09 00:30 EDT again.
        new("30 * * * *", "America/New_York", "2026-03-08T01:00:00Z", ["2026-03-08T07:00:00Z"], ["2026-03-08T06:30:00Z", "2026-03-09T04:30:00Z"]),
        // Spring forward, every 15 minutes. Both skip the gap; croniter first steps back and gives the
        // quarter hours before it a second time.
        // Berlin: 01:00, 01:15, 01:30, 01:45 CET again.
        new("*/15 * * * *", "Europe/Berlin", "2026-03-28T20:00:00Z", [],
            ["2026-03-29T00:00:00Z", "2026-03-29T00:15:00Z", "2026-03-29T00:30:00Z", "2026-03-29T00:45:00Z"]),
        // New York: 01:00, 01:15, 01:30, 01:45 EST again.
        new("*/15 * * * *", "America/New_York", "2026-03-08T01:00:00Z", [],
            ["2026-03-08T06:00:00Z", "2026-03-08T06:15:00Z", "2026-03-08T06:30:00Z", "2026-03-08T06:45:00Z"]),
        // Lord Howe (02:00 +10:30 becomes 02:30 +11): 01:30, 01:45 (+10:30) again.
        new("*/15 * * * *", "Australia/Lord_Howe", "2026-10-03T09:30:00Z", [], ["2026-10-03T15:00:00Z", "2026-10-03T15:15:00Z"]),
        // Fall back: Cronos fires an hourly or finer expression in the repeated hour too; croniter
        // (from these starting points) only in its first, summer-time pass.
        // Berlin: 02:00, 02:15, 02:30, 02:45 CET.
        new("*/15 * * * *", "Europe/Berlin", "2026-10-24T20:00:00Z",
            ["2026-10-25T01:00:00Z", "2026-10-25T01:15:00Z", "2026-10-25T01:30:00Z", "2026-10-25T01:45:00Z"], []),
        // Berlin: 02:30 CET.
        new("30 * * * *", "Europe/Berlin", "2026-10-24T20:00:00Z", ["2026-10-25T01:30:00Z"], []),
        // New York: 01:00, 01:15, 01:30, 01:45 EST.
        new("*/15 * * * *", "America/New_York", "2026-11-01T00:00:00Z",
            ["2026-11-01T06:00:00Z", "2026-11-01T06:15:00Z", "2026-11-01T06:30:00Z", "2026-11-01T06:45:00Z"], []),
        // New York: 01:30 EST.
        new("30 * * * *", "America/New_York", "2026-11-01T00:00:00Z", ["2026-11-01T06:30:00Z"], []),
        // Lord Howe repeats 01:30-02:00: 01:30, 01:45 (+10:30).
        new("*/15 * * * *", "Australia/Lord_Howe", "2026-04-04T09:00:00Z", ["2026-04-04T15:00:00Z", "2026-04-04T15:15:00Z"], []),
        // Lord Howe: 01:30 (+10:30).
        new("30 * * * *", "Australia/Lord_Howe", "2026-04-04T09:00:00Z", ["2026-04-04T15:00:00Z"], []),
    ];

    [Fact]
    public async Task Fire_times_match_croniter_except_the_listed_daylight_saving_nights()
    {
        await RequireCroniterAsync();
        var cases = (from z in Zones from cron in Expressions from start in z.Starts select (Cron: cron, z.Zone, Start: start)).ToList();

        var theirs = await CroniterAsync(cases);

        Assert.Equal(cases.Count, theirs.Count);
        var found = new List<Difference>();
        var agreed = 0;
        for (var i = 0; i < cases.Count; i++)
        {
            var (cron, zone, start) = cases[i];
            var timing = ScheduleTiming.Cron(cron, zone, null, null, out var problem);
            Assert.True(timing is not null, problem);
            var ours = new List<DateTimeOffset>(Count);
            var at = Parse(start);
            for (var k = 0; k < Count; k++)
            {
                at = timing.NextAfter(at) ?? throw new InvalidOperationException($"'{cron}' in {zone} stopped after {k} fire times");
                ours.Add(at);
            }
            var other = theirs[i].Select(Parse).ToList();
            Assert.Equal(Count, other.Count);

            // Compared over the span both cover (an extra fire on one side shifts where the other's fifty
            // end), as multisets: croniter may give one instant twice.
            var end = ours.Max() < other.Max() ? ours.Max() : other.Max();
            var cronosOnly = Minus(ours.Where(t => t <= end), other);
            var croniterOnly = Minus(other.Where(t => t <= end), ours);
            if (cronosOnly.Count == 0 && croniterOnly.Count == 0)
            {
                Assert.Equal(ours, other);
                agreed++;
                continue;
            }
            foreach (var t in cronosOnly.Concat(croniterOnly))
            {
                Assert.True(NearTransition(t, timing.Zone),
                    $"'{cron}' in {zone} from {start}: the libraries disagree on {Iso(t)}, which is not within a day of a daylight-saving change");
            }
            found.Add(new Difference(cron, zone, start, [.. cronosOnly.Select(Iso)], [.. croniterOnly.Select(Iso)]));
        }

        var message = new StringBuilder("the differences between Cronos and croniter changed; found:\n");
        foreach (var d in found)
            message.Append(CultureInfo.InvariantCulture, $"  {d.Cron} | {d.Zone} | {d.Start}: Cronos only [{string.Join(", ", d.CronosOnly)}], croniter only [{string.Join(", ", d.CroniterOnly)}]\n");
        Assert.True(Same(Expected, found), message.ToString());
        Assert.Equal(cases.Count - Expected.Length, agreed);
    }

    [Fact]
    public async Task Croniter_agrees_on_a_plain_case_so_the_comparison_compares_something()
    {
        await RequireCroniterAsync();

        var theirs = await CroniterAsync([("0 9 * * MON-FRI", "Europe/Berlin", "2026-07-03T00:00:00Z")]);

        // Friday 3 July, Monday 6 July, ... at 09:00 CEST.
        Assert.Equal(["2026-07-03T07:00:00Z", "2026-07-06T07:00:00Z", "2026-07-07T07:00:00Z"], theirs[0].Take(3));
        var timing = ScheduleTiming.Cron("0 9 * * MON-FRI", "Europe/Berlin", null, null, out _)!;
        Assert.Equal(theirs[0].Take(3).Select(Parse), timing.Upcoming(Parse("2026-07-03T00:00:00Z"), 3));
    }

    /// <summary>What is left of <paramref name="left"/> (in its order) once each instant of <paramref name="right"/> took away one equal instant.</summary>
    private static List<DateTimeOffset> Minus(IEnumerable<DateTimeOffset> left, List<DateTimeOffset> right)
    {
        var remaining = right.ToList();
        return [.. left.Where(t => !remaining.Remove(t))];
    }

    private static bool Same(Difference[] expected, List<Difference> found) =>
        expected.Length == found.Count && expected.All(e => found.Any(f => f.Cron == e.Cron && f.Zone == e.Zone && f.Start == e.Start
            && f.CronosOnly.SequenceEqual(e.CronosOnly) && f.CroniterOnly.SequenceEqual(e.CroniterOnly)));

    /// <summary>Within a day of one of the zone's offset changes: the night itself, or the day it spills into.</summary>
    private static bool NearTransition(DateTimeOffset t, TimeZoneInfo zone) =>
        zone.GetUtcOffset(t.AddDays(-1)) != zone.GetUtcOffset(t.AddDays(1));

    private static DateTimeOffset Parse(string iso) => DateTimeOffset.Parse(iso, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    private static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static async Task RequireCroniterAsync()
    {
        var (exit, _, error) = await RunPythonAsync(["-I", "-c", "import croniter, pytz"], "");
        Assert.True(exit == 0,
            $"{Python} cannot import croniter (and pytz): run scripts/ensure-croniter.sh (it installs the Debian package python3-croniter). {error}");
    }

    private static async Task<List<List<string>>> CroniterAsync(IEnumerable<(string Cron, string Zone, string Start)> cases)
    {
        var input = JsonSerializer.Serialize(cases.Select(c => new Dictionary<string, object>
        {
            ["cron"] = c.Cron,
            ["zone"] = c.Zone,
            ["start"] = c.Start,
            ["count"] = Count,
        }));
        var (exit, output, error) = await RunPythonAsync(["-I", "-c", Script], input);
        Assert.True(exit == 0, $"croniter failed (exit {exit}): {error}");
        return JsonSerializer.Deserialize<List<List<string>>>(output) ?? throw new InvalidOperationException("croniter printed null");
    }

    /// <summary>Runs the system's python3 with <paramref name="arguments"/> (no shell), <paramref name="input"/> on stdin.</summary>
    private static async Task<(int Exit, string Output, string Error)> RunPythonAsync(string[] arguments, string input)
    {
        var psi = new ProcessStartInfo(Python)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException($"{Python} did not start");
        }
        catch (Win32Exception e)
        {
            Assert.Fail($"{Python} cannot be run ({e.Message}): run scripts/ensure-croniter.sh");
            throw;
        }
        using (process)
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120)))
        {
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var error = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"{Python} did not finish within two minutes");
            }
            return (process.ExitCode, await output, await error);
        }
    }
}

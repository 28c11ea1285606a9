using Jobplane.Store.Schedules;

namespace Jobplane.Store.Tests.Schedules;

/// <summary>
/// When schedules come due: cron expressions in IANA zones (daylight saving, leap days, the extended
/// fields), bounds, fixed intervals, what is refused and the shortest gap. Pure arithmetic on fixed
/// instants: no database, no clock.
/// </summary>
public sealed class ScheduleTimingTests
{
    private static DateTimeOffset Utc(int year, int month, int day, int hour = 0, int minute = 0, int second = 0) =>
        new(year, month, day, hour, minute, second, TimeSpan.Zero);

    private static ScheduleTiming Cron(string expression, string zone = "UTC", DateTimeOffset? startsAt = null, DateTimeOffset? endsAt = null)
    {
        var timing = ScheduleTiming.Cron(expression, zone, startsAt, endsAt, out var problem);
        Assert.True(timing is not null, $"'{expression}' in {zone} was refused: {problem}");
        Assert.Null(problem);
        return timing;
    }

    private static string Refused(string expression, string zone = "UTC")
    {
        var timing = ScheduleTiming.Cron(expression, zone, null, null, out var problem);
        Assert.Null(timing);
        Assert.NotNull(problem);
        return problem;
    }

    /// <summary>The wall clock of <paramref name="instant"/> in <paramref name="zone"/>, with its offset.</summary>
    private static (DateTime Local, TimeSpan Offset) WallClock(DateTimeOffset instant, ScheduleTiming timing)
    {
        var local = TimeZoneInfo.ConvertTime(instant, timing.Zone);
        return (local.DateTime, local.Offset);
    }

    // Daylight saving: clocks jump forward.

    [Fact]
    public void Day_of_month_and_day_of_week_must_both_match_friday_the_13th_only()
    {
        var times = Cron("0 0 13 * FRI").Upcoming(Utc(2026, 1, 1), 3);
        Assert.Equal([Utc(2026, 2, 13), Utc(2026, 3, 13), Utc(2026, 11, 13)], times);
        Assert.All(times, t => Assert.Equal(DayOfWeek.Friday, t.DayOfWeek));
    }

    [Fact]
    public void Spring_forward_in_Berlin_a_time_in_the_gap_fires_at_the_first_instant_after_it()
    {
        // 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00 UTC), so 02:30 does not exist that night.
        var timing = Cron("30 2 * * *", "Europe/Berlin");

        var due = timing.Upcoming(Utc(2026, 3, 27, 12), 3);

        Assert.Equal([Utc(2026, 3, 28, 1, 30), Utc(2026, 3, 29, 1, 0), Utc(2026, 3, 30, 0, 30)], due);
        Assert.Equal((new DateTime(2026, 3, 28, 2, 30, 0), TimeSpan.FromHours(1)), WallClock(due[0], timing));
        Assert.Equal((new DateTime(2026, 3, 29, 3, 0, 0), TimeSpan.FromHours(2)), WallClock(due[1], timing));
        Assert.Equal((new DateTime(2026, 3, 30, 2, 30, 0), TimeSpan.FromHours(2)), WallClock(due[2], timing));
    }

    [Fact]
    public void Spring_forward_in_New_York_a_time_in_the_gap_fires_at_the_first_instant_after_it()
    {
        // 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00 UTC).
        var timing = Cron("30 2 * * *", "America/New_York");

        var due = timing.Upcoming(Utc(2026, 3, 6, 12), 3);

        Assert.Equal([Utc(2026, 3, 7, 7, 30), Utc(2026, 3, 8, 7, 0), Utc(2026, 3, 9, 6, 30)], due);
        Assert.Equal((new DateTime(2026, 3, 7, 2, 30, 0), TimeSpan.FromHours(-5)), WallClock(due[0], timing));
        Assert.Equal((new DateTime(2026, 3, 8, 3, 0, 0), TimeSpan.FromHours(-4)), WallClock(due[1], timing));
        Assert.Equal((new DateTime(2026, 3, 9, 2, 30, 0), TimeSpan.FromHours(-4)), WallClock(due[2], timing));
    }

    [Fact]
    public void Spring_forward_an_hourly_expression_fires_the_missing_half_hour_at_the_end_of_the_gap()
    {
        // 01:30 CET, then 02:30 (missing) at 03:00 CEST, then 03:30 CEST: two due times 30 minutes apart.
        var timing = Cron("30 * * * *", "Europe/Berlin");

        Assert.Equal([Utc(2026, 3, 29, 0, 30), Utc(2026, 3, 29, 1, 0), Utc(2026, 3, 29, 1, 30), Utc(2026, 3, 29, 2, 30)],
            timing.Upcoming(Utc(2026, 3, 29, 0, 0), 4));
    }

    // Daylight saving: clocks fall back.

    [Fact]
    public void Fall_back_in_New_York_a_repeated_time_fires_once_at_its_first_daylight_time_occurrence()
    {
        // 2026-11-01: 02:00 EDT becomes 01:00 EST (06:00 UTC), so 01:30 happens at 05:30 and at 06:30 UTC.
        var timing = Cron("30 1 * * *", "America/New_York");

        var due = timing.Upcoming(Utc(2026, 10, 31, 0, 0), 3);

        Assert.Equal([Utc(2026, 10, 31, 5, 30), Utc(2026, 11, 1, 5, 30), Utc(2026, 11, 2, 6, 30)], due);
        Assert.Equal((new DateTime(2026, 11, 1, 1, 30, 0), TimeSpan.FromHours(-4)), WallClock(due[1], timing));
        Assert.Equal((new DateTime(2026, 11, 2, 1, 30, 0), TimeSpan.FromHours(-5)), WallClock(due[2], timing));
        Assert.Equal(Utc(2026, 11, 2, 6, 30), timing.NextAfter(Utc(2026, 11, 1, 5, 30)));
    }

    [Fact]
    public void Fall_back_in_Berlin_a_repeated_time_fires_once_at_its_first_summer_time_occurrence()
    {
        // 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00 UTC), so 02:30 happens at 00:30 and at 01:30 UTC.
        var timing = Cron("30 2 * * *", "Europe/Berlin");

        var due = timing.Upcoming(Utc(2026, 10, 24, 0, 0), 3);

        Assert.Equal([Utc(2026, 10, 24, 0, 30), Utc(2026, 10, 25, 0, 30), Utc(2026, 10, 26, 1, 30)], due);
        Assert.Equal((new DateTime(2026, 10, 25, 2, 30, 0), TimeSpan.FromHours(2)), WallClock(due[1], timing));
        Assert.Equal((new DateTime(2026, 10, 26, 2, 30, 0), TimeSpan.FromHours(1)), WallClock(due[2], timing));
    }

    [Fact]
    public void Fall_back_an_hourly_expression_fires_in_both_repeated_hours_in_New_York()
    {
        var timing = Cron("30 * * * *", "America/New_York");

        var due = timing.Upcoming(Utc(2026, 11, 1, 4, 0), 5);

        // 00:30 EDT, 01:30 EDT, 01:30 EST, 02:30 EST, 03:30 EST: every real hour.
        Assert.Equal([Utc(2026, 11, 1, 4, 30), Utc(2026, 11, 1, 5, 30), Utc(2026, 11, 1, 6, 30), Utc(2026, 11, 1, 7, 30), Utc(2026, 11, 1, 8, 30)], due);
        Assert.Equal((new DateTime(2026, 11, 1, 1, 30, 0), TimeSpan.FromHours(-4)), WallClock(due[1], timing));
        Assert.Equal((new DateTime(2026, 11, 1, 1, 30, 0), TimeSpan.FromHours(-5)), WallClock(due[2], timing));
        Assert.Equal(TimeSpan.FromHours(1), timing.ShortestGap(Utc(2026, 10, 31, 12, 0)));
    }

    [Fact]
    public void Fall_back_an_hourly_expression_fires_in_both_repeated_hours_in_Berlin()
    {
        var timing = Cron("30 * * * *", "Europe/Berlin");

        var due = timing.Upcoming(Utc(2026, 10, 24, 23, 0), 4);

        // 01:30 CEST, 02:30 CEST, 02:30 CET, 03:30 CET.
        Assert.Equal([Utc(2026, 10, 24, 23, 30), Utc(2026, 10, 25, 0, 30), Utc(2026, 10, 25, 1, 30), Utc(2026, 10, 25, 2, 30)], due);
        Assert.Equal((new DateTime(2026, 10, 25, 2, 30, 0), TimeSpan.FromHours(2)), WallClock(due[1], timing));
        Assert.Equal((new DateTime(2026, 10, 25, 2, 30, 0), TimeSpan.FromHours(1)), WallClock(due[2], timing));
    }

    // Calendar corners and the extended syntax.

    [Fact]
    public void The_leap_day_fires_only_in_leap_years()
    {
        var timing = Cron("0 0 29 2 *");

        Assert.Equal(Utc(2028, 2, 29), timing.NextAfter(Utc(2026, 1, 1)));
        Assert.Equal(Utc(2032, 2, 29), timing.NextAfter(Utc(2028, 2, 29)));
        Assert.Equal([Utc(2028, 2, 29), Utc(2032, 2, 29)], timing.Between(Utc(2026, 1, 1), Utc(2035, 1, 1), 10, out var truncated));
        Assert.False(truncated);
        // 2100 is not a leap year: eight years between 2096 and 2104.
        Assert.Equal(Utc(2104, 2, 29), timing.NextAfter(Utc(2096, 2, 29)));
    }

    [Fact]
    public void L_is_the_last_day_of_each_month_in_common_and_leap_years()
    {
        var timing = Cron("0 0 L * *");

        Assert.Equal([Utc(2027, 1, 31), Utc(2027, 2, 28), Utc(2027, 3, 31), Utc(2027, 4, 30)], timing.Upcoming(Utc(2027, 1, 15), 4));
        Assert.Equal([Utc(2028, 1, 31), Utc(2028, 2, 29), Utc(2028, 3, 31)], timing.Upcoming(Utc(2028, 1, 15), 3));
    }

    [Fact]
    public void A_hash_day_of_week_is_the_nth_such_day_of_the_month()
    {
        var timing = Cron("0 0 * * MON#2");

        Assert.Equal([Utc(2026, 1, 12), Utc(2026, 2, 9), Utc(2026, 3, 9), Utc(2026, 4, 13)], timing.Upcoming(Utc(2026, 1, 1), 4));
    }

    [Fact]
    public void Macros_name_their_usual_expressions()
    {
        Assert.Equal([Utc(2026, 1, 2), Utc(2026, 1, 3)], Cron("@daily").Upcoming(Utc(2026, 1, 1, 10), 2));
        Assert.Equal([Utc(2026, 1, 1, 11), Utc(2026, 1, 1, 12)], Cron("@hourly").Upcoming(Utc(2026, 1, 1, 10, 0, 1), 2));
        Assert.Equal([Utc(2026, 1, 1, 10, 1), Utc(2026, 1, 1, 10, 2)], Cron("@every_minute").Upcoming(Utc(2026, 1, 1, 10, 0, 30), 2));
        Assert.Equal([Utc(2026, 1, 1, 10, 0, 1), Utc(2026, 1, 1, 10, 0, 2)], Cron("@every_second").Upcoming(Utc(2026, 1, 1, 10).AddTicks(1), 2));
        Assert.Equal(Utc(2027, 1, 1), Cron("@yearly").NextAfter(Utc(2026, 3, 1)));
        Assert.Equal(Utc(2026, 4, 1), Cron("@monthly").NextAfter(Utc(2026, 3, 1)));
        Assert.Equal(Utc(2026, 3, 8), Cron("@weekly").NextAfter(Utc(2026, 3, 1))); // 2026-03-01 is a Sunday
        Assert.Equal(TimeSpan.FromSeconds(1), Cron("@EVERY_SECOND").ShortestGap(Utc(2026, 1, 1)));
        // @daily is local midnight in the schedule's zone.
        Assert.Equal(Utc(2026, 7, 1, 22), Cron("@daily", "Europe/Berlin").NextAfter(Utc(2026, 7, 1, 12)));
    }

    [Fact]
    public void Six_fields_lead_with_seconds()
    {
        Assert.Equal([Utc(2026, 1, 1, 0, 0, 10), Utc(2026, 1, 1, 0, 0, 20), Utc(2026, 1, 1, 0, 0, 30)],
            Cron("*/10 * * * * *").Upcoming(Utc(2026, 1, 1, 0, 0, 5), 3));
        Assert.Equal(Utc(2026, 1, 1, 9, 0, 30), Cron("30 0 9 * * *").NextAfter(Utc(2026, 1, 1)));
        Assert.Equal(Utc(2026, 7, 1, 7, 0, 30), Cron("30 0 9 * * *", "Europe/Berlin").NextAfter(Utc(2026, 7, 1)));
        Assert.Equal(TimeSpan.FromSeconds(10), Cron("*/10 * * * * *").ShortestGap(Utc(2026, 1, 1)));
    }

    [Fact]
    public void Fields_may_be_separated_by_tabs_and_repeated_spaces()
    {
        Assert.Equal(Utc(2026, 1, 1, 9), Cron("0\t9\t*\t*\t*").NextAfter(Utc(2026, 1, 1)));
        Assert.Equal(Utc(2026, 1, 1, 9), Cron("0  9 * *  *").NextAfter(Utc(2026, 1, 1)));
        Assert.Equal(Utc(2026, 1, 1, 9, 0, 5), Cron("5\t0 9 * * *").NextAfter(Utc(2026, 1, 1)));
    }

    // Bounds.

    [Fact]
    public void Starts_at_and_ends_at_bound_a_cron_schedule_both_inclusive()
    {
        var timing = Cron("0 12 * * *", startsAt: Utc(2026, 6, 10, 12), endsAt: Utc(2026, 6, 12, 12));

        Assert.Equal(Utc(2026, 6, 10, 12), timing.NextAfter(Utc(2026, 1, 1)));
        Assert.Equal(Utc(2026, 6, 10, 12), timing.NextAfter(Utc(2026, 6, 10, 11, 59, 59)));
        Assert.Equal(Utc(2026, 6, 11, 12), timing.NextAfter(Utc(2026, 6, 10, 12)));
        Assert.Equal(Utc(2026, 6, 12, 12), timing.NextAfter(Utc(2026, 6, 11, 12)));
        Assert.Null(timing.NextAfter(Utc(2026, 6, 12, 12)));
        Assert.Null(timing.NextAfter(Utc(2030, 1, 1)));
        Assert.Equal([Utc(2026, 6, 10, 12), Utc(2026, 6, 11, 12), Utc(2026, 6, 12, 12)], timing.Upcoming(Utc(2020, 1, 1), 10));
        Assert.Equal([Utc(2026, 6, 10, 12), Utc(2026, 6, 11, 12), Utc(2026, 6, 12, 12)], timing.Between(Utc(2020, 1, 1), Utc(2030, 1, 1), 10, out var truncated));
        Assert.False(truncated);
        Assert.Equal(TimeSpan.FromDays(1), timing.ShortestGap(Utc(2026, 1, 1)));
        Assert.Null(timing.ShortestGap(Utc(2026, 6, 11, 12))); // one due time left: no gap at all
    }

    [Fact]
    public void A_start_between_due_times_waits_for_the_next_one()
    {
        var timing = Cron("0 12 * * *", startsAt: Utc(2026, 6, 10, 12, 0, 1));

        Assert.Equal(Utc(2026, 6, 11, 12), timing.NextAfter(Utc(2026, 1, 1)));
        Assert.Empty(timing.Between(Utc(2026, 6, 10), Utc(2026, 6, 10, 23, 59), 10, out _));
    }

    [Fact]
    public void Between_stops_at_its_limit_and_says_more_followed()
    {
        var timing = Cron("* * * * *");

        var due = timing.Between(Utc(2026, 1, 1), Utc(2026, 1, 1, 1), 5, out var truncated);
        Assert.True(truncated);
        Assert.Equal([Utc(2026, 1, 1, 0, 0), Utc(2026, 1, 1, 0, 1), Utc(2026, 1, 1, 0, 2), Utc(2026, 1, 1, 0, 3), Utc(2026, 1, 1, 0, 4)], due);

        Assert.Equal(61, timing.Between(Utc(2026, 1, 1), Utc(2026, 1, 1, 1), 61, out truncated).Count);
        Assert.False(truncated);
    }

    // Fixed intervals.

    [Fact]
    public void An_interval_counts_from_its_anchor()
    {
        var anchor = Utc(2026, 1, 1);
        var timing = ScheduleTiming.Every(TimeSpan.FromSeconds(90), anchor, null, null);

        Assert.False(timing.IsCron);
        Assert.Equal(anchor.AddSeconds(90), timing.NextAfter(anchor));
        Assert.Equal(anchor.AddSeconds(180), timing.NextAfter(anchor.AddSeconds(90)));
        Assert.Equal(anchor.AddSeconds(180), timing.NextAfter(anchor.AddSeconds(100)));
        Assert.Equal(anchor.AddSeconds(180), timing.NextAfter(anchor.AddSeconds(180).AddTicks(-1)));
        Assert.Equal([anchor.AddSeconds(90), anchor.AddSeconds(180), anchor.AddSeconds(270)], timing.Upcoming(anchor.AddSeconds(1), 3));
        Assert.Equal(TimeSpan.FromSeconds(90), timing.ShortestGap(anchor));
    }

    [Fact]
    public void An_interval_finds_a_due_time_a_year_on_by_division_not_by_walking()
    {
        // 365 days are 31,536,000 s: 4,505,142 intervals of 7 s and 6 s more, so the next due time is 1 s after.
        var anchor = Utc(2026, 1, 1);
        var timing = ScheduleTiming.Every(TimeSpan.FromSeconds(7), anchor, null, null);

        Assert.Equal(Utc(2027, 1, 1, 0, 0, 1), timing.NextAfter(Utc(2027, 1, 1)));
        Assert.Equal([Utc(2027, 1, 1, 0, 0, 1), Utc(2027, 1, 1, 0, 0, 8), Utc(2027, 1, 1, 0, 0, 15)],
            timing.Between(Utc(2027, 1, 1), Utc(2027, 1, 1, 0, 0, 20), 10, out _));

        // Every second across 7,000 years: walking would take billions of steps.
        var perSecond = ScheduleTiming.Every(TimeSpan.FromSeconds(1), anchor, null, null);
        Assert.Equal(Utc(9026, 1, 1, 0, 0, 1), perSecond.NextAfter(Utc(9026, 1, 1)));
    }

    [Fact]
    public void An_interval_is_elapsed_time_so_daylight_saving_never_moves_it()
    {
        // An interval definition carries a zone (it is validated) but counts real seconds.
        var definition = new ScheduleDefinition("hourly", Guid.NewGuid()) { IntervalSeconds = 3600, TimeZone = "Europe/Berlin" };
        var timing = definition.Timing(Utc(2026, 10, 24, 22, 17, 3), out var problem);
        Assert.Null(problem);
        Assert.NotNull(timing);

        var due = timing.Upcoming(Utc(2026, 10, 24, 22, 30), 6);

        Assert.Equal(Enumerable.Range(1, 6).Select(h => Utc(2026, 10, 24, 22, 17, 3).AddHours(h)), due);
        var spring = ScheduleTiming.Every(TimeSpan.FromMinutes(30), Utc(2026, 3, 29, 0, 0), null, null).Upcoming(Utc(2026, 3, 29, 0, 1), 4);
        Assert.Equal([Utc(2026, 3, 29, 0, 30), Utc(2026, 3, 29, 1, 0), Utc(2026, 3, 29, 1, 30), Utc(2026, 3, 29, 2, 0)], spring);
    }

    [Fact]
    public void An_interval_anchored_at_its_start_is_first_due_at_the_start_and_ends_inclusive()
    {
        var definition = new ScheduleDefinition("later", Guid.NewGuid())
        {
            IntervalSeconds = 600,
            StartsAt = Utc(2026, 5, 1, 10),
            EndsAt = Utc(2026, 5, 1, 10, 30),
        };
        var timing = definition.Timing(Utc(2026, 4, 1), out _)!;

        Assert.Equal(Utc(2026, 5, 1, 10), timing.NextAfter(Utc(2026, 4, 1)));
        Assert.Equal([Utc(2026, 5, 1, 10), Utc(2026, 5, 1, 10, 10), Utc(2026, 5, 1, 10, 20), Utc(2026, 5, 1, 10, 30)],
            timing.Upcoming(Utc(2026, 4, 1), 10));
        Assert.Null(timing.NextAfter(Utc(2026, 5, 1, 10, 30)));
    }

    [Fact]
    public void An_interval_with_a_start_off_its_grid_begins_at_the_first_grid_point_at_or_after_the_start()
    {
        var anchor = Utc(2026, 1, 1);
        Assert.Equal(Utc(2026, 1, 1, 0, 30), ScheduleTiming.Every(TimeSpan.FromMinutes(10), anchor, Utc(2026, 1, 1, 0, 25), null).NextAfter(anchor));
        Assert.Equal(Utc(2026, 1, 1, 0, 20), ScheduleTiming.Every(TimeSpan.FromMinutes(10), anchor, Utc(2026, 1, 1, 0, 20), null).NextAfter(anchor));
    }

    [Fact]
    public void An_interval_must_be_positive()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ScheduleTiming.Every(TimeSpan.Zero, Utc(2026, 1, 1), null, null));
        Assert.Throws<ArgumentOutOfRangeException>(() => ScheduleTiming.Every(TimeSpan.FromSeconds(-1), Utc(2026, 1, 1), null, null));
    }

    // What is refused.

    [Theory]
    [InlineData("61 * * * *")]
    [InlineData("* * * *")]
    [InlineData("* * * * * * *")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("*/0 * * * *")]
    [InlineData("0 0 * * 8")]
    [InlineData("0 0 * * MON#6")]
    [InlineData("@reboot")]
    [InlineData("@daily now")]
    [InlineData("a b c d e")]
    [InlineData("0 0 30 2 *")]
    [InlineData("0 0 31 4 *")]
    [InlineData("0 0 0 30 2 *")]
    public void An_invalid_expression_is_refused_with_a_problem_naming_cron(string expression)
    {
        var problem = Refused(expression);

        Assert.StartsWith("cron ", problem);
    }

    [Fact]
    public void Refusals_say_what_is_wrong()
    {
        Assert.Contains("'* * * *' has 4", Refused("* * * *"));
        Assert.Contains("1 to 200 characters", Refused(new string('1', 201)));
        Assert.Contains("Minutes", Refused("61 * * * *"));
        // 30 February parses but matches no date: stored, it would never fire.
        Assert.Contains("never fires", Refused("0 0 30 2 *"));
        // A rare date is not a missing one: 29 February that is a Monday comes every 28 years or so.
        Assert.Equal(Utc(2044, 2, 29), Cron("0 0 29 2 1").NextAfter(Utc(2026, 1, 1)));
    }

    [Theory]
    [InlineData("Nowhere/City")]
    [InlineData("")]
    [InlineData("Europe/../UTC")]
    [InlineData("/usr/share/zoneinfo/UTC")]
    [InlineData("Local")]
    [InlineData("localtime")]
    [InlineData("posixrules")]
    [InlineData("Europe/Berlin ")]
    [InlineData("W. Europe Standard Time")]
    [InlineData("Eastern Standard Time")]
    [InlineData("Pacific Standard Time")]
    [InlineData("China Standard Time")]
    public void An_unknown_non_IANA_or_host_dependent_zone_is_refused_with_a_problem_naming_time_zone(string zone)
    {
        Assert.Null(ScheduleTiming.FindZone(zone, out var problem));
        Assert.StartsWith("time_zone ", problem);

        // The zone is checked first, so the problem names it even when the expression is fine.
        Assert.StartsWith("time_zone ", Refused("0 9 * * *", zone));
        var definition = new ScheduleDefinition("x", Guid.NewGuid()) { IntervalSeconds = 60, TimeZone = zone };
        Assert.Null(definition.Timing(Utc(2026, 1, 1), out var intervalProblem));
        Assert.StartsWith("time_zone ", intervalProblem);
    }

    [Fact]
    public void A_zone_name_longer_than_64_characters_is_refused()
    {
        Assert.Null(ScheduleTiming.FindZone(new string('A', 65), out var problem));
        Assert.StartsWith("time_zone ", problem);
    }

    [Theory]
    [InlineData("UTC")]
    [InlineData("Europe/Berlin")]
    [InlineData("America/New_York")]
    [InlineData("Asia/Kolkata")]
    [InlineData("Australia/Lord_Howe")]
    [InlineData("Etc/GMT+5")]
    [InlineData("US/Eastern")]
    public void An_IANA_zone_is_accepted(string zone)
    {
        var found = ScheduleTiming.FindZone(zone, out var problem);

        Assert.Null(problem);
        Assert.NotNull(found);
        Assert.True(found.HasIanaId);
    }

    // The shortest gap the operator's minimum interval is checked against.

    [Fact]
    public void The_shortest_gap_is_the_closest_pair_of_due_times_in_the_sample()
    {
        Assert.Equal(TimeSpan.FromMinutes(15), Cron("*/15 * * * *").ShortestGap(Utc(2026, 1, 1)));
        Assert.Equal(TimeSpan.FromDays(1), Cron("0 9 * * MON-FRI").ShortestGap(Utc(2026, 1, 5)));
        Assert.Equal(TimeSpan.FromMinutes(1), Cron("0,1 9 * * *").ShortestGap(Utc(2026, 1, 1)));
        Assert.Equal(TimeSpan.FromDays(365), Cron("0 0 1 1 *").ShortestGap(Utc(2026, 1, 1)));
        Assert.Equal(TimeSpan.FromDays(4 * 365 + 1), Cron("0 0 29 2 *").ShortestGap(Utc(2026, 1, 1)));
        Assert.Equal(TimeSpan.FromHours(2), ScheduleTiming.Every(TimeSpan.FromHours(2), Utc(2026, 1, 1), null, null).ShortestGap(Utc(2030, 1, 1)));
    }

    [Fact]
    public void The_shortest_gap_sees_what_daylight_saving_does_within_the_sample()
    {
        var hourly = Cron("30 * * * *", "Europe/Berlin");

        // Sampled away from the spring night, every gap is an hour; sampled across it, the missing
        // 02:30 fires at 03:00, half an hour before 03:30.
        Assert.Equal(TimeSpan.FromHours(1), hourly.ShortestGap(Utc(2026, 6, 1)));
        Assert.Equal(TimeSpan.FromMinutes(30), hourly.ShortestGap(Utc(2026, 3, 28, 12)));

        // A daily time is 23 or 25 real hours apart across the nights, never less.
        Assert.Equal(TimeSpan.FromHours(23), Cron("0 12 * * *", "Europe/Berlin").ShortestGap(Utc(2026, 3, 20)));
        Assert.Equal(TimeSpan.FromHours(24), Cron("0 12 * * *", "Europe/Berlin").ShortestGap(Utc(2026, 10, 20)));
    }
}

using Cronos;

namespace Jobplane.Store.Schedules;

/// <summary>
/// When a schedule comes due: a cron expression evaluated in an IANA time zone (by Cronos, which
/// knows daylight saving), or a fixed interval counted from an anchor, both bounded by an optional
/// start and end. Pure and deterministic: every controller computes the same due times from the
/// same row, and the caller supplies "now" (the database clock), never this class.
/// </summary>
/// <remarks>
/// Daylight saving, as Cronos defines it and the README documents: a wall-clock time that does not
/// exist on the night clocks jump forward (02:30 in Europe/Berlin on the last Sunday of March) fires
/// once, at the first instant after the gap (03:00 local); a wall-clock time that happens twice on
/// the night clocks fall back (01:30 in America/New_York on the first Sunday of November) fires once,
/// at its first occurrence, unless the expression fires every hour (or more often), in which case it
/// fires in both hours, so an hourly job runs every real hour.
/// </remarks>
public sealed class ScheduleTiming
{
    /// <summary>The longest cron expression accepted.</summary>
    public const int MaxCronChars = 200;

    private static readonly DateTime NeverFiresCheckFrom = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private readonly CronExpression? _cron;
    private readonly TimeSpan _interval;
    private readonly DateTimeOffset _anchor;

    private ScheduleTiming(CronExpression? cron, TimeSpan interval, DateTimeOffset anchor, TimeZoneInfo zone,
        DateTimeOffset? startsAt, DateTimeOffset? endsAt)
    {
        _cron = cron;
        _interval = interval;
        _anchor = anchor;
        Zone = zone;
        StartsAt = startsAt;
        EndsAt = endsAt;
    }

    public TimeZoneInfo Zone { get; }
    public DateTimeOffset? StartsAt { get; }
    public DateTimeOffset? EndsAt { get; }
    public bool IsCron => _cron is not null;

    /// <summary>
    /// A cron timing: five fields (minute precision) or six (a leading seconds field), or one of
    /// the macros @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every_minute,
    /// @every_second. Null with a problem naming what is wrong.
    /// </summary>
    public static ScheduleTiming? Cron(string expression, string timeZone, DateTimeOffset? startsAt, DateTimeOffset? endsAt, out string? problem)
    {
        var zone = FindZone(timeZone, out problem);
        if (zone is null) return null;
        var text = expression.Trim();
        if (text.Length == 0 || text.Length > MaxCronChars)
        {
            problem = $"cron must be 1 to {MaxCronChars} characters";
            return null;
        }
        // Fields are separated by any white space, as Cronos reads them (a tab between fields is valid).
        var fields = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
        var format = text.StartsWith('@') ? (text.Equals("@every_second", StringComparison.OrdinalIgnoreCase) ? CronFormat.IncludeSeconds : CronFormat.Standard)
            : fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard;
        if (!text.StartsWith('@') && fields is not (5 or 6))
        {
            problem = $"cron must have five fields (minute hour day-of-month month day-of-week) or six (with a leading seconds field); '{text}' has {fields}";
            return null;
        }
        try
        {
            var cron = CronExpression.Parse(text, format);
            // A valid expression may still name no date at all (30 February, 31 April): it would be
            // stored and never fire. Any date the calendar has comes again within 400 years, and
            // Cronos searches further than that from 2000, so finding none means never.
            if (cron.GetNextOccurrence(NeverFiresCheckFrom) is null)
            {
                problem = $"cron '{text}' never fires: no date matches its day-of-month, month and day-of-week fields";
                return null;
            }
            return new ScheduleTiming(cron, TimeSpan.Zero, default, zone, startsAt, endsAt);
        }
        catch (CronFormatException e)
        {
            problem = $"cron '{text}' is not a valid expression: {e.Message}";
            return null;
        }
    }

    /// <summary>
    /// A fixed interval: due at <paramref name="anchor"/> + k x interval (k ≥ 1 when the anchor is the
    /// schedule's creation, k ≥ 0 when it is its start). Elapsed time, so daylight saving never moves it.
    /// </summary>
    public static ScheduleTiming Every(TimeSpan interval, DateTimeOffset anchor, DateTimeOffset? startsAt, DateTimeOffset? endsAt)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        return new ScheduleTiming(null, interval, anchor, TimeZoneInfo.Utc, startsAt, endsAt);
    }

    /// <summary>An IANA zone known to this machine's time zone database; null with a problem otherwise.</summary>
    public static TimeZoneInfo? FindZone(string timeZone, out string? problem)
    {
        problem = null;
        // Windows names would resolve too on this platform; the API speaks IANA names only. The
        // database directory also holds 'localtime' (the host's own zone) and 'posixrules' (the
        // rules the tz build chose for POSIX strings): names whose meaning depends on how each
        // machine was set up, so controllers could disagree on a schedule's due times.
        if (timeZone.Length is > 0 and <= 64 && timeZone is not ("localtime" or "posixrules")
            && TimeZoneInfo.TryFindSystemTimeZoneById(timeZone, out var zone) && zone.HasIanaId)
            return zone;
        problem = $"time_zone must be an IANA time zone name such as UTC, Europe/Berlin or America/New_York (got '{timeZone}')";
        return null;
    }

    /// <summary>The first due time strictly after <paramref name="after"/>; null when the schedule has ended by then.</summary>
    public DateTimeOffset? NextAfter(DateTimeOffset after)
    {
        DateTimeOffset? next;
        if (_cron is not null)
        {
            next = StartsAt is { } s && s > after
                ? _cron.GetNextOccurrence(s, Zone, inclusive: true)
                : _cron.GetNextOccurrence(after, Zone, inclusive: false);
        }
        else
        {
            // The grid anchor + k x interval; k is found by division, so a long gap costs nothing.
            var k = after < _anchor ? 0 : (after - _anchor).Ticks / _interval.Ticks + 1;
            next = _anchor + TimeSpan.FromTicks(_interval.Ticks * k);
            if (StartsAt is { } s && next < s)
            {
                var j = (s - _anchor).Ticks / _interval.Ticks;
                next = _anchor + TimeSpan.FromTicks(_interval.Ticks * j);
                if (next < s) next += _interval;
            }
        }
        return next is { } n && (EndsAt is not { } e || n <= e) ? n : null;
    }

    /// <summary>
    /// Due times from <paramref name="from"/> (inclusive) up to <paramref name="to"/> (inclusive),
    /// in order, at most <paramref name="limit"/> of them; <paramref name="truncated"/> tells whether more followed.
    /// </summary>
    public List<DateTimeOffset> Between(DateTimeOffset from, DateTimeOffset to, int limit, out bool truncated)
    {
        var list = new List<DateTimeOffset>();
        truncated = false;
        var next = NextAfter(from - TimeSpan.FromTicks(1));
        while (next is { } n && n <= to)
        {
            if (list.Count == limit)
            {
                truncated = true;
                break;
            }
            list.Add(n);
            next = NextAfter(n);
        }
        return list;
    }

    /// <summary>
    /// The next <paramref name="count"/> due times at or after <paramref name="from"/>: what a user is
    /// shown so they can see what they wrote.
    /// </summary>
    public List<DateTimeOffset> Upcoming(DateTimeOffset from, int count)
    {
        var list = new List<DateTimeOffset>(count);
        var next = NextAfter(from - TimeSpan.FromTicks(1));
        while (next is { } n && list.Count < count)
        {
            list.Add(n);
            next = NextAfter(n);
        }
        return list;
    }

    /// <summary>
    /// The shortest gap between consecutive due times among the next <paramref name="sample"/>
    /// after <paramref name="from"/>: what the operator's minimum interval is checked against.
    /// </summary>
    public TimeSpan? ShortestGap(DateTimeOffset from, int sample = 100)
    {
        if (_cron is null) return _interval;
        TimeSpan? shortest = null;
        var previous = NextAfter(from);
        for (var i = 0; i < sample && previous is { } p; i++)
        {
            var next = NextAfter(p);
            if (next is not { } n) break;
            if (shortest is null || n - p < shortest) shortest = n - p;
            previous = n;
        }
        return shortest;
    }
}

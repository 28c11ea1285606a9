using System.CommandLine;
using System.Globalization;
using Jobplane.Api;
using Jobplane.Cli.Output;

namespace Jobplane.Cli.Commands;

/// <summary>
/// `schedules create|list|get|update|pause|resume|trigger|delete|history`: recurring runs of a job,
/// by cron expression (read in the schedule's time zone) or by a fixed interval.
/// </summary>
internal static class ScheduleCommands
{
    private static readonly string[] MisfireWords = ["skip", "fire_once", "catch_up"];
    private static readonly string[] OverlapWords = ["allow", "skip", "queue", "cancel"];

    /// <summary>The controller keeps the Idempotency-Key of a fired run within 255 characters with a due time appended.</summary>
    private const int MaxIdempotencyPrefix = 200;

    /// <summary>How many fire times the controller shows; said in the help, counted by the controller.</summary>
    private const int FireTimesShown = 5;

    /// <summary>The flags of a schedule's definition, shared by create and update so they cannot drift apart.</summary>
    private sealed class DefinitionOptions(bool update)
    {
        public Option<string?> Name { get; } = new("--name", "-n")
        {
            Description = update ? "New schedule name" : "Schedule name (unique within the tenant)",
            HelpName = "NAME",
            Required = !update,
        };

        public Option<Guid?> JobId { get; } = CliOptions.IdOption("--job-id", "The job to run, by id (or --job NAME)");

        public Option<string?> Job { get; } = new("--job")
        {
            Description = "The job to run, by its name (or --job-id ID)",
            HelpName = "NAME",
        };

        public Option<string?> Cron { get; } = new("--cron")
        {
            Description = "When to run: a cron expression read in --time-zone, five fields (minute hour day month weekday), "
                + "six with leading seconds, or @yearly/@monthly/@weekly/@daily/@hourly (or --every)"
                + (update ? "; replaces an interval" : ""),
            HelpName = "EXPR",
        };

        public Option<int?> Every { get; } = CliOptions.Parsed<int?>("--every", "DURATION",
            "When to run: every this long, in whole seconds, e.g. 90s, 5m, 1h, 1h30m (or --cron)" + (update ? "; replaces a cron expression" : ""),
            ParseEvery);

        public Option<string?> TimeZone { get; } = new("--time-zone")
        {
            Description = "IANA time zone the cron expression is read in, e.g. Europe/Berlin" + (update ? "" : " [default: UTC]"),
            HelpName = "ZONE",
        };

        public Option<DateTimeOffset?> StartsAt { get; } = Timestamp("--starts-at", "Nothing is due before this time, RFC3339 with offset");

        public Option<DateTimeOffset?> EndsAt { get; } = Timestamp("--ends-at", "Nothing is due after this time, RFC3339 with offset");

        public Option<string?> Misfire { get; } = Word("--misfire",
            "What due times missed while the controller was down or the schedule paused do: skip them, fire_once for all of them, "
            + "or catch_up one run each (at most --catch-up-max)" + (update ? "" : " [default: fire_once]"), MisfireWords);

        public Option<int?> CatchUpMax { get; } = CliOptions.Int("--catch-up-max",
            "With --misfire catch_up: the most missed due times run after one outage (1..1000)" + (update ? "" : " [default: 1]"), 1);

        public Option<string?> Overlap { get; } = Word("--overlap",
            "When a run is due while the previous one still runs: allow both, skip the new one, queue it until the previous ends, "
            + "or cancel the previous" + (update ? "" : " [default: allow]"), OverlapWords);

        public Option<Priority?> Priority { get; } = CliOptions.Priority("Priority of each run" + (update ? "" : " [default: the job's]"));

        public Option<int?> Timeout { get; } = CliOptions.Int("--timeout",
            "Timeout of each run's attempts, in seconds" + (update ? "" : " [default: the job's]"), 1);

        public Option<string?> IdempotencyKeyPrefix { get; } = CliOptions.Parsed<string?>("--idempotency-key-prefix", "PREFIX",
            $"Each run gets the Idempotency-Key PREFIX + its due time (RFC3339, UTC); 1..{MaxIdempotencyPrefix} printable ASCII characters",
            text => PrefixProblem(text) is { } problem ? CliOptions.Refuse($"--idempotency-key-prefix {problem}") : text);

        /// <summary>Create: start paused. Update: refused (the controller changes it only through pause and resume).</summary>
        public Option<bool> Paused { get; } = new("--paused")
        {
            Description = "Create the schedule paused: nothing fires until jobctl schedules resume",
            Hidden = update,
        };

        public void AddTo(Command command)
        {
            command.Options.Add(Name);
            command.Options.Add(JobId);
            command.Options.Add(Job);
            command.Options.Add(Cron);
            command.Options.Add(Every);
            command.Options.Add(TimeZone);
            command.Options.Add(StartsAt);
            command.Options.Add(EndsAt);
            command.Options.Add(Misfire);
            command.Options.Add(CatchUpMax);
            command.Options.Add(Overlap);
            command.Options.Add(Priority);
            command.Options.Add(Timeout);
            command.Options.Add(IdempotencyKeyPrefix);
            command.Options.Add(Paused);
            command.Validators.Add(result =>
            {
                var hasJobId = result.GetResult(JobId) is not null;
                var hasJob = result.GetResult(Job) is not null;
                var hasCron = result.GetResult(Cron) is not null;
                var hasEvery = result.GetResult(Every) is not null;
                if (hasJobId && hasJob)
                    result.AddError("give --job-id or --job, not both");
                else if (!update && !hasJobId && !hasJob)
                    result.AddError("which job? give --job-id ID or --job NAME");
                if (hasCron && hasEvery)
                    result.AddError("give --cron or --every, not both");
                else if (!update && !hasCron && !hasEvery)
                    result.AddError("when? give --cron EXPR or --every DURATION");
                if (update && CliOptions.ValidValue(result, Paused))
                    result.AddError("--paused is not changed by update: use jobctl schedules pause ID or jobctl schedules resume ID");
                if (CliOptions.ValidValue(result, StartsAt) is { } s && CliOptions.ValidValue(result, EndsAt) is { } e && e <= s)
                    result.AddError($"--ends-at ({Display.Time(e)}) must be after --starts-at ({Display.Time(s)})");
            });
        }

        public ScheduleRequest Read(ParseResult parseResult) => new()
        {
            Name = parseResult.GetValue(Name),
            JobId = parseResult.GetValue(JobId),
            Job = parseResult.GetValue(Job),
            Cron = parseResult.GetValue(Cron),
            IntervalSeconds = parseResult.GetValue(Every),
            TimeZone = parseResult.GetValue(TimeZone),
            StartsAt = parseResult.GetValue(StartsAt),
            EndsAt = parseResult.GetValue(EndsAt),
            Misfire = parseResult.GetValue(Misfire),
            CatchUpMax = parseResult.GetValue(CatchUpMax),
            Overlap = parseResult.GetValue(Overlap),
            Priority = parseResult.GetValue(Priority),
            Timeout = parseResult.GetValue(Timeout),
            IdempotencyKeyPrefix = parseResult.GetValue(IdempotencyKeyPrefix),
            // Not given is left out, so that the request is what the controller's default means.
            Paused = parseResult.GetValue(Paused) ? true : null,
        };
    }

    public static Command Create(JobctlRuntime runtime)
    {
        var schedules = new Command("schedules", "Run a job on a recurring schedule (cron in a time zone, or a fixed interval): "
            + "create, list, show, change, pause, resume, trigger and delete schedules, and read what they fired");
        schedules.Subcommands.Add(CreateSchedule(runtime));
        schedules.Subcommands.Add(List(runtime));
        schedules.Subcommands.Add(Get(runtime));
        schedules.Subcommands.Add(Update(runtime));
        schedules.Subcommands.Add(SetPaused(runtime, pause: true));
        schedules.Subcommands.Add(SetPaused(runtime, pause: false));
        schedules.Subcommands.Add(Trigger(runtime));
        schedules.Subcommands.Add(Delete(runtime));
        schedules.Subcommands.Add(History(runtime));
        return schedules;
    }

    private static Argument<Guid> ScheduleArgument(string description) => CliOptions.Id("SCHEDULE_ID", description);

    private static Command CreateSchedule(JobctlRuntime runtime)
    {
        var definition = new DefinitionOptions(update: false);
        var command = new Command("create", "Create a schedule: --name, the job (--job-id or --job) and when (--cron or --every); "
            + $"prints the schedule with its next {FireTimesShown} fire times, in UTC and in its time zone");
        definition.AddTo(command);
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var created = await context.Api.CreateScheduleAsync(definition.Read(parseResult), ct);
            return context.Write(created, (o, x) => Write(o, x, context.Color));
        }));
        return command;
    }

    private static Command List(JobctlRuntime runtime)
    {
        var limit = CliOptions.Int("--limit", "Entries per page", 1, "-l");
        var cursor = CliOptions.Cursor();
        var command = new Command("list", "List the tenant's schedules, newest first: id, name, job, timing, zone, state and next due time; "
            + "when there are more, prints the command for the next page on stderr") { limit, cursor };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var schedules = await context.Api.ListSchedulesAsync(parseResult.GetValue(limit), parseResult.GetValue(cursor), ct);
            return context.Write(schedules, (o, x) =>
            {
                var table = new TableWriter("ID", "NAME", "JOB", "TIMING", "ZONE", "STATE", "NEXT_DUE");
                foreach (var schedule in x.Schedules)
                {
                    table.AddRow(
                        schedule.Id.ToString(),
                        schedule.Name,
                        schedule.JobName,
                        Timing(schedule),
                        schedule.TimeZone,
                        schedule.State,
                        Display.Time(schedule.NextDueAt));
                }
                table.WriteTo(o, context.Color);
                CliOptions.MoreNote(context, x.NextCursor, "schedules list", ("--limit", parseResult.GetValue(limit)));
            });
        }));
        return command;
    }

    private static Command Get(JobctlRuntime runtime)
    {
        var scheduleId = ScheduleArgument("The schedule to show");
        var command = new Command("get", $"Show a schedule: its job, timing, policies, state and next {FireTimesShown} fire times "
            + "(in UTC and in its time zone)") { scheduleId };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var schedule = await context.Api.GetScheduleAsync(parseResult.GetValue(scheduleId), ct);
            return context.Write(schedule, (o, x) => Write(o, x, context.Color));
        }));
        return command;
    }

    private static Command Update(JobctlRuntime runtime)
    {
        var scheduleId = ScheduleArgument("The schedule to change");
        var definition = new DefinitionOptions(update: true);
        var command = new Command("update", "Change a schedule; only the given fields change. A new timing starts afresh from now "
            + "(nothing it would have fired earlier counts as missed). Prints the schedule with its next fire times") { scheduleId };
        definition.AddTo(command);
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var request = definition.Read(parseResult);
            if (request == new ScheduleRequest())
                throw new UsageException("nothing to update: give at least one of --name, --job-id, --job, --cron, --every, --time-zone, "
                    + "--starts-at, --ends-at, --misfire, --catch-up-max, --overlap, --priority, --timeout, --idempotency-key-prefix");
            var updated = await context.Api.UpdateScheduleAsync(parseResult.GetValue(scheduleId), request, ct);
            return context.Write(updated, (o, x) => Write(o, x, context.Color));
        }));
        return command;
    }

    private static Command SetPaused(JobctlRuntime runtime, bool pause)
    {
        var scheduleId = ScheduleArgument(pause ? "The schedule to pause" : "The schedule to resume");
        var command = pause
            ? new Command("pause", "Pause a schedule: nothing fires after this answer (a firing in progress finishes first); "
                + "prints the schedule") { scheduleId }
            : new Command("resume", "Resume a paused schedule; due times that passed while it was paused are missed, and its --misfire "
                + "policy decides what they do. Prints the schedule with its next fire times") { scheduleId };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var schedule = await context.Api.SetSchedulePausedAsync(parseResult.GetValue(scheduleId), pause, ct);
            return context.Write(schedule, (o, x) => Write(o, x, context.Color));
        }));
        return command;
    }

    private static Command Trigger(JobctlRuntime runtime)
    {
        var scheduleId = ScheduleArgument("The schedule whose job to run");
        var command = new Command("trigger", "Run a schedule's job now with the schedule's run options, paused or not, without moving "
            + "its next due time; recorded in its history as a manual fire. Prints the execution id") { scheduleId };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var fired = await context.Api.TriggerScheduleAsync(parseResult.GetValue(scheduleId), ct);
            return context.Write(fired, (o, x) => o.WriteLine(x.ExecutionId));
        }));
        return command;
    }

    private static Command Delete(JobctlRuntime runtime)
    {
        var scheduleId = ScheduleArgument("The schedule to delete");
        var command = new Command("delete", "Delete a schedule and its history; the executions it fired stay") { scheduleId };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var id = parseResult.GetValue(scheduleId);
            await context.Api.DeleteScheduleAsync(id, ct);
            // 204 has no body to print: confirm on stderr so stdout stays empty for scripts.
            if (!context.Json)
                context.Err.WriteLine($"schedule {id} deleted");
            return JobctlRuntime.Ok;
        }));
        return command;
    }

    private static Command History(JobctlRuntime runtime)
    {
        var scheduleId = ScheduleArgument("The schedule whose history to show");
        var limit = CliOptions.Int("--limit", "Entries per page", 1, "-l");
        var beforeId = CliOptions.Long("--before-id", "Only entries older than this one (for the next page)", 1);
        var command = new Command("history", "What a schedule did, newest first: each due time fired, skipped (with the reason) or queued, "
            + "and each manual trigger, with the execution and its status now; "
            + "when there are more, prints the command for the next page on stderr") { scheduleId, limit, beforeId };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var id = parseResult.GetValue(scheduleId);
            var page = await context.Api.GetScheduleHistoryAsync(id, parseResult.GetValue(limit), parseResult.GetValue(beforeId), ct);
            return context.Write(page, (o, x) =>
            {
                var table = new TableWriter("DUE_AT", "TRIGGER", "OUTCOME", "EXECUTION", "STATUS", "LATENESS", "MISSED", "REASON");
                foreach (var fire in x.Fires)
                {
                    table.AddRow(
                        Display.Time(fire.DueAt),
                        fire.Trigger,
                        fire.Outcome,
                        fire.ExecutionId?.ToString(),
                        fire.ExecutionStatus,
                        fire.LatenessMs is { } ms ? Lateness(ms) : null,
                        fire.Missed.ToString(CultureInfo.InvariantCulture),
                        // The last column, so it may be long: the controller's reasons name the run or the due times they mean.
                        Display.Truncate(fire.Reason, 200));
                }
                table.WriteTo(o, context.Color);
                if (x.NextBeforeId is { } next)
                {
                    var same = parseResult.GetValue(limit) is { } l ? $" --limit {l}" : "";
                    context.Err.WriteLine($"note: more entries: jobctl schedules history {id} --before-id {next}{same}");
                }
            });
        }));
        return command;
    }

    /// <summary>A schedule as key: value lines, then its next fire times in UTC and in its own zone.</summary>
    internal static void Write(TextWriter writer, ScheduleView schedule, bool color = false)
    {
        var fields = new List<(string Key, string Value)>
        {
            ("id", schedule.Id.ToString()),
            ("name", schedule.Name),
            ("job_id", schedule.JobId.ToString()),
            ("job_name", schedule.JobName),
            ("timing", Timing(schedule)),
            ("time_zone", schedule.TimeZone),
        };
        if (schedule.StartsAt is { } startsAt) fields.Add(("starts_at", Display.Time(startsAt)));
        if (schedule.EndsAt is { } endsAt) fields.Add(("ends_at", Display.Time(endsAt)));
        fields.Add(("misfire", schedule.Misfire == "catch_up"
            ? string.Create(CultureInfo.InvariantCulture, $"catch_up (at most {schedule.CatchUpMax})")
            : schedule.Misfire));
        fields.Add(("overlap", schedule.Overlap));
        fields.Add(("priority", schedule.Priority?.ToString() ?? "the job's"));
        fields.Add(("timeout", schedule.Timeout is { } timeout ? timeout.ToString(CultureInfo.InvariantCulture) + "s" : "the job's"));
        if (schedule.IdempotencyKeyPrefix is { } prefix) fields.Add(("idempotency_key_prefix", prefix));
        fields.Add(("state", schedule.State));
        if (schedule.PausedAt is { } pausedAt) fields.Add(("paused_at", Display.Time(pausedAt)));
        fields.Add(("next_due_at", Display.Time(schedule.NextDueAt)));
        // Only with overlap queue, and only while a due time waits for the previous run.
        if (schedule.QueuedDueAt is { } queuedDueAt) fields.Add(("queued_due_at", Display.Time(queuedDueAt)));
        fields.AddRange(
        [
            ("last_due_at", Display.Time(schedule.LastDueAt)),
            ("last_execution_id", schedule.LastExecutionId?.ToString() ?? "-"),
            ("created_at", Display.Time(schedule.CreatedAt)),
            ("updated_at", Display.Time(schedule.UpdatedAt)),
        ]);
        Display.Fields(writer, fields);

        writer.WriteLine();
        if (schedule.NextFireTimes.Count == 0)
        {
            writer.WriteLine("next_fire_times: none (the schedule has ended)");
            return;
        }
        // A schedule in UTC needs no second column saying the same.
        var utcOnly = schedule.TimeZone == "UTC";
        // A paused schedule keeps its due times; say that they wait for a resume rather than let them read as promises.
        var paused = schedule.State == "paused" ? "; paused: nothing fires until it is resumed" : "";
        writer.WriteLine(utcOnly ? $"next_fire_times (UTC{paused}):" : $"next_fire_times (UTC and {schedule.TimeZone}{paused}):");
        var zone = TimeZoneInfo.TryFindSystemTimeZoneById(schedule.TimeZone, out var found) ? found : null;
        var table = utcOnly ? new TableWriter("UTC") : new TableWriter("UTC", "LOCAL");
        foreach (var at in schedule.NextFireTimes)
        {
            var utc = Display.Time(at.ToUniversalTime());
            if (utcOnly) table.AddRow(utc);
            // A zone this machine does not know (an older time zone database) leaves the column empty, not wrong.
            else table.AddRow(utc, zone is null ? null : Display.Time(TimeZoneInfo.ConvertTime(at, zone)));
        }
        table.WriteTo(writer, color);
    }

    /// <summary>The cron expression as written, or "every 90s" / "every 5m" / "every 2h" for an interval.</summary>
    internal static string Timing(ScheduleView schedule) =>
        schedule.Cron ?? (schedule.IntervalSeconds is { } seconds ? "every " + Interval(seconds) : "-");

    /// <summary>Whole seconds in the largest unit that divides them, so that the text reads back through --every unchanged.</summary>
    internal static string Interval(int seconds) => seconds switch
    {
        > 0 when seconds % 3600 == 0 => string.Create(CultureInfo.InvariantCulture, $"{seconds / 3600}h"),
        > 0 when seconds % 60 == 0 => string.Create(CultureInfo.InvariantCulture, $"{seconds / 60}m"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{seconds}s"),
    };

    private static string Lateness(double milliseconds) =>
        milliseconds < 1000
            ? milliseconds.ToString("0.###", CultureInfo.InvariantCulture) + "ms"
            : (milliseconds / 1000).ToString("0.###", CultureInfo.InvariantCulture) + "s";

    /// <summary>--every: a duration (90s, 5m, 1h30m, or a number of seconds) of whole seconds, at least one.</summary>
    internal static Parse<int?> ParseEvery(string text)
    {
        if (!Durations.TryParse(text, out var interval))
            return CliOptions.Refuse($"--every must be a duration such as 90s, 5m, 1h or 1h30m (got '{text}')");
        if (interval.Ticks % TimeSpan.TicksPerSecond != 0)
            return CliOptions.Refuse($"--every must be a whole number of seconds (got '{text}')");
        if (interval < TimeSpan.FromSeconds(1))
            return CliOptions.Refuse($"--every must be at least 1s (got '{text}')");
        if (interval.TotalSeconds > int.MaxValue)
            return CliOptions.Refuse($"--every is too long (got '{text}')");
        return (int)interval.TotalSeconds;
    }

    private static Option<DateTimeOffset?> Timestamp(string name, string description) =>
        CliOptions.Parsed<DateTimeOffset?>(name, "RFC3339", description + " (e.g. 2030-01-02T15:04:05Z)",
            text => CliOptions.TryParseRfc3339(text, out var value)
                ? value
                : CliOptions.Refuse($"{name}: '{text}' is not an RFC3339 timestamp with offset (e.g. 2030-01-02T15:04:05Z)"));

    private static Option<string?> Word(string name, string description, string[] words) =>
        CliOptions.Parsed<string?>(name, string.Join('|', words), description,
            text => words.Contains(text, StringComparer.Ordinal)
                ? text
                : CliOptions.Refuse($"{name} must be one of {string.Join(", ", words)} (got '{text}')"));

    private static string? PrefixProblem(string text)
    {
        if (text.Length == 0)
            return "must not be empty";
        if (text.Length > MaxIdempotencyPrefix)
            return string.Create(CultureInfo.InvariantCulture, $"must be at most {MaxIdempotencyPrefix} characters (got {text.Length})");
        if (text.Any(c => c is < ' ' or > '~'))
            return "must be printable ASCII";
        if (text[0] == ' ')
            return $"must not begin with a space (got '{text}')";
        return null;
    }
}

using System.CommandLine;
using System.Globalization;
using Jobplane.Api;
using Jobplane.Cli.Output;

namespace Jobplane.Cli.Commands;

/// <summary>
/// `webhooks create|list|get|update|delete|rotate-secret|test|deliveries|delivery|redeliver`: endpoints
/// the controller sends signed execution events to, their signing secrets, and their delivery log.
/// </summary>
internal static class WebhookCommands
{
    /// <summary>The controller's own bound on a rotation's overlap (30 days), checked here to name the flag.</summary>
    private const long MaxOverlapSeconds = 30L * 24 * 3600;

    /// <summary>
    /// Named in the help only. The controller checks event names and lists the ones it knows when it
    /// refuses one; checking here too would refuse an event type a newer controller has added.
    /// </summary>
    private const string EventTypes = "execution.started, execution.succeeded, execution.failed, execution.dead_lettered, "
        + "execution.cancelled, execution.retrying, schedule.fired, schedule.skipped";

    /// <summary>The flags of an endpoint's definition, shared by create and update so they cannot drift apart.</summary>
    private sealed class DefinitionOptions(bool update)
    {
        /// <summary>
        /// --endpoint-url, not --url: the global --url is the controller's address in every command, and
        /// `webhooks update ID --url http://controller` must not quietly repoint the endpoint.
        /// </summary>
        public Option<string?> Url { get; } = Endpoint(update);

        private static Option<string?> Endpoint(bool update)
        {
            var option = CliOptions.Parsed<string?>("--endpoint-url", "URL",
                (update ? "New endpoint URL" : "The endpoint deliveries are POSTed to")
                    + ": https (http only where the operator allows it), whose host is not a private, loopback or link-local address. "
                    + "(Not --url, which stays the controller's address, as in every command.)",
                ParseEndpoint);
            option.Required = !update;
            return option;
        }

        public Option<string[]> Events { get; } = new("--event")
        {
            Description = $"An event type to send; repeat for each ({EventTypes})" + (update ? "; replaces the list" : ""),
            HelpName = "EVENT",
            Required = !update,
        };

        public Option<Guid[]> JobIds { get; } = CliOptions.IdsOption("--job-id",
            "Only this job's executions, by id; repeat for each" + (update ? "; replaces the job id filter" : " [default: every job]"));

        public Option<string[]> Jobs { get; } = new("--job")
        {
            Description = "Only the executions of jobs with this name; repeat for each"
                + (update ? "; replaces the job name filter" : " [default: every job]"),
            HelpName = "NAME",
        };

        public Option<string?> Description { get; } = new("--description")
        {
            Description = update ? "New description" : "What the endpoint is for, shown in lists",
            HelpName = "TEXT",
        };

        public void AddTo(Command command)
        {
            command.Options.Add(Url);
            command.Options.Add(Events);
            command.Options.Add(JobIds);
            command.Options.Add(Jobs);
            command.Options.Add(Description);
        }

        /// <summary>Only what was given: an absent field is left out, so that create gets the defaults and update leaves it as it is.</summary>
        public WebhookRequest Read(ParseResult parseResult) => new()
        {
            Url = parseResult.GetValue(Url),
            Description = parseResult.GetValue(Description),
            Events = NullIfEmpty(parseResult.GetValue(Events)),
            JobIds = NullIfEmpty(parseResult.GetValue(JobIds)?.Distinct().ToArray()),
            JobNames = NullIfEmpty(parseResult.GetValue(Jobs)),
        };
    }

    public static Command Create(JobctlRuntime runtime)
    {
        var webhooks = new Command("webhooks", "Send signed execution events to your own HTTPS endpoints: create, list, show, change and delete "
            + "endpoints, rotate their signing secrets, send a test event, and read and redeliver what was sent");
        webhooks.Subcommands.Add(CreateWebhook(runtime));
        webhooks.Subcommands.Add(List(runtime));
        webhooks.Subcommands.Add(Get(runtime));
        webhooks.Subcommands.Add(Update(runtime));
        webhooks.Subcommands.Add(Delete(runtime));
        webhooks.Subcommands.Add(RotateSecret(runtime));
        webhooks.Subcommands.Add(Test(runtime));
        webhooks.Subcommands.Add(Deliveries(runtime));
        webhooks.Subcommands.Add(Delivery(runtime));
        webhooks.Subcommands.Add(Redeliver(runtime));
        return webhooks;
    }

    private static Argument<Guid> WebhookArgument(string description) => CliOptions.Id("WEBHOOK_ID", description);

    private static Argument<Guid> DeliveryArgument(string description) => CliOptions.Id("DELIVERY_ID", description);

    private static Command CreateWebhook(JobctlRuntime runtime)
    {
        var definition = new DefinitionOptions(update: false);
        var disabled = new Option<bool>("--disabled") { Description = "Create the endpoint disabled: nothing is sent until jobctl webhooks update ID --enable" };
        var command = new Command("create", "Create a webhook endpoint: --endpoint-url and one or more --event; prints it with its signing secret "
            + "(whsec_..., shown only this once)");
        definition.AddTo(command);
        command.Options.Add(disabled);
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var request = definition.Read(parseResult) with { Enabled = parseResult.GetValue(disabled) ? false : null };
            var created = await context.Api.CreateWebhookAsync(request, ct);
            return context.Write(created, (o, x) =>
            {
                Write(o, x);
                context.Err.WriteLine("note: the signing secret is shown only once; store it now (your receiver verifies each delivery's signature with it)");
            });
        }));
        return command;
    }

    private static Command List(JobctlRuntime runtime)
    {
        var command = new Command("list", "List the tenant's webhook endpoints, oldest first: id, URL, events, jobs, whether enabled, since when failing "
            + "and why disabled (never a secret)");
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var hooks = await context.Api.ListWebhooksAsync(ct);
            return context.Write(hooks, (o, x) =>
            {
                var table = new TableWriter("ID", "URL", "EVENTS", "JOBS", "ENABLED", "FAILING_SINCE", "DISABLED_REASON");
                foreach (var hook in x.Webhooks)
                {
                    table.AddRow(
                        hook.Id.ToString(),
                        hook.Url,
                        // No spaces inside a cell, so that awk and cut keep the columns.
                        string.Join(',', hook.Events),
                        Jobs(hook),
                        Bool(hook.Enabled),
                        Display.Time(hook.FailingSince),
                        // The last column, so it may be long.
                        Display.Truncate(hook.DisabledReason, 200));
                }
                table.WriteTo(o, context.Color);
            });
        }));
        return command;
    }

    private static Command Get(JobctlRuntime runtime)
    {
        var webhookId = WebhookArgument("The endpoint to show");
        var command = new Command("get", "Show a webhook endpoint: its URL, events, job filters, whether it is enabled (and why the platform "
            + "disabled it, if it did) and since when its deliveries have been failing") { webhookId };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var hook = await context.Api.GetWebhookAsync(parseResult.GetValue(webhookId), ct);
            return context.Write(hook, (o, x) => Write(o, x));
        }));
        return command;
    }

    private static Command Update(JobctlRuntime runtime)
    {
        var webhookId = WebhookArgument("The endpoint to change");
        var definition = new DefinitionOptions(update: true);
        var allJobs = new Option<bool>("--all-jobs") { Description = "Remove both job filters: every job's executions" };
        var enable = new Option<bool>("--enable")
        {
            Description = "Turn the endpoint on (also after the platform disabled it); its pending deliveries go out again",
        };
        var disable = new Option<bool>("--disable") { Description = "Turn the endpoint off: nothing is sent until --enable" };
        var command = new Command("update", "Change a webhook endpoint; only the given fields change. Prints the endpoint") { webhookId };
        definition.AddTo(command);
        command.Options.Add(allJobs);
        command.Options.Add(enable);
        command.Options.Add(disable);
        command.Validators.Add(result =>
        {
            if (CliOptions.ValidValue(result, enable) && CliOptions.ValidValue(result, disable))
                result.AddError("give --enable or --disable, not both");
            if (CliOptions.ValidValue(result, allJobs) && (result.GetResult(definition.JobIds) is not null || result.GetResult(definition.Jobs) is not null))
                result.AddError("--all-jobs removes the job filters: give it without --job and --job-id");
        });
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var request = definition.Read(parseResult);
            if (parseResult.GetValue(allJobs))
                // Empty lists, not absent ones: that is how the controller is told to drop a filter.
                request = request with { JobIds = [], JobNames = [] };
            if (parseResult.GetValue(enable)) request = request with { Enabled = true };
            if (parseResult.GetValue(disable)) request = request with { Enabled = false };
            if (request == new WebhookRequest())
                throw new UsageException("nothing to update: give at least one of --endpoint-url, --event, --job-id, --job, --all-jobs, --enable, --disable, --description");
            var updated = await context.Api.UpdateWebhookAsync(parseResult.GetValue(webhookId), request, ct);
            return context.Write(updated, (o, x) => Write(o, x));
        }));
        return command;
    }

    private static Command Delete(JobctlRuntime runtime)
    {
        var webhookId = WebhookArgument("The endpoint to delete");
        var command = new Command("delete", "Delete a webhook endpoint with its deliveries, sent or not: nothing more is sent to it") { webhookId };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var id = parseResult.GetValue(webhookId);
            await context.Api.DeleteWebhookAsync(id, ct);
            // 204 has no body to print: confirm on stderr so stdout stays empty for scripts.
            if (!context.Json)
                context.Err.WriteLine($"webhook {id} deleted");
            return JobctlRuntime.Ok;
        }));
        return command;
    }

    private static Command RotateSecret(JobctlRuntime runtime)
    {
        var webhookId = WebhookArgument("The endpoint whose signing secret to replace");
        var overlap = CliOptions.Parsed<int?>("--overlap", "DURATION",
            "How long the previous secret also signs each delivery, so that the receiver can switch over: e.g. 24h, 90m, 7d, or 0 "
            + "for not at all; at most 30d [default: the controller's WEBHOOK_SECRET_OVERLAP]", ParseOverlap);
        var command = new Command("rotate-secret", "Give a webhook endpoint a new signing secret; prints the endpoint with the new secret "
            + "(shown only this once) and until when the previous one also signs") { webhookId, overlap };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var rotated = await context.Api.RotateWebhookSecretAsync(parseResult.GetValue(webhookId), parseResult.GetValue(overlap), ct);
            return context.Write(rotated, (o, x) =>
            {
                Write(o, x);
                context.Err.WriteLine("note: the new signing secret is shown only once; store it now "
                    + (x.PreviousSecretExpiresAt is { } until
                        ? $"(deliveries carry a signature with the previous secret too until {Display.Time(until)})"
                        : "(the previous secret signs nothing more)"));
            });
        }));
        return command;
    }

    private static Command Test(JobctlRuntime runtime)
    {
        var webhookId = WebhookArgument("The endpoint to send a test event to");
        var command = new Command("test", "Send a signed webhook.test event to an enabled endpoint, as every delivery is sent; "
            + "prints the delivery id (see it in jobctl webhooks deliveries)") { webhookId };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var id = parseResult.GetValue(webhookId);
            var sent = await context.Api.TestWebhookAsync(id, ct);
            return context.Write(sent, (o, x) =>
            {
                o.WriteLine(x.DeliveryId);
                // The 202 means queued, not delivered: say where the outcome will show.
                context.Err.WriteLine($"note: queued; see how it went with: jobctl webhooks delivery {id} {x.DeliveryId}");
            });
        }));
        return command;
    }

    private static Command Deliveries(JobctlRuntime runtime)
    {
        var webhookId = WebhookArgument("The endpoint whose deliveries to list");
        var limit = CliOptions.Int("--limit", "Entries per page [default: 50]", 1, "-l");
        var before = CliOptions.IdOption("--before", "Only deliveries older than this one (for the next page)");
        var command = new Command("deliveries", "What was sent to an endpoint, newest first: each delivery's event, state (pending, delivered, "
            + "failed), attempts, last answer and next attempt; when there are more, prints the command for the next page on stderr")
        {
            webhookId, limit, before,
        };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var id = parseResult.GetValue(webhookId);
            var page = await context.Api.ListWebhookDeliveriesAsync(id, parseResult.GetValue(limit), parseResult.GetValue(before), ct);
            return context.Write(page, (o, x) =>
            {
                var table = new TableWriter("ID", "EVENT", "STATE", "ATTEMPTS", "LAST_STATUS", "CREATED_AT", "NEXT_ATTEMPT_AT", "LAST_ERROR");
                foreach (var delivery in x.Deliveries)
                {
                    table.AddRow(
                        delivery.Id.ToString(),
                        delivery.EventType,
                        delivery.State,
                        delivery.Attempts.ToString(CultureInfo.InvariantCulture),
                        Display.Number(delivery.LastStatus),
                        Display.Time(delivery.CreatedAt),
                        Display.Time(delivery.NextAttemptAt),
                        // The last column, so it may be long: the error says what the receiver or the network did.
                        Display.Truncate(delivery.LastError, 200));
                }
                table.WriteTo(o, context.Color);
                if (x.NextBefore is { } next)
                {
                    var same = parseResult.GetValue(limit) is { } l ? $" --limit {l}" : "";
                    context.Err.WriteLine($"note: more entries: jobctl webhooks deliveries {id} --before {next}{same}");
                }
            });
        }));
        return command;
    }

    private static Command Delivery(JobctlRuntime runtime)
    {
        var webhookId = WebhookArgument("The endpoint the delivery was sent to");
        var deliveryId = DeliveryArgument("The delivery to show (ID column of jobctl webhooks deliveries)");
        var command = new Command("delivery", "Show one delivery and each of its attempts: when, the status answered, how long it took, "
            + "the error and the first bytes of the answer") { webhookId, deliveryId };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var delivery = await context.Api.GetWebhookDeliveryAsync(parseResult.GetValue(webhookId), parseResult.GetValue(deliveryId), ct);
            return context.Write(delivery, (o, x) => Write(o, x, context.Color));
        }));
        return command;
    }

    private static Command Redeliver(JobctlRuntime runtime)
    {
        var webhookId = WebhookArgument("The endpoint the delivery was sent to");
        var deliveryId = DeliveryArgument("The delivery to send again");
        var command = new Command("redeliver", "Send a delivered or failed delivery again: the same webhook-id and body, due now, "
            + "with a fresh retry period (a pending one is refused: it is retried by itself)") { webhookId, deliveryId };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var (id, delivery) = (parseResult.GetValue(webhookId), parseResult.GetValue(deliveryId));
            await context.Api.RedeliverWebhookAsync(id, delivery, ct);
            // 202 has no body to print: confirm on stderr so stdout stays empty for scripts.
            if (!context.Json)
                context.Err.WriteLine($"delivery {delivery} queued to be sent again; see it with: jobctl webhooks delivery {id} {delivery}");
            return JobctlRuntime.Ok;
        }));
        return command;
    }

    /// <summary>An endpoint as key: value lines; the secret last, and only in the answers that carry one.</summary>
    internal static void Write(TextWriter writer, WebhookView hook)
    {
        var fields = new List<(string Key, string Value)>
        {
            ("id", hook.Id.ToString()),
            ("url", hook.Url),
        };
        if (!string.IsNullOrEmpty(hook.Description)) fields.Add(("description", hook.Description));
        fields.Add(("events", string.Join(", ", hook.Events)));
        if (hook.JobIds is { Count: > 0 } || hook.JobNames is { Count: > 0 })
        {
            if (hook.JobIds is { Count: > 0 } ids) fields.Add(("job_ids", string.Join(", ", ids)));
            if (hook.JobNames is { Count: > 0 } names) fields.Add(("job_names", string.Join(", ", names)));
        }
        else
        {
            fields.Add(("jobs", "all"));
        }
        fields.Add(("enabled", Bool(hook.Enabled)));
        if (hook.DisabledReason is { } reason) fields.Add(("disabled_reason", reason));
        if (hook.FailingSince is { } failing) fields.Add(("failing_since", Display.Time(failing)));
        if (hook.PreviousSecretExpiresAt is { } previous) fields.Add(("previous_secret_expires_at", Display.Time(previous)));
        fields.Add(("created_at", Display.Time(hook.CreatedAt)));
        fields.Add(("updated_at", Display.Time(hook.UpdatedAt)));
        if (hook.Secret is { } secret) fields.Add(("secret", secret));
        Display.Fields(writer, fields);
    }

    /// <summary>A delivery as key: value lines, then a table of its attempts.</summary>
    internal static void Write(TextWriter writer, WebhookDeliveryView delivery, bool color = false)
    {
        var fields = new List<(string Key, string Value)>
        {
            ("id", delivery.Id.ToString()),
            ("event_type", delivery.EventType),
            ("execution_id", delivery.ExecutionId?.ToString() ?? "-"),
            ("state", delivery.State),
            ("attempts", delivery.Attempts.ToString(CultureInfo.InvariantCulture)),
            ("last_status", Display.Number(delivery.LastStatus)),
        };
        if (delivery.LastError is { } error) fields.Add(("last_error", error));
        fields.AddRange(
        [
            ("created_at", Display.Time(delivery.CreatedAt)),
            ("next_attempt_at", Display.Time(delivery.NextAttemptAt)),
            ("finished_at", Display.Time(delivery.FinishedAt)),
        ]);
        Display.Fields(writer, fields);

        writer.WriteLine();
        if (delivery.AttemptLog is not { Count: > 0 } attempts)
        {
            writer.WriteLine("attempt_log: none yet");
            return;
        }
        writer.WriteLine("attempt_log:");
        var table = new TableWriter("ATTEMPT", "AT", "STATUS", "LATENCY", "ERROR", "RESPONSE_HEAD");
        foreach (var attempt in attempts)
        {
            table.AddRow(
                attempt.Attempt.ToString(CultureInfo.InvariantCulture),
                Display.Time(attempt.At),
                Display.Number(attempt.StatusCode),
                attempt.LatencyMs.ToString(CultureInfo.InvariantCulture) + "ms",
                Display.Truncate(attempt.Error, 120),
                // The last column: the receiver's own words, flattened to one line; -o json has them whole.
                Display.Truncate(attempt.ResponseHead, 200));
        }
        table.WriteTo(writer, color);
    }

    /// <summary>The job filters in one table cell: names, then ids; "all" for none.</summary>
    private static string Jobs(WebhookView hook) =>
        hook.JobIds is { Count: > 0 } || hook.JobNames is { Count: > 0 }
            ? string.Join(',', [.. hook.JobNames ?? [], .. (hook.JobIds ?? []).Select(id => id.ToString())])
            : "all";

    private static string Bool(bool value) => value ? "true" : "false";

    private static IReadOnlyList<T>? NullIfEmpty<T>(T[]? values) => values is { Length: > 0 } ? values : null;

    /// <summary>--endpoint-url: an absolute http(s) URL. Whether http is allowed, and where the host points, the controller decides.</summary>
    internal static Parse<string?> ParseEndpoint(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http"
            ? text
            : CliOptions.Refuse($"--endpoint-url must be an absolute https:// URL (http:// where the operator allows it), e.g. https://example.com/hooks/jobplane (got '{text}')");

    /// <summary>--overlap: whole seconds from 0 to 30 days, as 24h, 90m, 7d, 1d12h or a number of seconds.</summary>
    internal static Parse<int?> ParseOverlap(string text)
    {
        var refused = CliOptions.Refuse($"--overlap must be a duration such as 24h, 90m or 7d, or 0 (got '{text}')");
        var rest = text.Trim();
        // Days are how a switch-over is usually planned; the shared duration syntax stops at hours.
        long days = 0;
        var d = rest.IndexOf('d', StringComparison.Ordinal);
        if (d > 0)
        {
            if (!long.TryParse(rest.AsSpan(0, d), NumberStyles.None, CultureInfo.InvariantCulture, out days) || days > 30)
                return days > 30 ? TooLong() : refused;
            rest = rest[(d + 1)..];
        }
        var part = TimeSpan.Zero;
        try
        {
            if (rest.Length > 0 && !Durations.TryParse(rest, out part))
                return refused;
        }
        catch (OverflowException)
        {
            // More seconds than a TimeSpan holds: too long, not malformed.
            return TooLong();
        }
        if (part.Ticks % TimeSpan.TicksPerSecond != 0)
            return CliOptions.Refuse($"--overlap must be a whole number of seconds (got '{text}')");
        var seconds = days * 86_400 + (long)part.TotalSeconds;
        return seconds > MaxOverlapSeconds ? TooLong() : (int)seconds;

        Refusal TooLong() => CliOptions.Refuse($"--overlap must be at most 30d (got '{text}')");
    }
}

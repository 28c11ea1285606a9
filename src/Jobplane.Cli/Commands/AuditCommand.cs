using System.CommandLine;
using Jobplane.Cli.Output;

namespace Jobplane.Cli.Commands;

/// <summary>`audit`: who changed what (tenants, keys, credentials), newest first (administrator).</summary>
internal static class AuditCommand
{
    public static Command Create(JobctlRuntime runtime)
    {
        var tenant = CliOptions.IdOption("--tenant", "Only the entries about this tenant");
        var limit = CliOptions.Int("--limit", "Entries per page", 1, "-l");
        var before = CliOptions.Long("--before", "Only entries older than this entry id (for the next page)", 1);
        var command = new Command("audit", "List administrative and credential changes, newest first (administrator); "
            + "when there are more, prints the --before value for the next page on stderr")
        {
            tenant, limit, before,
        };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var page = await context.Api.ListAuditAsync(parseResult.GetValue(tenant), parseResult.GetValue(before), parseResult.GetValue(limit), ct);
            return context.Write(page, (o, x) =>
            {
                var table = new TableWriter("ID", "AT", "ACTOR", "ACTION", "TENANT", "TARGET", "DETAILS");
                foreach (var entry in x.Entries)
                {
                    table.AddRow(
                        Display.Number(entry.Id),
                        Display.Time(entry.At),
                        entry.Actor,
                        entry.Action,
                        entry.TenantId?.ToString(),
                        entry.Target,
                        entry.Details is { } details ? Display.Truncate(JsonOutput.ToCompactString(details), 80) : null);
                }
                table.WriteTo(o, context.Color);
                if (x.NextBeforeId is { } next)
                {
                    var same = (parseResult.GetValue(tenant) is { } t ? $" --tenant {t}" : "")
                        + (parseResult.GetValue(limit) is { } l ? $" --limit {l}" : "");
                    context.Err.WriteLine($"note: more entries: jobctl audit --before {next}{same}");
                }
            });
        }, administrator: true));
        return command;
    }
}

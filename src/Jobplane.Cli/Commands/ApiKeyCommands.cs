using System.CommandLine;
using Jobplane.Api;
using Jobplane.Cli.Output;

namespace Jobplane.Cli.Commands;

/// <summary>
/// API keys: `keys create|list|revoke` for a tenant managing its own keys with one of them, and
/// `tenant keys create|list|revoke TENANT_ID` for the administrator. Both print the same way.
/// </summary>
internal static class ApiKeyCommands
{
    /// <summary>The tenant's own keys, authenticated with one of its keys.</summary>
    public static Command Own(JobctlRuntime runtime)
    {
        var keys = new Command("keys", "Create, list and revoke this tenant's own API keys (with one of its keys as token)");
        keys.Subcommands.Add(CreateKey(runtime, tenantId: null));
        keys.Subcommands.Add(ListKeys(runtime, tenantId: null));
        keys.Subcommands.Add(RevokeKey(runtime, tenantId: null));
        return keys;
    }

    /// <summary>Any tenant's keys, as administrator: every subcommand takes TENANT_ID first.</summary>
    public static Command ForTenant(JobctlRuntime runtime)
    {
        var keys = new Command("keys", "Create, list and revoke a tenant's API keys (administrator)");
        keys.Subcommands.Add(CreateKey(runtime, TenantArgument()));
        keys.Subcommands.Add(ListKeys(runtime, TenantArgument()));
        keys.Subcommands.Add(RevokeKey(runtime, TenantArgument()));
        return keys;
    }

    private static Argument<Guid> TenantArgument() => CliOptions.Id("TENANT_ID", "The tenant whose keys these are");

    private static Command CreateKey(JobctlRuntime runtime, Argument<Guid>? tenantId)
    {
        var name = new Option<string?>("--name", "-n") { Description = "A name to tell the key apart in lists [default: default]", HelpName = "NAME" };
        var expiresIn = CliOptions.Parsed<long?>("--expires-in", "DURATION",
            "The key stops working after this long, e.g. 30d, 12h, 90m (by the controller's database clock) [default: never]",
            text => TryParseExpiry(text, out var seconds)
                ? seconds
                : CliOptions.Refuse($"--expires-in must be a duration such as 30d, 12h, 90m or 3600s (got '{text}')"));
        var readOnly = new Option<bool>("--read-only") { Description = "A key that may read everything the tenant may, and change nothing" };
        var command = new Command("create", "Create an API key; prints its id, name, prefix and the key itself (shown only this once)");
        AddTenant(command, tenantId);
        command.Options.Add(name);
        command.Options.Add(expiresIn);
        command.Options.Add(readOnly);
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var created = await context.Api.CreateApiKeyAsync(Tenant(parseResult, tenantId), parseResult.GetValue(name), ct,
                parseResult.GetValue(expiresIn), parseResult.GetValue(readOnly));
            return context.Write(created, (o, x) =>
            {
                var fields = new List<(string, string)>
                {
                    ("id", x.Id.ToString()),
                    ("name", x.Name),
                    ("prefix", x.Prefix),
                    ("created_at", Display.Time(x.CreatedAt)),
                };
                if (x.ExpiresAt is { } at) fields.Add(("expires_at", Display.Time(at)));
                if (x.ReadOnly == true) fields.Add(("read_only", "true"));
                fields.Add(("api_key", x.ApiKey));
                Display.Fields(o, fields);
                context.Err.WriteLine("note: the API key is shown only once; store it now (use it as JOBPLANE_TOKEN)");
            });
        }, administrator: tenantId is not null));
        return command;
    }

    private static Command ListKeys(JobctlRuntime runtime, Argument<Guid>? tenantId)
    {
        var limit = CliOptions.Int("--limit", "Entries per page", 1, "-l");
        var cursor = CliOptions.Cursor();
        var command = new Command("list", "List API keys (never their secrets), oldest first: prefix, name, when created, last used, revoked and when they expire; "
            + "when there are more, prints the command for the next page on stderr") { limit, cursor };
        AddTenant(command, tenantId);
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var tenant = Tenant(parseResult, tenantId);
            var keys = await context.Api.ListApiKeysAsync(tenant, parseResult.GetValue(limit), parseResult.GetValue(cursor), ct);
            return context.Write(keys, (o, x) =>
            {
                var table = new TableWriter("ID", "NAME", "PREFIX", "CREATED_AT", "LAST_USED_AT", "REVOKED_AT", "EXPIRES_AT");
                foreach (var key in x.ApiKeys)
                {
                    var expires = key.ExpiresAt is { } at ? Display.Time(at) + (key.Expired == true ? " (expired)" : "") : Display.Time(null);
                    table.AddRow(key.Id.ToString(), key.Name, key.Prefix, Display.Time(key.CreatedAt), Display.Time(key.LastUsedAt),
                        Display.Time(key.RevokedAt), expires);
                }
                table.WriteTo(o, context.Color);
                CliOptions.MoreNote(context, x.NextCursor, tenant is { } t ? $"tenant keys list {t}" : "keys list", ("--limit", parseResult.GetValue(limit)));
            });
        }, administrator: tenantId is not null));
        return command;
    }

    private static Command RevokeKey(JobctlRuntime runtime, Argument<Guid>? tenantId)
    {
        var keyId = CliOptions.Id("KEY_ID", "The key to revoke (ID column of keys list)");
        var command = new Command("revoke", "Revoke an API key and every key created with it: every request with them is refused from now on, on every controller");
        AddTenant(command, tenantId);
        command.Arguments.Add(keyId);
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var id = parseResult.GetValue(keyId);
            await context.Api.RevokeApiKeyAsync(Tenant(parseResult, tenantId), id, ct);
            // 204 has no body to print: confirm on stderr so stdout stays empty for scripts.
            if (!context.Json)
                context.Err.WriteLine($"API key {id} revoked");
            return JobctlRuntime.Ok;
        }, administrator: tenantId is not null));
        return command;
    }

    /// <summary>"30d", "12h", "90m", "3600s", "1d12h", or a number of seconds: whole seconds, at least one.</summary>
    internal static bool TryParseExpiry(string text, out long seconds)
    {
        seconds = 0;
        var s = text.Trim();
        // Days are what keys are usually given; the shared duration syntax stops at hours.
        var days = 0L;
        var d = s.IndexOf('d', StringComparison.Ordinal);
        if (d > 0)
        {
            if (!long.TryParse(s.AsSpan(0, d), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out days)
                || days > 100_000) return false;
            s = s[(d + 1)..];
        }
        var rest = TimeSpan.Zero;
        if (s.Length > 0 && !Durations.TryParse(s, out rest)) return false;
        var total = days * 86_400 + (long)rest.TotalSeconds;
        if (total < 1) return false;
        seconds = total;
        return true;
    }

    private static void AddTenant(Command command, Argument<Guid>? tenantId)
    {
        if (tenantId is not null)
            command.Arguments.Add(tenantId);
    }

    private static Guid? Tenant(ParseResult parseResult, Argument<Guid>? tenantId) =>
        tenantId is null ? null : parseResult.GetValue(tenantId);
}

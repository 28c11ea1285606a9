using System.CommandLine;
using System.Globalization;
using Jobplane.Api;
using Jobplane.Cli.Output;

namespace Jobplane.Cli.Commands;

/// <summary>
/// `tenant create|update|list|get|suspend|resume|keys`: administrator commands, authenticated with the SYSTEM_SECRET.
/// </summary>
internal static class TenantCommands
{
    private sealed class LimitOptions
    {
        public Option<double?> RateLimit { get; } = CliOptions.Double("--rate-limit",
            "Requests per second allowed to the tenant (update: 0 removes the limit)", 0);
        public Option<int?> RateLimitBurst { get; } = CliOptions.Int("--rate-limit-burst", "Requests allowed in a burst above the rate", 0);
        public Option<int?> MaxConcurrent { get; } = CliOptions.Int("--max-concurrent", "Executions of the tenant allowed to run at once (0: unlimited)", 0);
        public Option<int?> Weight { get; } = CliOptions.Int("--weight",
            "Share of scarce workers relative to other tenants with ready work (1..1000; default 1)", 1);
        public Option<string[]?> AllowedRuntimes { get; } = CliOptions.Runtimes("--allowed-runtimes",
            "Runtimes the tenant's executions may run on, comma-separated (e.g. exec,docker); '' lifts the restriction");
        public Option<string?> AllowNetwork { get; } = CliOptions.Bool("--allow-network",
            "Whether the tenant's jobs may ask for network access (default false; revoking applies from each job's next attempt)");
        public Option<int?> RetentionDays { get; } = CliOptions.Int("--retention-days",
            "Days the tenant's finished executions and dead letters are kept (update: 0 returns to the operator's RETENTION_* defaults)", 0);
        public Option<long?> LogMaxBytes { get; } = CliOptions.Size("--log-max-bytes",
            "Log bytes stored per execution of the tenant, 1KiB..1024GiB, instead of the operator's LOG_MAX_BYTES_PER_EXECUTION (update: 0 returns to it)");
        public Option<int?> LogFollowMax { get; } = CliOptions.Int("--log-follow-max",
            "Followed log streams the tenant may hold at once on one controller, 1..100000, instead of the operator's LOG_FOLLOW_MAX_PER_TENANT (update: 0 returns to it)", 0);
        public Option<double?> MaxFleetShare { get; } = CliOptions.Double("--max-fleet-share",
            "Most of the fleet's slots the tenant may hold while others have ready work, above 0 and at most 1 (1: no cap; "
            + "default: the operator's FAIR_SHARE_MAX_FRACTION)", 0);

        public void AddTo(Command command)
        {
            command.Options.Add(RateLimit);
            command.Options.Add(RateLimitBurst);
            command.Options.Add(MaxConcurrent);
            command.Options.Add(Weight);
            command.Options.Add(AllowedRuntimes);
            command.Options.Add(AllowNetwork);
            command.Options.Add(RetentionDays);
            command.Options.Add(LogMaxBytes);
            command.Options.Add(LogFollowMax);
            command.Options.Add(MaxFleetShare);
        }

        public TenantRequest Read(ParseResult parseResult, string? name) => new()
        {
            Name = name,
            RateLimit = parseResult.GetValue(RateLimit),
            RateLimitBurst = parseResult.GetValue(RateLimitBurst),
            MaxConcurrentExecutions = parseResult.GetValue(MaxConcurrent),
            Weight = parseResult.GetValue(Weight),
            // Not given is null ("leave as is"); System.CommandLine would give an empty array, which lifts the restriction.
            AllowedRuntimes = parseResult.GetResult(AllowedRuntimes) is null ? null : parseResult.GetValue(AllowedRuntimes),
            AllowNetwork = parseResult.GetBool(AllowNetwork),
            RetentionDays = parseResult.GetValue(RetentionDays),
            LogMaxBytesPerExecution = parseResult.GetValue(LogMaxBytes),
            LogFollowMax = parseResult.GetValue(LogFollowMax),
            MaxFleetShare = parseResult.GetValue(MaxFleetShare),
        };
    }

    public static Command Create(JobctlRuntime runtime)
    {
        var tenant = new Command("tenant", "Create, inspect, change and suspend tenants, and manage their API keys "
            + "(administrator: the token is the SYSTEM_SECRET, also read from $SYSTEM_SECRET)");
        tenant.Subcommands.Add(CreateTenant(runtime));
        tenant.Subcommands.Add(Update(runtime));
        tenant.Subcommands.Add(List(runtime));
        tenant.Subcommands.Add(Get(runtime));
        tenant.Subcommands.Add(SetSuspended(runtime, suspend: true));
        tenant.Subcommands.Add(SetSuspended(runtime, suspend: false));
        tenant.Subcommands.Add(ApiKeyCommands.ForTenant(runtime));
        return tenant;
    }

    private static Command CreateTenant(JobctlRuntime runtime)
    {
        var name = new Option<string>("--name", "-n") { Description = "Tenant name", Required = true, HelpName = "NAME" };
        var limits = new LimitOptions();
        var command = new Command("create", "Create a tenant; prints its id and its API key (shown only this once)") { name };
        limits.AddTo(command);
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var created = await context.Api.CreateTenantAsync(limits.Read(parseResult, parseResult.GetValue(name)), ct);
            if (context.Json)
            {
                JsonOutput.WritePretty(context.Out, created.Raw);
                return JobctlRuntime.Ok;
            }
            var tenant = created.Value;
            context.Out.WriteLine($"tenant_id: {tenant.TenantId}");
            context.Out.WriteLine($"name:      {tenant.Name}");
            context.Out.WriteLine($"api_key:   {tenant.ApiKey}");
            context.Err.WriteLine("note: the API key is shown only once; store it now (the tenant uses it as JOBPLANE_TOKEN)");
            return JobctlRuntime.Ok;
        }, administrator: true));
        return command;
    }

    private static Command Update(JobctlRuntime runtime)
    {
        var tenantId = CliOptions.Id("TENANT_ID", "The tenant to change");
        var name = new Option<string?>("--name", "-n") { Description = "New tenant name", HelpName = "NAME" };
        var limits = new LimitOptions();
        var command = new Command("update", "Change a tenant's name, limits, weight, allowed runtimes, network permission, retention, log limits or fleet share; "
            + "only the given fields change") { tenantId, name };
        limits.AddTo(command);
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var request = limits.Read(parseResult, parseResult.GetValue(name));
            if (request == new TenantRequest())
                throw new UsageException("nothing to update: give at least one of --name, --rate-limit, --rate-limit-burst, --max-concurrent, "
                    + "--weight, --allowed-runtimes, --allow-network, --retention-days, --log-max-bytes, --log-follow-max, --max-fleet-share");
            var id = parseResult.GetValue(tenantId);
            await context.Api.UpdateTenantAsync(id, request, ct);
            // 204 has no body to print: confirm on stderr so stdout stays empty for scripts.
            if (!context.Json)
                context.Err.WriteLine($"tenant {id} updated");
            return JobctlRuntime.Ok;
        }, administrator: true));
        return command;
    }

    private static Command List(JobctlRuntime runtime)
    {
        var (limit, offset) = CliOptions.Paging();
        var cursor = CliOptions.Cursor();
        var command = new Command("list", "List tenants by name with their limits and how much of their work runs and waits now; "
            + "when there are more, prints the command for the next page on stderr") { limit, offset, cursor };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var tenants = await context.Api.ListTenantsAsync(parseResult.GetValue(limit), parseResult.GetValue(offset), parseResult.GetValue(cursor), ct);
            return context.Write(tenants, (o, x) =>
            {
                var table = new TableWriter("ID", "NAME", "STATE", "WEIGHT", "RATE_LIMIT", "MAX_CONCURRENT", "RUNTIMES", "RUNNING", "READY", "CREATED_AT");
                foreach (var tenant in x.Tenants)
                {
                    table.AddRow(
                        tenant.Id.ToString(),
                        tenant.Name,
                        State(tenant),
                        tenant.Weight.ToString(CultureInfo.InvariantCulture),
                        Rate(tenant),
                        Concurrency(tenant),
                        Runtimes(tenant),
                        tenant.Running.ToString(CultureInfo.InvariantCulture),
                        tenant.Ready.ToString(CultureInfo.InvariantCulture),
                        Display.Time(tenant.CreatedAt));
                }
                table.WriteTo(o, context.Color);
                CliOptions.MoreNote(context, x.NextCursor, "tenant list", ("--limit", parseResult.GetValue(limit)));
            });
        }, administrator: true));
        return command;
    }

    private static Command Get(JobctlRuntime runtime)
    {
        var tenantId = CliOptions.Id("TENANT_ID", "The tenant to show");
        var command = new Command("get", "Show a tenant: limits, weight, allowed runtimes, network permission, retention, log limits, fleet share, state, "
            + "and its running and ready executions") { tenantId };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var tenant = await context.Api.GetTenantAsync(parseResult.GetValue(tenantId), ct);
            return context.Write(tenant, Write);
        }, administrator: true));
        return command;
    }

    private static Command SetSuspended(JobctlRuntime runtime, bool suspend)
    {
        var tenantId = CliOptions.Id("TENANT_ID", suspend ? "The tenant to suspend" : "The tenant to resume");
        var command = suspend
            ? new Command("suspend", "Suspend a tenant: nothing new of it is submitted or started (queued work waits, running work finishes, "
                + "its keys can still read and cancel); prints the tenant") { tenantId }
            : new Command("resume", "Resume a suspended tenant: its queued work becomes runnable and it can submit again; prints the tenant") { tenantId };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var tenant = await context.Api.SetTenantSuspendedAsync(parseResult.GetValue(tenantId), suspend, ct);
            return context.Write(tenant, Write);
        }, administrator: true));
        return command;
    }

    internal static void Write(TextWriter writer, TenantView tenant)
    {
        var fields = new List<(string Key, string Value)>
        {
            ("id", tenant.Id.ToString()),
            ("name", tenant.Name),
            ("state", State(tenant)),
        };
        if (tenant.SuspendedAt is { } suspendedAt)
            fields.Add(("suspended_at", Display.Time(suspendedAt)));
        fields.AddRange(
        [
            ("weight", tenant.Weight.ToString(CultureInfo.InvariantCulture)),
            ("rate_limit", Rate(tenant)),
            ("rate_limit_burst", Display.Number(tenant.RateLimitBurst)),
            ("max_concurrent", Concurrency(tenant)),
            ("allowed_runtimes", Runtimes(tenant)),
            ("allow_network", tenant.AllowNetwork ? "true" : "false"),
            ("retention_days", tenant.RetentionDays is { } days ? days.ToString(CultureInfo.InvariantCulture) : "default"),
            ("log_max_bytes_per_execution", tenant.LogMaxBytesPerExecution is { } bytes ? ByteSizes.Format(bytes) : "default"),
            ("log_follow_max", tenant.LogFollowMax is { } streams ? streams.ToString(CultureInfo.InvariantCulture) : "default"),
            ("max_fleet_share", tenant.MaxFleetShare is { } share ? share.ToString(CultureInfo.InvariantCulture) : "default"),
            ("running", tenant.Running.ToString(CultureInfo.InvariantCulture)),
            ("ready", tenant.Ready.ToString(CultureInfo.InvariantCulture)),
            ("created_at", Display.Time(tenant.CreatedAt)),
            ("updated_at", Display.Time(tenant.UpdatedAt)),
        ]);
        Display.Fields(writer, fields);
    }

    private static string State(TenantView tenant) => tenant.Suspended ? "suspended" : "active";

    private static string Rate(TenantView tenant) =>
        tenant.RateLimit is { } rate ? rate.ToString(CultureInfo.InvariantCulture) + "/s" : "unlimited";

    private static string Concurrency(TenantView tenant) =>
        tenant.MaxConcurrentExecutions > 0 ? tenant.MaxConcurrentExecutions.ToString(CultureInfo.InvariantCulture) : "unlimited";

    private static string Runtimes(TenantView tenant) =>
        tenant.AllowedRuntimes is { Count: > 0 } runtimes ? string.Join(',', runtimes) : "any";
}

using System.CommandLine;
using Jobplane.Api;
using Jobplane.Cli.Output;

namespace Jobplane.Cli.Commands;

/// <summary>`tenant create` and `tenant update`: administrator commands, authenticated with the SYSTEM_SECRET.</summary>
internal static class TenantCommands
{
    private sealed class LimitOptions
    {
        public Option<double?> RateLimit { get; } = CliOptions.Double("--rate-limit", "Requests per second allowed to the tenant", 0);
        public Option<int?> RateLimitBurst { get; } = CliOptions.Int("--rate-limit-burst", "Requests allowed in a burst above the rate", 0);
        public Option<int?> MaxConcurrent { get; } = CliOptions.Int("--max-concurrent", "Executions of the tenant allowed to run at once", 0);

        public void AddTo(Command command)
        {
            command.Options.Add(RateLimit);
            command.Options.Add(RateLimitBurst);
            command.Options.Add(MaxConcurrent);
        }

        public TenantRequest Read(ParseResult parseResult, string? name) => new()
        {
            Name = name,
            RateLimit = parseResult.GetValue(RateLimit),
            RateLimitBurst = parseResult.GetValue(RateLimitBurst),
            MaxConcurrentExecutions = parseResult.GetValue(MaxConcurrent),
        };
    }

    public static Command Create(JobctlRuntime runtime)
    {
        var tenant = new Command("tenant", "Create and change tenants (administrator: the token is the SYSTEM_SECRET, also read from $SYSTEM_SECRET)");
        tenant.Subcommands.Add(CreateTenant(runtime));
        tenant.Subcommands.Add(Update(runtime));
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
        var command = new Command("update", "Change a tenant's name or limits; only the given fields change") { tenantId, name };
        limits.AddTo(command);
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var request = limits.Read(parseResult, parseResult.GetValue(name));
            if (request == new TenantRequest())
                throw new UsageException("nothing to update: give at least one of --name, --rate-limit, --rate-limit-burst, --max-concurrent");
            var id = parseResult.GetValue(tenantId);
            await context.Api.UpdateTenantAsync(id, request, ct);
            // 204 has no body to print: confirm on stderr so stdout stays empty for scripts.
            if (!context.Json)
                context.Err.WriteLine($"tenant {id} updated");
            return JobctlRuntime.Ok;
        }, administrator: true));
        return command;
    }
}

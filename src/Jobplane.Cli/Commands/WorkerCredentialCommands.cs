using System.CommandLine;
using Jobplane.Api;
using Jobplane.Cli.Output;

namespace Jobplane.Cli.Commands;

/// <summary>`worker-credentials create|list|revoke`: the tokens workers authenticate with (administrator).</summary>
internal static class WorkerCredentialCommands
{
    public static Command Create(JobctlRuntime runtime)
    {
        var credentials = new Command("worker-credentials", "Create, list and revoke worker credentials (administrator)");
        credentials.Subcommands.Add(CreateCredential(runtime));
        credentials.Subcommands.Add(List(runtime));
        credentials.Subcommands.Add(Revoke(runtime));
        return credentials;
    }

    private static Command CreateCredential(JobctlRuntime runtime)
    {
        var name = new Option<string>("--name", "-n") { Description = "A name to tell the credential apart in lists", Required = true, HelpName = "NAME" };
        var tenants = CliOptions.IdsOption("--tenant",
            "Workers with this credential claim only this tenant's executions; repeat for each tenant [default: every tenant's]");
        var command = new Command("create", "Create a worker credential; prints its id and its token (the worker's WORKER_TOKEN, shown only this once)")
        {
            name, tenants,
        };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            Guid[] tenantIds = [.. (parseResult.GetValue(tenants) ?? []).Distinct()];
            var request = new CreateWorkerCredentialRequest { Name = parseResult.GetValue(name), TenantIds = tenantIds is { Length: > 0 } ? tenantIds : null };
            var created = await context.Api.CreateWorkerCredentialAsync(request, ct);
            return context.Write(created, (o, x) =>
            {
                Display.Fields(o,
                [
                    ("id", x.Id.ToString()),
                    ("name", x.Name),
                    ("prefix", x.Prefix),
                    ("tenants", Tenants(x.TenantIds)),
                    ("created_at", Display.Time(x.CreatedAt)),
                    ("token", x.Token),
                ]);
                context.Err.WriteLine("note: the token is shown only once; store it now (workers use it as WORKER_TOKEN)");
            });
        }, administrator: true));
        return command;
    }

    private static Command List(JobctlRuntime runtime)
    {
        var limit = CliOptions.Int("--limit", "Entries per page", 1, "-l");
        var cursor = CliOptions.Cursor();
        var command = new Command("list", "List worker credentials (never their tokens), oldest first: prefix, name, tenants, when created, last used and revoked; "
            + "when there are more, prints the command for the next page on stderr") { limit, cursor };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var credentials = await context.Api.ListWorkerCredentialsAsync(parseResult.GetValue(limit), parseResult.GetValue(cursor), ct);
            return context.Write(credentials, (o, x) =>
            {
                var table = new TableWriter("ID", "NAME", "PREFIX", "TENANTS", "CREATED_AT", "LAST_USED_AT", "REVOKED_AT");
                foreach (var c in x.WorkerCredentials)
                {
                    table.AddRow(c.Id.ToString(), c.Name, c.Prefix, Tenants(c.TenantIds),
                        Display.Time(c.CreatedAt), Display.Time(c.LastUsedAt), Display.Time(c.RevokedAt));
                }
                table.WriteTo(o, context.Color);
                CliOptions.MoreNote(context, x.NextCursor, "worker-credentials list", ("--limit", parseResult.GetValue(limit)));
            });
        }, administrator: true));
        return command;
    }

    private static Command Revoke(JobctlRuntime runtime)
    {
        var credentialId = CliOptions.Id("ID", "The credential to revoke (ID column of worker-credentials list)");
        var command = new Command("revoke", "Revoke a worker credential: workers using it are refused from now on") { credentialId };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var id = parseResult.GetValue(credentialId);
            await context.Api.RevokeWorkerCredentialAsync(id, ct);
            // 204 has no body to print: confirm on stderr so stdout stays empty for scripts.
            if (!context.Json)
                context.Err.WriteLine($"worker credential {id} revoked");
            return JobctlRuntime.Ok;
        }, administrator: true));
        return command;
    }

    /// <summary>Comma-joined without spaces, so that the cell stays one word for awk and cut.</summary>
    private static string Tenants(IReadOnlyList<Guid>? tenantIds) =>
        tenantIds is { Count: > 0 } ids ? string.Join(',', ids) : "all";
}

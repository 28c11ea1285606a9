using System.Collections;
using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using Jobplane.Cli.Commands;

namespace Jobplane.Cli;

/// <summary>The whole of jobctl behind one call, so tests run it in-process with their own streams and environment.</summary>
internal static class JobctlApp
{
    /// <param name="environment">Variables to read instead of the process environment (tests); null = the real one.</param>
    /// <param name="handler">HTTP handler to send through instead of a new socket handler (tests); not disposed.</param>
    internal static async Task<int> RunAsync(
        string[] args,
        TextWriter stdout,
        TextWriter stderr,
        IDictionary<string, string?>? environment = null,
        HttpMessageHandler? handler = null,
        CancellationToken cancellationToken = default)
    {
        var variables = environment is null ? ProcessEnvironment() : new Dictionary<string, string?>(environment, StringComparer.Ordinal);
        var runtime = new JobctlRuntime(stdout, stderr, variables, handler, UseColor(stdout, variables));
        var root = BuildRootCommand(runtime);

        var parseResult = root.Parse(args, Parsing);
        if (parseResult.Action is ParseErrorAction)
        {
            // System.CommandLine would exit 1 here; usage errors are exit 2, and print no help wall.
            foreach (var error in parseResult.Errors)
                stderr.WriteLine($"error: {error.Message}");
            // System.CommandLine says an argument is missing but not which: with two ids to give, that matters.
            if (MissingArguments(parseResult) is { Count: > 0 } missing)
                stderr.WriteLine($"error: missing {string.Join(" and ", missing)} (usage: {CommandPath(parseResult)} "
                    + $"{string.Join(' ', parseResult.CommandResult.Command.Arguments.Select(a => a.Name))})");
            stderr.WriteLine($"Run '{CommandPath(parseResult)} --help' for usage.");
            return JobctlRuntime.UsageError;
        }

        var invocation = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            // Cancellation comes from the caller (Program wires Ctrl+C); tests must not install signal handlers.
            ProcessTerminationTimeout = null,
        };
        return await parseResult.InvokeAsync(invocation, cancellationToken);
    }

    /// <summary>
    /// No response files: with them, any argument starting with '@' is read as a file name, so a cron
    /// macro (`--cron @daily`) or a job argument (`-c @user`) could not be passed as typed.
    /// </summary>
    internal static readonly ParserConfiguration Parsing = new() { ResponseFileTokenReplacer = null };

    internal static RootCommand BuildRootCommand(JobctlRuntime runtime)
    {
        var root = new RootCommand("jobctl: define, run and inspect jobs on a jobplane controller.\n"
            + "Settings come from flags, then JOBPLANE_URL / JOBPLANE_TOKEN, then ~/.jobctl.yaml (url, token).\n"
            + "Exit codes: 0 ok, 1 the request failed, 2 usage error.");
        runtime.Globals.AddTo(root);
        root.Subcommands.Add(JobDefinitionCommands.Submit(runtime));
        root.Subcommands.Add(JobDefinitionCommands.Create(runtime));
        root.Subcommands.Add(JobDefinitionCommands.Run(runtime));
        root.Subcommands.Add(CancelCommand.Create(runtime));
        root.Subcommands.Add(StatusCommand.Create(runtime));
        root.Subcommands.Add(AttemptsCommand.Create(runtime));
        root.Subcommands.Add(LogsCommand.Create(runtime));
        root.Subcommands.Add(DlqCommands.Create(runtime));
        root.Subcommands.Add(TenantCommands.Create(runtime));
        root.Subcommands.Add(ApiKeyCommands.Own(runtime));
        root.Subcommands.Add(WorkerCredentialCommands.Create(runtime));
        root.Subcommands.Add(AuditCommand.Create(runtime));
        root.Subcommands.Add(ListCommands.Jobs(runtime));
        root.Subcommands.Add(ListCommands.Executions(runtime));
        root.Subcommands.Add(ScheduleCommands.Create(runtime));
        root.Subcommands.Add(WebhookCommands.Create(runtime));
        return root;
    }

    private static List<string> MissingArguments(ParseResult parseResult) =>
        [.. parseResult.CommandResult.Command.Arguments
            .Where(a => a.Arity.MinimumNumberOfValues > 0 && parseResult.GetResult(a) is not { Tokens.Count: > 0 })
            .Select(a => a.Name)];

    private static string CommandPath(ParseResult parseResult)
    {
        var names = new List<string>();
        for (SymbolResult? result = parseResult.CommandResult; result is CommandResult command; result = command.Parent)
            names.Add(command.Parent is null ? "jobctl" : command.Command.Name);
        names.Reverse();
        return string.Join(' ', names);
    }

    /// <summary>Colour only for a real terminal: redirected output and NO_COLOR get plain text.</summary>
    private static bool UseColor(TextWriter stdout, IReadOnlyDictionary<string, string?> environment) =>
        ReferenceEquals(stdout, Console.Out)
        && !Console.IsOutputRedirected
        && !environment.ContainsKey("NO_COLOR")
        && !(environment.TryGetValue("TERM", out var term) && term == "dumb");

    private static Dictionary<string, string?> ProcessEnvironment()
    {
        var variables = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
            variables[(string)entry.Key] = entry.Value as string;
        return variables;
    }
}

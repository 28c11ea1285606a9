using System.CommandLine;
using System.Net.Http.Headers;
using Jobplane.Client;

namespace Jobplane.Cli;

/// <summary>What one command's action works with: resolved settings, a client, and the two output streams.</summary>
internal sealed class CommandContext(CliSettings settings, JobplaneClient api, TextWriter stdout, TextWriter stderr, bool color)
{
    public CliSettings Settings { get; } = settings;
    public JobplaneClient Api { get; } = api;
    /// <summary>Results only, so that `X=$(jobctl ...)` and pipes to jq get nothing else.</summary>
    public TextWriter Out { get; } = stdout;
    /// <summary>Errors, notes and progress.</summary>
    public TextWriter Err { get; } = stderr;
    public bool Color { get; } = color;
    public bool Json => Settings.Output == OutputFormat.Json;

    /// <summary>
    /// Prints a command's answer: the controller's JSON as received with -o json, otherwise the
    /// table form the command writes. Returns the success exit code.
    /// </summary>
    public int Write<T>(ApiResponse<T> response, Action<TextWriter, T> table)
    {
        if (Json) Output.JsonOutput.WritePretty(Out, response.Raw);
        else table(Out, response.Value);
        return JobctlRuntime.Ok;
    }
}

/// <summary>
/// The per-run environment shared by all commands, and the one place where failures become exit codes:
/// 2 for usage, 1 for anything the controller or the network said, 130 for Ctrl+C.
/// </summary>
internal sealed class JobctlRuntime(
    TextWriter stdout,
    TextWriter stderr,
    IReadOnlyDictionary<string, string?> environment,
    HttpMessageHandler? handler,
    bool color)
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int UsageError = 2;
    public const int Interrupted = 130;

    /// <summary>Names jobctl and its version to the controller.</summary>
    private static readonly ProductInfoHeaderValue UserAgent =
        new("jobctl", typeof(JobctlRuntime).Assembly.GetName().Version?.ToString(3));

    public GlobalOptions Globals { get; } = new();

    public TextWriter Stdout { get; } = stdout;
    public TextWriter Stderr { get; } = stderr;

    /// <summary>Wraps a command body: resolve settings, build the client, run, map failures to exit codes.</summary>
    public Func<ParseResult, CancellationToken, Task<int>> Action(
        Func<CommandContext, ParseResult, CancellationToken, Task<int>> body, bool administrator = false) =>
        async (parseResult, ct) =>
        {
            try
            {
                var settings = CliSettings.Resolve(Globals.Read(parseResult), environment, administrator);
                if (settings.Token is null)
                    throw new UsageException(administrator
                        ? $"no administrator token: pass -t/--token or set {CliSettings.SystemSecretVariable}"
                        : $"no API token: pass -t/--token, set {CliSettings.TokenVariable}, or put 'token:' in ~/{CliSettings.DefaultConfigName}");

                // The handler is ours to dispose only when we made it; a test's handler outlives the run.
                using var http = new HttpClient(handler ?? new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) }, disposeHandler: handler is null)
                {
                    // Per-request bounds live in JobplaneClient: a followed log stream must not be cut at 100 s.
                    Timeout = Timeout.InfiniteTimeSpan,
                };
                var api = new JobplaneClient(http, settings.Url, settings.Token, UserAgent);
                return await body(new CommandContext(settings, api, Stdout, Stderr, color), parseResult, ct);
            }
            catch (UsageException e)
            {
                return Fail(UsageError, e.Message);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return Interrupted;
            }
            catch (Exception e) when (e is ApiException or ControllerUnreachableException or UnexpectedResponseException)
            {
                return Fail(Failure, e.Message);
            }
            catch (Exception e)
            {
                // A bug in jobctl, not a user mistake: say what broke without a stack trace wall.
                return Fail(Failure, $"{e.GetType().Name}: {e.Message}");
            }
        };

    public int Fail(int code, string message)
    {
        Stderr.WriteLine($"error: {message}");
        return code;
    }
}

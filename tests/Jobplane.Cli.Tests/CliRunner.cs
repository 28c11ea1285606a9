namespace Jobplane.Cli.Tests;

/// <summary>The outcome of one in-process jobctl run.</summary>
internal sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}--- stderr\n{Stderr}";
}

/// <summary>Runs jobctl in-process with captured output and an environment that holds only what the test gives.</summary>
internal static class CliRunner
{
    public static async Task<CliResult> RunWithAsync(
        IDictionary<string, string?>? environment, HttpMessageHandler? handler, params string[] args)
    {
        using var stdout = new StringWriter { NewLine = "\n" };
        using var stderr = new StringWriter { NewLine = "\n" };
        // An empty dictionary (not null) so the developer's real JOBPLANE_* and ~/.jobctl.yaml never leak in.
        var code = await JobctlApp.RunAsync(args, stdout, stderr, environment ?? new Dictionary<string, string?>(), handler);
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }

    public static Task<CliResult> RunAsync(params string[] args) => RunWithAsync(null, new TripwireHandler(), args);
}

/// <summary>
/// Not a fake server: a tripwire for tests whose point is that nothing is sent. Any request fails the test.
/// </summary>
internal sealed class TripwireHandler : HttpMessageHandler
{
    public int Calls { get; private set; }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Calls++;
        Assert.Fail($"jobctl sent {request.Method} {request.RequestUri} although it should have stopped before sending");
        throw new InvalidOperationException("unreachable");
    }
}

using System.ComponentModel;
using System.Diagnostics;

namespace Jobplane.Webhooks.Tests;

/// <summary>
/// The Standard Webhooks reference library (npm standardwebhooks 1.1.1), run by node as a child
/// process through reference-webhook.js. node comes from PATH; the package folder from
/// JOBPLANE_TEST_STANDARDWEBHOOKS, which scripts/test.sh sets. Missing either fails the test with the
/// command that fixes it: a skipped test would hide that the check never ran.
/// </summary>
internal static class ReferenceLibrary
{
    public const string Variable = "JOBPLANE_TEST_STANDARDWEBHOOKS";

    private static readonly TimeSpan RunLimit = TimeSpan.FromMinutes(1);

    public sealed record Result(int ExitCode, string Output, string Errors);

    public static string PackageFolder
    {
        get
        {
            var folder = Environment.GetEnvironmentVariable(Variable);
            if (string.IsNullOrWhiteSpace(folder))
            {
                throw new InvalidOperationException(
                    $"{Variable} is not set. Run scripts/ensure-standardwebhooks.sh and export {Variable} to the folder it prints (scripts/test.sh does both).");
            }
            if (!File.Exists(Path.Combine(folder, "package.json")))
            {
                throw new InvalidOperationException(
                    $"{Variable}={folder} holds no package.json. Run scripts/ensure-standardwebhooks.sh and export {Variable} to the folder it prints.");
            }
            return folder;
        }
    }

    public static Task<Result> VerifyAsync(WebhookSecret secret, WebhookHeaders headers, byte[] body) =>
        RunAsync(["verify", secret.Encoded, headers.Id, headers.Timestamp, headers.Signature], body);

    public static async Task<string> SignAsync(WebhookSecret secret, string id, string timestamp, byte[] body)
    {
        var result = await RunAsync(["sign", secret.Encoded, id, timestamp], body);
        Assert.True(result.ExitCode == 0, $"the reference library failed to sign: {result.Output}{result.Errors}");
        return result.Output.Trim();
    }

    private static async Task<Result> RunAsync(IReadOnlyList<string> arguments, byte[] body)
    {
        var start = new ProcessStartInfo("node")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "reference-webhook.js"));
        start.ArgumentList.Add(PackageFolder);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"node is not on PATH ({e.Message}); install Node.js (apt-get install nodejs).", e);
        }

        using (process)
        using (var limit = new CancellationTokenSource(RunLimit))
        {
            var output = process.StandardOutput.ReadToEndAsync(limit.Token);
            var errors = process.StandardError.ReadToEndAsync(limit.Token);
            await process.StandardInput.BaseStream.WriteAsync(body, limit.Token);
            process.StandardInput.Close();
            try
            {
                await process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"node did not finish within {RunLimit}");
            }
            return new Result(process.ExitCode, await output, await errors);
        }
    }
}

using Jobplane.Testing;

namespace Jobplane.ImagesTests;

/// <summary>
/// The docker command line against the test engine (<see cref="TestDocker.Host"/>): the same
/// commands an operator types, so a test reads like the run it stands for.
/// </summary>
public static class DockerCli
{
    /// <summary>Marks every container these tests start, for cleanup and for a reader of `docker ps`.</summary>
    public const string Label = "jobplane.images-test=true";

    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    public static async Task<ChildCommand.Result> RunAsync(params string[] args) =>
        await ChildCommand.RunAsync("docker", ["-H", TestDocker.Host, .. args], CommandTimeout);

    /// <summary>Runs a docker command that must succeed; its output, or an exception quoting it.</summary>
    public static async Task<string> CheckedAsync(params string[] args)
    {
        var result = await RunAsync(args);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"docker {string.Join(' ', args)} failed ({result.ExitCode}):\n{result.Output}");
        return result.Output;
    }

    /// <summary>Removes a container whatever its state; a container already gone is not an error.</summary>
    public static async Task RemoveAsync(string name) => await RunAsync("rm", "-f", "-v", name);
}

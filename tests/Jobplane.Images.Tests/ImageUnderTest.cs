namespace Jobplane.ImagesTests;

/// <summary>
/// The image the tests run: JOBPLANE_TEST_IMAGE, or jobplane:dev as scripts/build-images.sh tags it.
/// The tests never build it themselves (scripts/test.sh does, before any test runs): a missing image
/// fails every test with the command that makes it.
/// </summary>
public static class ImageUnderTest
{
    /// <summary>The tag scripts/build-images.sh gives the image unless told otherwise.</summary>
    public const string DefaultName = "jobplane:dev";

    public static string Name =>
        Environment.GetEnvironmentVariable("JOBPLANE_TEST_IMAGE") is { Length: > 0 } configured ? configured.Trim() : DefaultName;

    /// <summary>The user the image runs as when no --user is given (Config.User).</summary>
    public static async Task<string> ConfiguredUserAsync()
    {
        await RequireAsync();
        return (await DockerCli.CheckedAsync("image", "inspect", "--format", "{{.Config.User}}", Name)).Trim();
    }

    /// <summary>Throws, naming the build command, when the image is not on the test engine.</summary>
    public static async Task RequireAsync()
    {
        var inspect = await DockerCli.RunAsync("image", "inspect", "--format", "{{.Id}}", Name);
        if (inspect.ExitCode != 0)
            throw new InvalidOperationException(
                $"the image {Name} is not on the test Docker Engine: build it with scripts/build-images.sh " +
                $"(scripts/test.sh does so before the tests). docker said: {inspect.Output}");
    }
}

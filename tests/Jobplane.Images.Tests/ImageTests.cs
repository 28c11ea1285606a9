using System.Globalization;

namespace Jobplane.ImagesTests;

/// <summary>What the image promises before anything is deployed: non-root, read-only friendly, three entry points.</summary>
public sealed class ImageTests
{
    [Fact]
    public async Task Image_runs_as_a_numeric_non_root_user_by_default()
    {
        var user = await ImageUnderTest.ConfiguredUserAsync();

        var uid = user.Split(':')[0];
        Assert.True(int.TryParse(uid, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number != 0,
            $"the image's USER must be a numeric non-root uid, got '{user}'");
    }

    [Fact]
    public async Task Jobctl_answers_its_version_as_the_default_user_on_a_read_only_root()
    {
        await ImageUnderTest.RequireAsync();

        var run = await DockerCli.RunAsync("run", "--rm", "--label", DockerCli.Label, "--read-only", "--tmpfs", "/tmp",
            "--network", "none", "--entrypoint", "jobctl", ImageUnderTest.Name, "--version");

        Assert.True(run.ExitCode == 0, $"jobctl --version failed ({run.ExitCode}):\n{run.Output}");
        Assert.Matches(@"^\d+\.\d+\.\d+", run.Output);
    }

    [Fact]
    public async Task Programs_in_the_container_run_with_the_image_user_id()
    {
        var user = await ImageUnderTest.ConfiguredUserAsync();

        var run = await DockerCli.RunAsync("run", "--rm", "--label", DockerCli.Label, "--read-only", "--tmpfs", "/tmp",
            "--network", "none", "--entrypoint", "id", ImageUnderTest.Name, "-u");

        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Equal(user.Split(':')[0], run.Output.Trim());
    }

    [Fact]
    public async Task The_controller_is_the_default_entry_point_and_the_worker_is_on_the_path()
    {
        await ImageUnderTest.RequireAsync();
        var entrypoint = (await DockerCli.CheckedAsync("image", "inspect", "--format", "{{json .Config.Entrypoint}}", ImageUnderTest.Name)).Trim();

        // Without its settings each program refuses to start and says what is missing: proof that it
        // runs from the image, not merely that a file of that name exists.
        var worker = await DockerCli.RunAsync("run", "--rm", "--label", DockerCli.Label, "--read-only", "--tmpfs", "/tmp",
            "--network", "none", "--entrypoint", "jobplane-worker", ImageUnderTest.Name);
        var controller = await DockerCli.RunAsync("run", "--rm", "--label", DockerCli.Label, "--read-only", "--tmpfs", "/tmp",
            "--network", "none", ImageUnderTest.Name);

        Assert.Equal("""["jobplane-controller"]""", entrypoint);
        Assert.NotEqual(0, worker.ExitCode);
        Assert.Contains("WORKER_TOKEN is required", worker.Output);
        Assert.NotEqual(0, controller.ExitCode);
        Assert.Contains("DATABASE_URL", controller.Output);
    }
}

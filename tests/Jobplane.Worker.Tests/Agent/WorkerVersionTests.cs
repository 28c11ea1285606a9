using Jobplane.Api;

namespace Jobplane.Worker.Tests.Agent;

/// <summary>The version a worker names on every request (User-Agent), which the controller's worker registry records.</summary>
public sealed class WorkerVersionTests
{
    [Fact]
    public void The_worker_names_its_assembly_version_in_a_form_the_controller_records()
    {
        Assert.Equal(Wire.WorkerProduct, WorkerVersion.UserAgent.Product!.Name);
        Assert.Equal(WorkerVersion.Text, WorkerVersion.UserAgent.Product.Version);
        // The controller records at most 100 characters of [0-9A-Za-z.+-] and nothing else.
        Assert.Matches("^[0-9A-Za-z.+-]{1,100}$", WorkerVersion.Text);
        Assert.StartsWith(typeof(WorkerVersion).Assembly.GetName().Version!.ToString(3), WorkerVersion.Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1.2.3+abc123", "1.2.3+abc123")]
    [InlineData("1.2.3 (local build)", "1.2.3localbuild")]
    [InlineData("", "0.0.0")]
    [InlineData(null, "0.0.0")]
    [InlineData("/// ", "0.0.0")]
    public void A_version_is_cut_to_what_the_controller_accepts(string? informational, string sent) =>
        Assert.Equal(sent, WorkerVersion.Clean(informational));

    [Fact]
    public void A_long_version_is_cut_to_100_characters() =>
        Assert.Equal(100, WorkerVersion.Clean(new string('7', 300)).Length);
}

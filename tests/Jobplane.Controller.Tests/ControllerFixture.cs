using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>
/// One real controller on one fresh database per test class (xunit class fixtures need a
/// parameterless constructor, which <see cref="ControllerHost"/> does not have). Tests in a class
/// still use their own tenants, and every dequeue names its tenants, so they never see each other's work.
/// </summary>
public sealed class ControllerFixture : IAsyncLifetime
{
    public ControllerHost Host { get; } = new();

    public Task InitializeAsync() => Host.InitializeAsync();

    public Task DisposeAsync() => Host.DisposeAsync();
}

namespace Jobplane.Worker.Runtimes.Docker;

/// <summary>RUNTIME=docker: jobs as containers through the Docker Engine API (the DOCKER_* settings).</summary>
internal static class DockerRegistration
{
    public static RuntimeRegistration Registration { get; } = new(DockerRuntime.RuntimeName, (services, options) =>
    {
        var docker = options.Docker ?? throw new InvalidOperationException("RUNTIME=docker needs the DOCKER_* settings");
        RuntimeRegistration.AddSupervised(services, (provider, logger) =>
            new DockerRuntime(docker, logger, provider.GetRequiredService<TimeProvider>()));
    });
}

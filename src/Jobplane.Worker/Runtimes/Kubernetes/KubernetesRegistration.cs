namespace Jobplane.Worker.Runtimes.Kubernetes;

/// <summary>RUNTIME=kubernetes: each attempt a batch/v1 Job in one namespace (the KUBERNETES_* settings).</summary>
internal static class KubernetesRegistration
{
    public static RuntimeRegistration Registration { get; } = new(KubernetesRuntimeOptions.RuntimeName, (services, options) =>
    {
        var kubernetes = options.Kubernetes ?? throw new InvalidOperationException("RUNTIME=kubernetes needs the KUBERNETES_* settings");
        RuntimeRegistration.AddSupervised(services, (provider, logger) =>
            new KubernetesRuntime(kubernetes, logger, provider.GetRequiredService<TimeProvider>()));
    });
}

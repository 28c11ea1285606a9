using Microsoft.Extensions.Logging;

namespace Jobplane.Worker.Runtimes;

/// <summary>
/// Every runtime this build has, by RUNTIME name. Adding one: a folder of its own under Runtimes/
/// with a driver (<see cref="IRuntimeDriver"/>) and a <see cref="RuntimeRegistration"/>, and one
/// line here.
/// </summary>
public static class RuntimeRegistry
{
    public static IReadOnlyList<RuntimeRegistration> All { get; } =
    [
        Exec.ExecRegistration.Registration,
        Docker.DockerRegistration.Registration,
        Kubernetes.KubernetesRegistration.Registration,
        Noop.NoopRuntime.Registration,
    ];

    /// <summary>The registration named <paramref name="name"/>; null when this build has no such runtime.</summary>
    public static RuntimeRegistration? Find(string name) =>
        All.FirstOrDefault(r => string.Equals(r.Name, name, StringComparison.Ordinal));

    /// <summary>"exec, docker; noop for benchmarks": what an operator may set RUNTIME to.</summary>
    public static string Describe()
    {
        var runtimes = string.Join(", ", All.Where(r => !r.ForBenchmarks).Select(r => r.Name));
        var benchmarks = All.Where(r => r.ForBenchmarks).Select(r => r.Name).ToList();
        return benchmarks.Count == 0 ? runtimes : $"{runtimes}; {string.Join(", ", benchmarks)} for benchmarks";
    }
}

/// <summary>How a runtime joins the worker: its name and the services that make its <see cref="IJobRuntime"/>.</summary>
/// <param name="ForBenchmarks">A tool for measuring the platform, not a way to run jobs.</param>
public sealed record RuntimeRegistration(string Name, Action<IServiceCollection, WorkerOptions> AddServices, bool ForBenchmarks = false)
{
    /// <summary>
    /// Registers the runtime as its driver under an <see cref="AttemptSupervisor"/>; both log under
    /// the driver's category, so that an attempt's lines read as one runtime's.
    /// </summary>
    public static void AddSupervised<TDriver>(IServiceCollection services, Func<IServiceProvider, ILogger, TDriver> driver)
        where TDriver : IRuntimeDriver =>
        services.AddSingleton<IJobRuntime>(provider =>
        {
            var logger = provider.GetRequiredService<ILogger<TDriver>>();
            var time = provider.GetRequiredService<TimeProvider>();
            return new AttemptSupervisor(driver(provider, logger), logger, time);
        });
}

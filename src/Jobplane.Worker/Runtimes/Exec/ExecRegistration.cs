namespace Jobplane.Worker.Runtimes.Exec;

/// <summary>RUNTIME=exec: jobs as local processes.</summary>
internal static class ExecRegistration
{
    public static RuntimeRegistration Registration { get; } = new(ExecRuntime.RuntimeName, (services, options) =>
    {
        var exec = new ExecRuntimeOptions
        {
            WorkRoot = options.WorkRoot,
            WorkerId = options.WorkerId,
            KillGrace = options.KillGrace,
            JobUsers = options.ExecJobUsers,
            UserLockDirectory = options.ExecUserLockDirectory,
            RunAsWorkerUser = options.ExecRunAsWorkerUser,
            WorkDirectoryMaxBytes = options.ExecWorkDirectoryMaxBytes,
        };
        RuntimeRegistration.AddSupervised(services, (provider, logger) =>
            new ExecRuntime(exec, logger, provider.GetRequiredService<TimeProvider>()));
    });
}

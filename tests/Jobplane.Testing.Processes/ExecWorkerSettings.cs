namespace Jobplane.Testing.Processes;

/// <summary>The settings of an exec worker under test, before any a test adds or overrides.</summary>
public static class ExecWorkerSettings
{
    public static Dictionary<string, string?> For(string controllerUrl, string workerToken, string workerId, string workRoot) => new()
    {
        ["CONTROLLER_URL"] = controllerUrl,
        ["WORKER_TOKEN"] = workerToken,
        ["WORKER_ID"] = workerId,
        ["RUNTIME"] = "exec",
        ["RUNTIME_WORKDIR"] = workRoot,
        ["WORKER_CONCURRENCY"] = "4",
        ["WORKER_HEARTBEAT_INTERVAL"] = "1s",
        ["WORKER_KILL_GRACE"] = "1s",
        // Several workers share this host: no metrics listener unless a test asks for one.
        ["WORKER_METRICS_PORT"] = "0",
    };
}

namespace Jobplane.Testing.Processes;

/// <summary>Where the platform's built binaries (jobplane-controller, jobplane-worker, jobctl) are.</summary>
public static class PlatformBinaries
{
    /// <summary>A binary built by `make build-all` ($JOBPLANE_BIN), falling back to the project's Debug build.</summary>
    public static string Locate(string name)
    {
        var bin = Environment.GetEnvironmentVariable("JOBPLANE_BIN");
        if (!string.IsNullOrEmpty(bin) && File.Exists(Path.Combine(bin, name))) return Path.Combine(bin, name);
        var project = name switch
        {
            "jobplane-controller" => "Jobplane.Controller",
            "jobplane-worker" => "Jobplane.Worker",
            "jobctl" => "Jobplane.Cli",
            _ => throw new ArgumentException($"not a platform binary: {name}", nameof(name)),
        };
        var debug = Path.Combine(RepositoryRoot.Find(), "src", project, "bin", "Debug", "net10.0", name);
        return File.Exists(debug) ? debug : throw new FileNotFoundException($"{name} not built: run 'make build-all' or set JOBPLANE_BIN", debug);
    }
}

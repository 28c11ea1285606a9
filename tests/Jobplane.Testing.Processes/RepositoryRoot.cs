namespace Jobplane.Testing.Processes;

/// <summary>The checkout the running test program was built from (the folder holding Jobplane.slnx).</summary>
public static class RepositoryRoot
{
    public static string? TryFind()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Jobplane.slnx"))) dir = Path.GetDirectoryName(dir);
        return dir;
    }

    public static string Find() => TryFind() ?? throw new InvalidOperationException("repository root (Jobplane.slnx) not found");
}

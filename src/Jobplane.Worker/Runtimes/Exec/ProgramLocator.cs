namespace Jobplane.Worker.Runtimes.Exec;

/// <summary>
/// Decides before starting whether the job's program can be executed, the way execvp(3) would
/// look it up. setpriv reports a failed exec only as exit code 126/127 plus a line on stderr, which
/// a user cannot tell from their own program exiting with 127; checking first gives them
/// "cannot start 'x': No such file or directory" and a non-retryable failure instead.
/// </summary>
internal static class ProgramLocator
{
    private const int ENOTDIR = 20;
    private const int EISDIR = 21;

    /// <summary>Null when <paramref name="program"/> can be started, else why not.</summary>
    public static string? WhyNotStartable(string program, string? searchPath, string workDirectory)
    {
        if (program.Contains('/'))
        {
            // Relative paths are resolved against the job's working directory, as the exec will.
            var errno = Check(Path.IsPathRooted(program) ? program : Path.Combine(workDirectory, program));
            return errno == 0 ? null : LibC.Describe(errno);
        }

        var firstRealError = 0;
        foreach (var entry in (searchPath ?? "").Split(':'))
        {
            // An empty PATH entry means the current directory to execvp.
            var errno = Check(Path.Combine(entry.Length == 0 ? workDirectory : entry, program));
            if (errno == 0) return null;
            // Like execvp: "not here" keeps looking; a program found but not executable is the
            // error to report if nothing better turns up.
            if (errno is not (LibC.ENOENT or ENOTDIR) && firstRealError == 0) firstRealError = errno;
        }
        return LibC.Describe(firstRealError != 0 ? firstRealError : LibC.ENOENT);
    }

    /// <summary>
    /// The path execvp(3) would run for <paramref name="program"/>; call after <see cref="WhyNotStartable"/>
    /// said it can be started. The job is spawned with this path, so its own PATH decides, not the worker's.
    /// </summary>
    public static string Resolve(string program, string? searchPath, string workDirectory)
    {
        if (program.Contains('/')) return Path.IsPathRooted(program) ? program : Path.Combine(workDirectory, program);
        foreach (var entry in (searchPath ?? "").Split(':'))
        {
            var candidate = Path.Combine(entry.Length == 0 ? workDirectory : entry, program);
            if (Check(candidate) == 0) return candidate;
        }
        return program;
    }

    private static int Check(string file)
    {
        var errno = LibC.Access(file, LibC.X_OK);
        if (errno != 0) return errno;
        // access(X_OK) succeeds for a searchable directory, which cannot be executed.
        return Directory.Exists(file) ? EISDIR : 0;
    }
}

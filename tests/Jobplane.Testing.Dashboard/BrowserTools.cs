using Jobplane.Testing.Processes;

namespace Jobplane.Testing.Dashboard;

/// <summary>
/// Where the browser and the accessibility checker are. Each comes from an environment variable that
/// scripts/test.sh sets from the script installing it, with the place that script installs to as the
/// default; a missing one fails the test with the command that installs it, never skips it.
/// </summary>
public static class BrowserTools
{
    public const string ChromiumVariable = "JOBPLANE_TEST_CHROMIUM";
    public const string AxeVariable = "JOBPLANE_TEST_AXE";

    /// <summary>Debian's Chromium (scripts/ensure-chromium.sh).</summary>
    public static string Chromium => Locate(ChromiumVariable, "/usr/bin/chromium", "scripts/ensure-chromium.sh");

    /// <summary>axe-core's axe.min.js in the project's tools folder (scripts/ensure-axe.sh).</summary>
    public static string AxeScript => Locate(AxeVariable,
        RepositoryRoot.TryFind() is { } root ? Path.Combine(root, ".tools", "axe-core", "node_modules", "axe-core", "axe.min.js") : "",
        "scripts/ensure-axe.sh");

    private static string Locate(string variable, string fallback, string installer)
    {
        var set = Environment.GetEnvironmentVariable(variable);
        var path = string.IsNullOrWhiteSpace(set) ? fallback : set;
        if (path.Length > 0 && File.Exists(path)) return path;
        var where = string.IsNullOrWhiteSpace(set) ? $"{variable} is not set and the default {fallback} does not exist" : $"{variable}={set} does not exist";
        throw new InvalidOperationException(
            $"{where}. Install it with {installer} and export {variable} to the path it prints (scripts/test.sh does both).");
    }
}

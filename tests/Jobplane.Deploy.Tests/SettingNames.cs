using System.Text.RegularExpressions;
using System.Xml.Linq;
using Jobplane.Testing.Processes;

namespace Jobplane.Deploy.Tests;

/// <summary>
/// The environment variable names a jobplane binary can read, gathered from its source: every
/// quoted UPPER_CASE literal ("DATABASE_URL", "PORT") in the .cs files of its project and of the
/// projects it references, transitively. The options classes read settings by string key through a
/// SettingReader or IConfiguration, and some keys are constants in shared projects
/// (LogFormat.Setting, Telemetry.EndpointSetting), so reflection over the options types would miss
/// them; scanning the source errs the other way (a key quoted in an error message also counts), but
/// only with names that exist in the binary, which is what the manifests must not get wrong: a
/// misspelt or invented name, or a setting of the other binary (SYSTEM_SECRET on a worker).
/// </summary>
public static partial class SettingNames
{
    public const string Controller = "jobplane-controller";
    public const string Worker = "jobplane-worker";

    private static readonly Dictionary<string, string> Projects = new()
    {
        [Controller] = "src/Jobplane.Controller/Jobplane.Controller.csproj",
        [Worker] = "src/Jobplane.Worker/Jobplane.Worker.csproj",
    };

    private static readonly Dictionary<string, Lazy<IReadOnlySet<string>>> Cache = Projects.Keys
        .ToDictionary(b => b, b => new Lazy<IReadOnlySet<string>>(() => Gather(b)));

    /// <summary>The names <paramref name="binary"/> (jobplane-controller or jobplane-worker) reads.</summary>
    public static IReadOnlySet<string> Of(string binary) =>
        Cache.TryGetValue(binary, out var names) ? names.Value : throw new ArgumentException($"unknown binary '{binary}'", nameof(binary));

    private static HashSet<string> Gather(string binary)
    {
        var root = RepositoryRoot.Find();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var project in WithReferences(Path.Combine(root, Projects[binary])))
        {
            var folder = Path.GetDirectoryName(project)!;
            foreach (var file in Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories))
            {
                var relative = Path.GetRelativePath(folder, file);
                if (relative.StartsWith("obj" + Path.DirectorySeparatorChar, StringComparison.Ordinal)
                    || relative.StartsWith("bin" + Path.DirectorySeparatorChar, StringComparison.Ordinal)) continue;
                foreach (Match m in QuotedName().Matches(File.ReadAllText(file))) names.Add(m.Groups[1].Value);
            }
        }
        return names;
    }

    private static List<string> WithReferences(string project)
    {
        var seen = new List<string>();
        var pending = new Stack<string>([Path.GetFullPath(project)]);
        while (pending.TryPop(out var next))
        {
            if (seen.Contains(next)) continue;
            seen.Add(next);
            foreach (var reference in XDocument.Load(next).Descendants("ProjectReference"))
            {
                var include = reference.Attribute("Include")?.Value.Replace('\\', '/');
                if (include is not null) pending.Push(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(next)!, include)));
            }
        }
        return seen;
    }

    [GeneratedRegex("\"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)\"")]
    private static partial Regex QuotedName();
}

using System.Text;
using System.Text.Json;
using Microsoft.Playwright;
using Xunit;

namespace Jobplane.Testing.Dashboard;

/// <summary>One rule axe-core found broken on a page, with the elements that break it.</summary>
/// <param name="Impact">minor, moderate, serious or critical.</param>
/// <param name="Targets">CSS selectors of the offending elements.</param>
public sealed record AxeViolation(string Id, string Impact, string Help, string HelpUrl, IReadOnlyList<string> Targets);

/// <summary>
/// Accessibility checks with axe-core: injected into the page under test and run there, on the DOM
/// the browser really built.
/// </summary>
public static class Axe
{
    /// <summary>
    /// What fails a check: every impact. The dashboard's pages have none at any impact, so a new
    /// moderate or minor finding is a regression to fix, not a number to watch grow in the report.
    /// </summary>
    public static readonly IReadOnlySet<string> Failing = new HashSet<string>(StringComparer.Ordinal) { "minor", "moderate", "serious", "critical" };

    private const string Run = """
        async () => {
          const results = await axe.run(document, { resultTypes: ['violations'] });
          return results.violations.map(v => ({
            id: v.id,
            impact: v.impact ?? 'minor',
            help: v.help,
            helpUrl: v.helpUrl,
            targets: v.nodes.map(n => n.target.join(' ')),
          }));
        }
        """;

    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };

    /// <summary>Runs every axe rule on the page as it is now and returns what is broken.</summary>
    public static async Task<IReadOnlyList<AxeViolation>> RunAsync(IPage page)
    {
        // Evaluated through the browser's debugging protocol, not added as an inline <script> element:
        // a page whose Content-Security-Policy refuses inline scripts would refuse that, and the
        // policy under test must not be loosened for the check.
        await page.EvaluateAsync(await File.ReadAllTextAsync(BrowserTools.AxeScript));
        var found = await page.EvaluateAsync<JsonElement>(Run);
        return found.Deserialize<List<AxeViolation>>(Json) ?? [];
    }

    /// <summary>
    /// Checks the page, records its counts by impact in the report (<see cref="AxeReport"/>) under
    /// <paramref name="name"/>, and fails listing every violation.
    /// </summary>
    public static async Task<IReadOnlyList<AxeViolation>> CheckAsync(IPage page, string name)
    {
        var violations = await RunAsync(page);
        AxeReport.Record(name, page.Url, violations);
        FailOnViolations(name, page.Url, violations);
        return violations;
    }

    /// <summary>Fails, listing them, when there is any violation.</summary>
    public static void FailOnViolations(string name, string url, IReadOnlyList<AxeViolation> violations)
    {
        var failing = violations.Where(v => Failing.Contains(v.Impact)).ToList();
        if (failing.Count > 0) Assert.Fail($"{name} ({url}) has {failing.Count} accessibility violations:\n{Describe(failing)}");
    }

    /// <summary>One line per violation and one indented line per element, for a failure message.</summary>
    public static string Describe(IEnumerable<AxeViolation> violations)
    {
        var text = new StringBuilder();
        foreach (var v in violations)
        {
            text.Append("  [").Append(v.Impact).Append("] ").Append(v.Id).Append(": ").Append(v.Help).Append(" (").Append(v.HelpUrl).AppendLine(")");
            foreach (var target in v.Targets) text.Append("      ").AppendLine(target);
        }
        return text.ToString();
    }
}

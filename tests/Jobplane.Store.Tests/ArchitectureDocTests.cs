using System.Text;
using Jobplane.Api;
using Jobplane.Testing.Processes;

namespace Jobplane.Store.Tests;

/// <summary>
/// docs/architecture.md draws an execution's state machine. The drawing is generated from
/// <see cref="ExecutionTransitions.AllowedTransitions"/>, so a change to the function that is not
/// carried into the document fails here, with the block to paste.
/// </summary>
public sealed class ArchitectureDocTests
{
    private const string Begin = "<!-- state-diagram:begin";
    private const string End = "<!-- state-diagram:end -->";

    [Fact]
    public void The_documented_state_diagram_is_the_one_the_transition_function_allows()
    {
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot.Find(), "docs", "architecture.md"));
        var begin = doc.IndexOf(Begin, StringComparison.Ordinal);
        var end = doc.IndexOf(End, StringComparison.Ordinal);
        Assert.True(begin >= 0 && end > begin, "docs/architecture.md has no state-diagram markers");
        var documented = doc[(doc.IndexOf('\n', begin) + 1)..end].Trim();
        var expected = Mermaid().Trim();
        Assert.True(documented == expected,
            $"docs/architecture.md's state diagram differs from ExecutionTransitions; replace the block with:\n{expected}");
    }

    [Fact]
    public void The_diagram_names_every_status_and_every_event()
    {
        var diagram = Mermaid();
        foreach (var status in ExecutionStatus.All) Assert.Contains(status, diagram, StringComparison.Ordinal);
        foreach (var kind in Enum.GetValues<EventKind>().Where(k => ExecutionTransitions.AllowedTransitions().Any(t => t.Event == k.Word())))
            Assert.Contains(kind.Word(), diagram, StringComparison.Ordinal);
    }

    /// <summary>One edge per (from, to), its events joined; NEW is the diagram's start, finished statuses its ends.</summary>
    internal static string Mermaid()
    {
        var edges = ExecutionTransitions.AllowedTransitions()
            .GroupBy(t => (t.From, t.To))
            .Select(g => (g.Key.From, g.Key.To, Events: string.Join(", ", g.Select(t => t.Event).Distinct())));
        var text = new StringBuilder("```mermaid\nstateDiagram-v2\n");
        foreach (var (from, to, events) in edges)
            text.Append($"    {(from == "NEW" ? "[*]" : from)} --> {to}: {events}\n");
        var finished = ExecutionTransitions.AllowedTransitions().Select(t => t.To).Distinct()
            .Where(s => !ExecutionTransitions.AllowedTransitions().Any(t => t.From == s));
        foreach (var status in finished) text.Append($"    {status} --> [*]\n");
        return text.Append("```").ToString();
    }
}

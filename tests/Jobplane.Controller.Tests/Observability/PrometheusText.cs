using System.Globalization;

namespace Jobplane.Controller.Tests.Observability;

/// <summary>Reads samples out of a Prometheus text exposition.</summary>
internal static class PrometheusText
{
    /// <summary>The value of the sample named <paramref name="name"/> carrying every given label, or null.</summary>
    public static double? Value(string text, string name, params (string Label, string Value)[] labels)
    {
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('#') || !line.StartsWith(name, StringComparison.Ordinal)) continue;
            var rest = line[name.Length..];
            if (rest.Length == 0 || rest[0] is not ('{' or ' ')) continue;
            if (!labels.All(l => rest.Contains($"{l.Label}=\"{l.Value}\"", StringComparison.Ordinal))) continue;
            var value = line[(line.LastIndexOf('}') is var close && close >= 0 ? close + 1 : name.Length)..].Trim().Split(' ')[0];
            return double.Parse(value, CultureInfo.InvariantCulture);
        }
        return null;
    }

    /// <summary>Whether the exposition has a family of this name (its # TYPE line).</summary>
    public static bool HasFamily(string text, string name) => text.Contains($"# TYPE {name} ", StringComparison.Ordinal);
}

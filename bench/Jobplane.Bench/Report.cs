using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Jobplane.Bench;

/// <summary>A goal from the issue: the figure must be at least (or at most) Bound.</summary>
public sealed record Target(double Bound, bool AtLeast)
{
    public static Target Min(double bound) => new(bound, AtLeast: true);
    public static Target Max(double bound) => new(bound, AtLeast: false);

    public bool MetBy(double value) => AtLeast ? value >= Bound : value <= Bound;

    public string Describe(string unit) => $"{(AtLeast ? ">=" : "<=")} {Report.Format(Bound)} {unit}".TrimEnd();
}

/// <summary>One measured figure, with its target when it has one and a note saying what it means or why a target was missed.</summary>
public sealed record Figure(string Key, string Name, double Value, string Unit, Target? Target = null, string? Note = null)
{
    public bool? Met => Target?.MetBy(Value);

    /// <summary>How far from the target, in words: "missed by 62% (3,800 short of 10,000)".</summary>
    public string? Shortfall
    {
        get
        {
            if (Target is not { } t || t.MetBy(Value)) return null;
            var gap = Math.Abs(Value - t.Bound);
            var relative = t.Bound == 0 ? double.PositiveInfinity : gap / t.Bound * 100;
            return t.AtLeast
                ? $"{relative:0}% short ({Report.Format(Value)} of {Report.Format(t.Bound)} {Unit})"
                : $"{relative:0}% over ({Report.Format(Value)} against {Report.Format(t.Bound)} {Unit})";
        }
    }
}

/// <summary>Collects figures as scenarios produce them; prints the table and writes the JSON summary.</summary>
public sealed class Report(BenchOptions options)
{
    private readonly List<Figure> _figures = [];
    private readonly List<string> _notes = [];
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;

    public IReadOnlyList<Figure> Figures => _figures;

    public void Add(Figure figure)
    {
        _figures.Add(figure);
        var verdict = figure.Met switch
        {
            true => "  [met]",
            false => $"  [MISSED: {figure.Shortfall}]",
            null => "",
        };
        Console.WriteLine($"  {figure.Name}: {Format(figure.Value)} {figure.Unit}{verdict}");
    }

    /// <summary>A remark about the run as a whole (how a figure was measured, what was not available).</summary>
    public void Note(string note)
    {
        _notes.Add(note);
        Console.WriteLine($"  note: {note}");
    }

    public Figure? Find(string key) => _figures.FirstOrDefault(f => f.Key == key);

    public string Table()
    {
        var rows = _figures.Select(f => (f.Name, Value: $"{Format(f.Value)} {f.Unit}".TrimEnd(),
            Target: f.Target?.Describe(f.Unit) ?? "",
            Met: f.Met switch { true => "met", false => "MISSED", null => "" })).ToList();
        var w1 = Math.Max(6, rows.Max(r => r.Name.Length));
        var w2 = Math.Max(5, rows.Max(r => r.Value.Length));
        var w3 = Math.Max(6, rows.Max(r => r.Target.Length));
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"| {"Figure".PadRight(w1)} | {"Value".PadLeft(w2)} | {"Target".PadRight(w3)} | Result |");
        sb.AppendLine(CultureInfo.InvariantCulture, $"|{new string('-', w1 + 2)}|{new string('-', w2 + 1)}:|{new string('-', w3 + 2)}|--------|");
        foreach (var r in rows)
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Name.PadRight(w1)} | {r.Value.PadLeft(w2)} | {r.Target.PadRight(w3)} | {r.Met.PadRight(6)} |");
        var missed = _figures.Where(f => f.Met == false).ToList();
        if (missed.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Missed targets:");
            foreach (var f in missed)
                sb.AppendLine(CultureInfo.InvariantCulture, $"- {f.Name}: {f.Shortfall}.{(f.Note is null ? "" : " " + f.Note)}");
        }
        return sb.ToString();
    }

    public JsonObject Json(IReadOnlyDictionary<string, string> machine)
    {
        var figures = new JsonArray();
        foreach (var f in _figures)
        {
            var o = new JsonObject
            {
                ["key"] = f.Key,
                ["name"] = f.Name,
                ["value"] = Math.Round(f.Value, 3),
                ["unit"] = f.Unit,
            };
            if (f.Target is { } t)
            {
                o["target"] = t.Describe(f.Unit);
                o["met"] = f.Met;
                if (f.Shortfall is { } s) o["shortfall"] = s;
            }
            if (f.Note is not null) o["note"] = f.Note;
            figures.Add(o);
        }
        var machineJson = new JsonObject();
        foreach (var (k, v) in machine) machineJson[k] = v;
        return new JsonObject
        {
            ["command"] = options.Quick ? "make bench-quick" : "make bench",
            ["quick"] = options.Quick,
            ["started_at"] = _started.ToString("O", CultureInfo.InvariantCulture),
            ["duration_seconds"] = Math.Round((DateTimeOffset.UtcNow - _started).TotalSeconds, 1),
            ["machine"] = machineJson,
            ["targets_met"] = _figures.Count(f => f.Met == true),
            ["targets_missed"] = _figures.Count(f => f.Met == false),
            ["figures"] = figures,
            ["notes"] = new JsonArray([.. _notes.Select(n => (JsonNode)n)]),
        };
    }

    public static string ToJsonText(JsonObject json) => json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    public static string Format(double v) =>
        Math.Abs(v) >= 100 ? v.ToString("#,0", CultureInfo.InvariantCulture)
        : Math.Abs(v) >= 10 ? v.ToString("0.0", CultureInfo.InvariantCulture)
        : v.ToString("0.00", CultureInfo.InvariantCulture);
}

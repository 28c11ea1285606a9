namespace Jobplane.Testing.Kubernetes;

/// <summary>
/// An equality-based label or field selector: "a=b", "a==b", "a!=b", "a" (exists) and "!a"
/// (absent), joined by commas. Set-based terms (in, notin) are refused rather than misread.
/// </summary>
internal sealed class LabelSelector
{
    private readonly List<Func<IReadOnlyDictionary<string, string>, bool>> _terms = [];

    public static readonly LabelSelector Everything = new();

    public static bool TryParse(string? text, out LabelSelector selector, out string error)
    {
        selector = new LabelSelector();
        error = "";
        if (string.IsNullOrWhiteSpace(text)) return true;
        foreach (var raw in text.Split(','))
        {
            var term = raw.Trim();
            if (term.Length == 0) continue;
            if (term.Contains(" in ", StringComparison.Ordinal) || term.Contains(" notin ", StringComparison.Ordinal) || term.Contains('('))
            {
                error = $"set-based selector terms are not supported by this server: \"{term}\"";
                return false;
            }
            int at;
            if ((at = term.IndexOf("!=", StringComparison.Ordinal)) > 0)
            {
                var (key, value) = (term[..at].Trim(), term[(at + 2)..].Trim());
                selector._terms.Add(labels => !labels.TryGetValue(key, out var v) || v != value);
            }
            else if ((at = term.IndexOf("==", StringComparison.Ordinal)) > 0)
            {
                var (key, value) = (term[..at].Trim(), term[(at + 2)..].Trim());
                selector._terms.Add(labels => labels.TryGetValue(key, out var v) && v == value);
            }
            else if ((at = term.IndexOf('=', StringComparison.Ordinal)) > 0)
            {
                var (key, value) = (term[..at].Trim(), term[(at + 1)..].Trim());
                selector._terms.Add(labels => labels.TryGetValue(key, out var v) && v == value);
            }
            else if (term.StartsWith('!'))
            {
                var key = term[1..].Trim();
                selector._terms.Add(labels => !labels.ContainsKey(key));
            }
            else if (term.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/'))
            {
                selector._terms.Add(labels => labels.ContainsKey(term));
            }
            else
            {
                error = $"unable to parse requirement: \"{term}\"";
                return false;
            }
        }
        return true;
    }

    public bool Matches(IReadOnlyDictionary<string, string> labels) => _terms.All(t => t(labels));
}

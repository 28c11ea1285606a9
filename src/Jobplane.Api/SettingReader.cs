using System.Globalization;

namespace Jobplane.Api;

/// <summary>
/// Reads typed settings from a key lookup (environment variables, configuration), collecting every
/// problem instead of stopping at the first, so a process refuses to start with one message naming
/// all its bad settings.
/// </summary>
public sealed class SettingReader(Func<string, string?> lookup)
{
    private readonly List<string> _errors = [];

    public IReadOnlyList<string> Errors => _errors;

    public string? String(string key) => lookup(key) is { } s && !string.IsNullOrWhiteSpace(s) ? s.Trim() : null;

    public int Int(string key, int fallback, int min, int max)
    {
        var s = lookup(key);
        if (string.IsNullOrWhiteSpace(s)) return fallback;
        if (int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max) return v;
        _errors.Add($"{key} must be an integer between {min} and {max} (got '{s}')");
        return fallback;
    }

    public TimeSpan Duration(string key, TimeSpan fallback)
    {
        var s = lookup(key);
        if (string.IsNullOrWhiteSpace(s)) return fallback;
        if (Durations.TryParse(s, out var v)) return v;
        _errors.Add($"{key} must be a duration such as 500ms, 10s, 2m or a number of seconds (got '{s}')");
        return fallback;
    }

    public void Error(string message) => _errors.Add(message);

    /// <summary>Throws one exception listing every problem found, if there was any.</summary>
    public void ThrowIfInvalid()
    {
        if (_errors.Count > 0) throw new InvalidOperationException("invalid configuration:\n  " + string.Join("\n  ", _errors));
    }
}

using System.Globalization;

namespace Jobplane.Api;

/// <summary>
/// Parses durations from configuration: "500ms", "10s", "2m", "1h", "1m30s", or a bare number of
/// seconds ("30", "0.5") as the old jobplane accepted.
/// </summary>
public static class Durations
{
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var s = text.Trim();
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var bare))
        {
            if (bare < 0 || double.IsNaN(bare) || double.IsInfinity(bare)) return false;
            value = TimeSpan.FromSeconds(bare);
            return true;
        }
        var total = TimeSpan.Zero;
        var i = 0;
        while (i < s.Length)
        {
            var start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
            if (start == i) return false;
            if (!double.TryParse(s.AsSpan(start, i - start), NumberStyles.Float, CultureInfo.InvariantCulture, out var n)) return false;
            var unitStart = i;
            while (i < s.Length && char.IsAsciiLetter(s[i])) i++;
            TimeSpan? part = s[unitStart..i] switch
            {
                "ms" => TimeSpan.FromMilliseconds(n),
                "s" => TimeSpan.FromSeconds(n),
                "m" => TimeSpan.FromMinutes(n),
                "h" => TimeSpan.FromHours(n),
                _ => null,
            };
            if (part is null) return false;
            total += part.Value;
        }
        value = total;
        return true;
    }

    /// <summary>Formats for people: "2s", "1.5s", "250ms", "5m".</summary>
    public static string Format(TimeSpan value)
    {
        if (value.TotalSeconds < 1 && value > TimeSpan.Zero)
            return $"{value.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture)}ms";
        if (value.TotalSeconds >= 120 && value.TotalSeconds % 60 == 0)
            return $"{(value.TotalSeconds / 60).ToString("0", CultureInfo.InvariantCulture)}m";
        return $"{value.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)}s";
    }
}

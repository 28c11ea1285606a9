using System.Globalization;

namespace Jobplane.Api;

/// <summary>
/// Sizes of stored data as operators and administrators write them (LOG_MAX_BYTES_PER_EXECUTION,
/// a tenant's log cap): binary units, and messages that say them the same way.
/// </summary>
public static class ByteSizes
{
    /// <summary>"16MiB", "16m", "512KiB", "1g" (binary units), or a number of bytes.</summary>
    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        var s = text.Trim().ToLowerInvariant();
        var digits = 0;
        while (digits < s.Length && char.IsAsciiDigit(s[digits])) digits++;
        if (digits == 0 || !long.TryParse(s.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture, out var n)) return false;
        long unit = s[digits..].Trim() switch
        {
            "" or "b" => 1,
            "k" or "kb" or "kib" => 1L << 10,
            "m" or "mb" or "mib" => 1L << 20,
            "g" or "gb" or "gib" => 1L << 30,
            _ => 0,
        };
        if (unit == 0 || n > long.MaxValue / unit) return false;
        bytes = n * unit;
        return true;
    }

    /// <summary>"16 MiB", "512 KiB", "100 bytes": the largest binary unit that divides the size.</summary>
    public static string Format(long bytes) =>
        bytes % (1L << 30) == 0 ? $"{bytes >> 30} GiB"
        : bytes % (1L << 20) == 0 ? $"{bytes >> 20} MiB"
        : bytes % (1L << 10) == 0 ? $"{bytes >> 10} KiB"
        : $"{bytes} bytes";
}

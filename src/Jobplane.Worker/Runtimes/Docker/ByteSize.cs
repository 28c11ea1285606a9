using System.Globalization;

namespace Jobplane.Worker.Runtimes.Docker;

/// <summary>
/// Memory sizes in settings and messages. Units are binary, as in `docker run --memory`:
/// "64m", "64MiB" and "64MB" all mean 64 x 1024 x 1024 bytes; a bare number is bytes.
/// </summary>
public static class ByteSize
{
    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var s = text.Trim();
        var split = 0;
        while (split < s.Length && (char.IsAsciiDigit(s[split]) || s[split] == '.')) split++;
        if (split == 0 || !decimal.TryParse(s.AsSpan(0, split), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            return false;
        long? unit = s[split..].Trim().ToLowerInvariant() switch
        {
            "" or "b" => 1,
            "k" or "kb" or "ki" or "kib" => 1L << 10,
            "m" or "mb" or "mi" or "mib" => 1L << 20,
            "g" or "gb" or "gi" or "gib" => 1L << 30,
            "t" or "tb" or "ti" or "tib" => 1L << 40,
            _ => null,
        };
        if (unit is null) return false;
        try
        {
            var value = decimal.Round(number * unit.Value);
            if (value > long.MaxValue) return false;
            bytes = (long)value;
            return true;
        }
        catch (OverflowException)
        {
            return false;
        }
    }

    /// <summary>"64 MiB", "1.5 GiB", "512 KiB", "100 bytes".</summary>
    public static string Format(long bytes)
    {
        static string In(long bytes, long unit, string name) =>
            ((decimal)bytes / unit).ToString("0.##", CultureInfo.InvariantCulture) + " " + name;
        return bytes switch
        {
            >= 1L << 30 => In(bytes, 1L << 30, "GiB"),
            >= 1L << 20 => In(bytes, 1L << 20, "MiB"),
            >= 1L << 10 => In(bytes, 1L << 10, "KiB"),
            _ => bytes.ToString(CultureInfo.InvariantCulture) + " bytes",
        };
    }
}

using System.Text;

namespace Jobplane.Api;

/// <summary>
/// Makes text from workers and tenants storable in a PostgreSQL text column. .NET strings are
/// UTF-16 and may hold what UTF-8 cannot: a lone surrogate (half of a pair, e.g. after a cut at a
/// fixed length) cannot be encoded at all, and PostgreSQL text cannot hold NUL. Either one used to
/// fail the whole statement, so one bad byte in a job's error text made its report unstorable.
/// Every cut here falls on a character boundary, never between the halves of a pair.
/// </summary>
public static class StorableText
{
    /// <summary>What stands in for a character that cannot be stored.</summary>
    public const char Replacement = '\uFFFD';

    /// <summary>Appended where <see cref="Clean"/> cut text short, so a reader knows there was more.</summary>
    public const string CutMarker = " [...cut]";

    /// <summary>
    /// The text with NUL and lone surrogates replaced by U+FFFD, cut (on a character boundary, with
    /// <see cref="CutMarker"/> inside the bounds) to at most <paramref name="maxChars"/> UTF-16 units
    /// and <paramref name="maxUtf8Bytes"/> bytes of UTF-8. Returns the same instance when nothing
    /// needed changing, which is the common case and costs one scan.
    /// </summary>
    public static string Clean(string text, int maxChars = int.MaxValue, int maxUtf8Bytes = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxChars, CutMarker.Length);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxUtf8Bytes, CutMarker.Length);
        if (text.Length <= maxChars && IsStorable(text) && (maxUtf8Bytes == int.MaxValue || Utf8Length(text) <= maxUtf8Bytes))
            return text;

        // Either a character needs replacing or the text is over a bound. First pass: how much of
        // the cleaned text fits whole; if not all of it, how much fits with the marker.
        var fitsWhole = Fits(text, maxChars, maxUtf8Bytes, out var wholeEnd);
        var end = wholeEnd;
        var cut = !fitsWhole;
        if (cut) Fits(text, maxChars - CutMarker.Length, maxUtf8Bytes - CutMarker.Length, out end);

        var builder = new StringBuilder(end + (cut ? CutMarker.Length : 0));
        var i = 0;
        while (i < end)
        {
            var status = Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out var used);
            if (status != System.Buffers.OperationStatus.Done || rune.Value == 0) builder.Append(Replacement);
            else builder.Append(text, i, used);
            i += used;
        }
        if (cut) builder.Append(CutMarker);
        return builder.ToString();
    }

    /// <summary><see cref="Clean"/>, passing null through.</summary>
    public static string? CleanOrNull(string? text, int maxChars = int.MaxValue, int maxUtf8Bytes = int.MaxValue) =>
        text is null ? null : Clean(text, maxChars, maxUtf8Bytes);

    /// <summary>True when the text has no NUL and no lone surrogate: PostgreSQL can store it as it is.</summary>
    public static bool IsStorable(ReadOnlySpan<char> text) => FirstUnstorable(text) < 0;

    /// <summary>
    /// Why a value a client chose (a name, a command argument) cannot be stored, naming the field,
    /// or null. Such values are refused rather than cleaned: a silently changed name would be a
    /// different name.
    /// </summary>
    public static string? Problem(string? text, string field)
    {
        if (text is null) return null;
        var at = FirstUnstorable(text);
        if (at < 0) return null;
        return text[at] == '\0'
            ? $"{field} must not contain NUL characters (\\u0000, at index {at})"
            : $"{field} must be valid Unicode text: it has an unpaired surrogate (\\u{(int)text[at]:x4}) at index {at}";
    }

    /// <summary>Index of the first NUL or lone surrogate, or -1.</summary>
    private static int FirstUnstorable(ReadOnlySpan<char> text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0') return i;
            if (!char.IsSurrogate(c)) continue;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }
            return i;
        }
        return -1;
    }

    /// <summary>
    /// Walks whole characters (a lone surrogate counts as the 3-byte U+FFFD it becomes); <paramref name="end"/>
    /// is where the text (as cleaned) stops fitting both bounds. True when all of it fits.
    /// </summary>
    private static bool Fits(string text, int maxChars, int maxUtf8Bytes, out int end)
    {
        var bytes = 0L;
        end = 0;
        while (end < text.Length)
        {
            var status = Rune.DecodeFromUtf16(text.AsSpan(end), out var rune, out var used);
            // A lone surrogate or NUL (one UTF-16 unit) becomes U+FFFD: one unit, three bytes.
            var size = status == System.Buffers.OperationStatus.Done && rune.Value != 0 ? rune.Utf8SequenceLength : 3;
            if (end + used > maxChars || bytes + size > maxUtf8Bytes) return false;
            bytes += size;
            end += used;
        }
        return true;
    }

    private static long Utf8Length(string text)
    {
        long n = 0;
        foreach (var rune in text.EnumerateRunes()) n += rune.Utf8SequenceLength;
        return n;
    }
}

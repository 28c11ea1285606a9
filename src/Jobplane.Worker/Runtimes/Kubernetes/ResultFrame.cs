using System.Buffers.Text;
using System.Globalization;
using System.Text.Json;
using Jobplane.Api;

namespace Jobplane.Worker.Runtimes.Kubernetes;

/// <summary>
/// The one line the result container prints: `JOBPLANE-RESULT base64` or `JOBPLANE-NO-RESULT reason`.
/// The worker trusts nothing about the log it reads it from (the image could be replaced, the line
/// cut short), so <see cref="TryParse"/> accepts exactly one frame line and checks the result again:
/// bounded before it is decoded, at most 1 MiB, valid JSON.
/// </summary>
internal static class ResultFrame
{
    public const string ResultPrefix = "JOBPLANE-RESULT ";
    public const string NoResultPrefix = "JOBPLANE-NO-RESULT ";
    /// <summary>The reason the job wrote no result.json: not a failure, as with the other runtimes.</summary>
    public const string NoResultFile = "no result file";
    /// <summary>A refusal reason longer than this is not one the reader wrote.</summary>
    public const int MaxReasonChars = 4096;

    /// <summary>The base64 of the largest result: a longer frame is refused before anything is decoded.</summary>
    private static readonly int MaxEncodedChars = Base64.GetMaxEncodedToUtf8Length(Wire.MaxResultBytes);

    public static string WithResult(ReadOnlySpan<byte> json) => ResultPrefix + Convert.ToBase64String(json);

    /// <summary>A refusal on one line: line breaks in the reason would make a second line.</summary>
    public static string NoResult(string reason) =>
        NoResultPrefix + reason.ReplaceLineEndings(" ");

    /// <summary>
    /// Reads the result container's whole log. Returns why it is not one valid frame, or null with
    /// <paramref name="outcome"/> as <see cref="ResultFile.Read"/> would give it (both fields null:
    /// the job wrote no result) and <paramref name="json"/> the result's bytes, when there is one.
    /// </summary>
    public static string? TryParse(string log, out ResultFile.Outcome outcome, out byte[]? json)
    {
        ArgumentNullException.ThrowIfNull(log);
        outcome = default;
        json = null;
        // One line, ended by the newline the reader writes (a log cut before it is still one line).
        var line = log.EndsWith('\n') ? log[..^1] : log;
        if (line.Length == 0) return "the result container printed nothing";
        if (line.Contains('\n') || line.Contains('\r'))
            return "the result container printed more than one line";

        if (line.StartsWith(NoResultPrefix, StringComparison.Ordinal))
        {
            var reason = line[NoResultPrefix.Length..];
            if (reason.Length is 0 or > MaxReasonChars)
                return string.Create(CultureInfo.InvariantCulture, $"the result container's refusal is empty or longer than {MaxReasonChars} characters");
            outcome = reason == NoResultFile ? new(null, null) : new(null, reason);
            return null;
        }
        if (!line.StartsWith(ResultPrefix, StringComparison.Ordinal))
            return $"the result container printed no result frame (it starts '{Printable(line)}')";

        var encoded = line.AsSpan(ResultPrefix.Length);
        if (encoded.Length > MaxEncodedChars)
            return string.Create(CultureInfo.InvariantCulture, $"the result frame holds more than {Wire.MaxResultBytes} bytes");
        var bytes = new byte[Base64.GetMaxDecodedFromUtf8Length(encoded.Length)];
        if (!Convert.TryFromBase64Chars(encoded, bytes, out var length) || length == 0)
            return "the result frame is not base64 of a result";
        if (length > Wire.MaxResultBytes)
            return string.Create(CultureInfo.InvariantCulture, $"the result frame holds {length} bytes, over the {Wire.MaxResultBytes}-byte limit");
        try
        {
            using var document = JsonDocument.Parse(bytes.AsMemory(0, length));
            json = bytes[..length];
            outcome = new(document.RootElement.Clone(), null);
            return null;
        }
        catch (JsonException e)
        {
            return $"the result frame is not valid JSON: {e.Message}";
        }
    }

    /// <summary>The start of an unexpected line, safe to put into a message.</summary>
    private static string Printable(string line)
    {
        var start = line.Length > 40 ? line[..40] + "..." : line;
        return new string([.. start.Select(c => char.IsControl(c) ? '?' : c)]);
    }
}

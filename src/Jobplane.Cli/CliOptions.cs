using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.RegularExpressions;
using Jobplane.Api;

namespace Jobplane.Cli;

/// <summary>The options every command accepts (Recursive), and how they turn into SettingsFlags.</summary>
internal sealed class GlobalOptions
{
    public Option<string?> Url { get; } = new("--url")
    {
        Description = $"Controller URL [default: {Wire.DefaultUrl}; env: {CliSettings.UrlVariable}; config: url]",
        HelpName = "URL",
        Recursive = true,
    };

    public Option<string?> Token { get; } = new("--token", "-t")
    {
        Description = $"API key (administrator commands: the SYSTEM_SECRET) [env: {CliSettings.TokenVariable}; config: token]",
        HelpName = "TOKEN",
        Recursive = true,
    };

    public Option<string?> Config { get; } = new("--config")
    {
        Description = $"YAML config file with keys url and token [default: ~/{CliSettings.DefaultConfigName}]",
        HelpName = "FILE",
        Recursive = true,
    };

    public Option<string?> Output { get; } = new("--output", "-o")
    {
        Description = "Output format: table or json [default: table]",
        HelpName = "table|json",
        Recursive = true,
    };

    public GlobalOptions() => Output.AcceptOnlyFromAmong("table", "json");

    public void AddTo(Command root)
    {
        root.Options.Add(Url);
        root.Options.Add(Token);
        root.Options.Add(Config);
        root.Options.Add(Output);
    }

    public SettingsFlags Read(ParseResult parseResult) => new(
        parseResult.GetValue(Url),
        parseResult.GetValue(Token),
        parseResult.GetValue(Config),
        parseResult.GetValue(Output));
}

/// <summary>
/// Option and argument factories with parsers that name the bad value in their error, so that a typo
/// is a usage error (exit 2) before anything is sent.
/// </summary>
internal static partial class CliOptions
{
    /// <summary>
    /// An option of one value that <paramref name="parse"/> turns into <typeparamref name="T"/>, or refuses
    /// with the message (naming the flag and the value) that becomes the usage error.
    /// </summary>
    public static Option<T> Parsed<T>(string name, string helpName, string description, Func<string, Parse<T>> parse, params string[] aliases) =>
        new(name, aliases)
        {
            Description = description,
            HelpName = helpName,
            CustomParser = result => Check(result, parse),
        };

    /// <summary>The one value of an option or argument through <paramref name="parse"/>; a refusal is added as the error.</summary>
    public static T Check<T>(ArgumentResult result, Func<string, Parse<T>> parse)
    {
        var (value, error) = parse(result.Tokens[0].Value);
        if (error is not null)
            result.AddError(error);
        return value;
    }

    public static Option<Priority?> Priority(string description) =>
        Parsed<Priority?>("--priority", "P", description + " (0..100 or low|normal|high|critical)",
            text => Api.Priority.TryParse(text, out var priority, out var error) ? priority : Refuse($"--priority: {error}"), "-p");

    public static Option<DateTimeOffset?> Schedule() =>
        Parsed<DateTimeOffset?>("--schedule", "RFC3339", "Run no earlier than this time, RFC3339 with offset (e.g. 2030-01-02T15:04:05Z)",
            text => TryParseRfc3339(text, out var value)
                ? value
                : Refuse($"--schedule: '{text}' is not an RFC3339 timestamp with offset (e.g. 2030-01-02T15:04:05Z)"));

    public static Option<int?> Int(string name, string description, int min, params string[] aliases) =>
        Parsed<int?>(name, "N", description,
            text => int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min
                ? value
                : Refuse($"{name} must be an integer >= {min} (got '{text}')"), aliases);

    /// <summary>A positive 64-bit number, e.g. an audit entry id.</summary>
    public static Option<long?> Long(string name, string description, long min) =>
        Parsed<long?>(name, "N", description,
            text => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min
                ? value
                : Refuse($"{name} must be an integer >= {min} (got '{text}')"));

    /// <summary>--cursor: where a page starts, as the previous page's "more" note printed it.</summary>
    public static Option<string?> Cursor() => new("--cursor")
    {
        Description = "Start where the previous page ended: the cursor its 'more' note printed (opaque)",
        HelpName = "CURSOR",
    };

    /// <summary>
    /// After a page that has more after it, the command that prints the next page, on stderr (stdout
    /// keeps only results). Repeats the given options; never the token or other settings.
    /// </summary>
    public static void MoreNote(CommandContext context, string? next, string command, params (string Flag, object? Value)[] same)
    {
        if (next is null) return;
        var repeated = string.Concat(same.Where(s => s.Value is not null).Select(s => $" {s.Flag} {s.Value}"));
        context.Err.WriteLine($"note: more entries: jobctl {command}{repeated} --cursor {next}");
    }

    /// <summary>--limit/-l and --offset. No -o short form for --offset: -o is --output in every command.</summary>
    public static (Option<int?> Limit, Option<int?> Offset) Paging() =>
        (Int("--limit", "Entries per page", 1, "-l"), Int("--offset", "Entries to skip", 0));

    /// <summary>
    /// A comma-separated list of runtimes (exec,docker,kubernetes); an empty string is an empty list,
    /// which the controller reads as "no restriction". Unknown names are refused here, by name.
    /// </summary>
    public static Option<string[]?> Runtimes(string name, string description) => new(name)
    {
        Description = description,
        HelpName = string.Join(',', Api.Runtimes.Known),
        // One comma-separated value: `--allowed-runtimes exec docker` would otherwise swallow the next word.
        Arity = ArgumentArity.ExactlyOne,
        CustomParser = result =>
        {
            var text = result.Tokens[0].Value;
            string[] names = [.. text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal)];
            foreach (var runtime in names)
            {
                if (!Api.Runtimes.IsKnown(runtime))
                {
                    result.AddError($"{name}: '{runtime}' is not a runtime (expected a comma-separated list of "
                        + $"{string.Join(", ", Api.Runtimes.Known)}, or '' for any)");
                    return null;
                }
            }
            return names;
        },
    };

    /// <summary>A size in bytes, as the operator's settings take one: 16MiB, 512k, 1g, or a number of bytes.</summary>
    public static Option<long?> Size(string name, string description) =>
        Parsed<long?>(name, "SIZE", description,
            text => ByteSizes.TryParse(text, out var bytes)
                ? bytes
                : Refuse($"{name} must be a size such as 16MiB, 512KiB, 1g or a number of bytes (got '{text}')"));

    public static Option<double?> Double(string name, string description, double min) =>
        Parsed<double?>(name, "X", description,
            text => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value) && value >= min
                ? value
                : Refuse($"{name} must be a number >= {min.ToString(CultureInfo.InvariantCulture)} (got '{text}')"));

    /// <summary>
    /// An explicit true or false, for a setting that can be turned both ways (a bare flag could only
    /// turn it on). Typed as text on purpose: System.CommandLine hands a bool option only a value
    /// that already reads as a bool, so "yes" would be reported as a stray argument instead of named
    /// here. Read it with <see cref="GetBool"/>.
    /// </summary>
    public static Option<string?> Bool(string name, string description) =>
        Parsed<string?>(name, "true|false", description,
            text => bool.TryParse(text, out var value) ? (value ? "true" : "false") : Refuse($"{name} must be true or false (got '{text}')"));

    /// <summary>The value of a <see cref="Bool"/> option; null when it was not given.</summary>
    public static bool? GetBool(this ParseResult parseResult, Option<string?> option) =>
        parseResult.GetValue(option) is { } text ? text == "true" : null;

    /// <summary>A number of seconds that must be greater than zero (a zero backoff would retry in a tight loop).</summary>
    public static Option<double?> PositiveSeconds(string name, string description) =>
        Parsed<double?>(name, "SECONDS", description,
            text => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value) && value > 0
                ? value
                : Refuse($"{name} must be a number of seconds > 0 (got '{text}')"));

    /// <summary>A repeatable exit code 1..255: one per flag, so that every bad value is named on its own.</summary>
    public static Option<int[]> ExitCodes(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "CODE",
        CustomParser = result =>
        {
            var codes = new List<int>(result.Tokens.Count);
            foreach (var token in result.Tokens)
            {
                if (int.TryParse(token.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var code) && code is >= 1 and <= 255)
                    codes.Add(code);
                else
                    result.AddError($"{name} must be an exit code 1..255, one per flag (got '{token.Value}')");
            }
            return [.. codes];
        },
    };

    /// <summary>
    /// The Idempotency-Key header value, checked here so that it goes out exactly as typed: 1..255 printable
    /// ASCII characters, and no space at either end (HTTP would strip it, and two keys would become one).
    /// </summary>
    public static Option<string?> IdempotencyKey(string description) =>
        Parsed<string?>("--idempotency-key", "KEY", description,
            text => IdempotencyKeyProblem(text) is { } problem ? Refuse($"--idempotency-key {problem}") : text);

    public const int MaxIdempotencyKeyLength = 255;

    internal static string? IdempotencyKeyProblem(string text)
    {
        if (text.Length == 0)
            return "must not be empty";
        if (text.Length > MaxIdempotencyKeyLength)
            return $"must be at most {MaxIdempotencyKeyLength} characters (got {text.Length})";
        foreach (var c in text)
        {
            if (c is < ' ' or > '~')
                return $"must be printable ASCII (got '{Printable(text)}', which contains U+{(int)c:X4})";
        }
        if (text[0] == ' ' || text[^1] == ' ')
            return $"must not begin or end with a space (got '{text}'): HTTP drops it, and the key would not be the one given";
        return null;
    }

    /// <summary>Control characters in an error message would garble the terminal; show them as escapes.</summary>
    private static string Printable(string text)
    {
        var builder = new System.Text.StringBuilder(text.Length);
        foreach (var c in text)
            builder.Append(c is >= ' ' and not '\u007f' ? c.ToString() : $"\\u{(int)c:x4}");
        return builder.ToString();
    }

    /// <summary>
    /// An option's value inside a command validator, or default when the value itself did not parse: that error
    /// is already reported, and System.CommandLine would throw it again here instead of letting it be listed.
    /// </summary>
    public static T? ValidValue<T>(SymbolResult result, Option<T> option)
    {
        try
        {
            return result.GetValue(option);
        }
        catch (InvalidOperationException)
        {
            return default;
        }
    }

    public static Option<Guid?> IdOption(string name, string description) =>
        Parsed(name, "ID", description, text => ParseId(name, text));

    /// <summary>An id option that may be repeated, one id per flag: --tenant A --tenant B.</summary>
    public static Option<Guid[]> IdsOption(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "ID",
        CustomParser = result =>
        {
            var ids = new List<Guid>(result.Tokens.Count);
            foreach (var token in result.Tokens)
            {
                var (id, error) = ParseId(name, token.Value);
                if (error is null)
                    ids.Add(id!.Value);
                else
                    result.AddError(error);
            }
            return [.. ids];
        },
    };

    /// <summary>Ids are UUIDs; checking here turns a mistyped id into a usage error instead of a 404.</summary>
    public static Argument<Guid> Id(string name, string description) => new(name)
    {
        Description = description,
        CustomParser = result => Check(result, text => ParseId(name, text)) ?? Guid.Empty,
    };

    /// <summary>An id argument that may be left out, for commands with another form (e.g. `cancel --job`).</summary>
    public static Argument<Guid?> OptionalId(string name, string description) => new(name)
    {
        Description = description,
        Arity = ArgumentArity.ZeroOrOne,
        CustomParser = result => result.Tokens.Count == 0 ? null : Check(result, text => ParseId(name, text)),
    };

    private static Parse<Guid?> ParseId(string name, string text) =>
        Guid.TryParse(text, out var id) ? id : Refuse($"{name}: '{text}' is not a valid id (expected a UUID)");

    /// <summary>A refused value: no value, and the message that says why.</summary>
    public static Refusal Refuse(string error) => new(error);

    /// <summary>
    /// RFC3339 requires an explicit offset ("Z" or ±hh:mm): a bare local time would be guessed in the
    /// zone of whoever runs jobctl, and the job would run at a different instant than meant.
    /// </summary>
    public static bool TryParseRfc3339(string? text, out DateTimeOffset value) => Jobplane.Api.Rfc3339.TryParse(text, out value);
}

/// <summary>A value refused by a parser, with the reason; converts to a failed <see cref="Parse{T}"/> of any type.</summary>
internal readonly record struct Refusal(string Error);

/// <summary>What a parser made of one command-line value: the value, or the error that names it.</summary>
internal readonly record struct Parse<T>(T Value, string? Error)
{
    public static implicit operator Parse<T>(T value) => new(value, null);
    public static implicit operator Parse<T>(Refusal refusal) => new(default!, refusal.Error);
}

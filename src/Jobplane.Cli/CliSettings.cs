using Jobplane.Api;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Jobplane.Cli;

internal enum OutputFormat
{
    Table,
    Json,
}

/// <summary>What the global flags said, before any fallback is applied (null = not given).</summary>
internal sealed record SettingsFlags(string? Url = null, string? Token = null, string? ConfigPath = null, string? Output = null);

/// <summary>The url, token and output format a command runs with.</summary>
internal sealed record CliSettings(Uri Url, string? Token, OutputFormat Output, string? ConfigPath)
{
    public const string UrlVariable = "JOBPLANE_URL";
    public const string TokenVariable = "JOBPLANE_TOKEN";
    public const string SystemSecretVariable = "SYSTEM_SECRET";
    public const string DefaultConfigName = ".jobctl.yaml";

    /// <summary>
    /// Precedence is flag &gt; environment &gt; config file &gt; default, per setting. Administrator
    /// commands also accept SYSTEM_SECRET, ahead of JOBPLANE_TOKEN: an operator's shell often holds
    /// a tenant key in JOBPLANE_TOKEN too, and a tenant key can never create or change tenants.
    /// </summary>
    public static CliSettings Resolve(SettingsFlags flags, IReadOnlyDictionary<string, string?> environment, bool administrator = false)
    {
        var configPath = ResolveConfigPath(flags.ConfigPath, environment, out var explicitConfig);
        var config = configPath is null ? ConfigValues.Empty : ConfigValues.Load(configPath, mustExist: explicitConfig);

        var (urlText, urlSource) =
            First((flags.Url, "--url"), (Get(environment, UrlVariable), UrlVariable), (config.Url, configPath), (Wire.DefaultUrl, "default"));
        var url = ParseUrl(urlText!, urlSource!);

        var (token, _) = administrator
            ? First((flags.Token, "--token"), (Get(environment, SystemSecretVariable), SystemSecretVariable),
                (Get(environment, TokenVariable), TokenVariable), (config.Token, configPath))
            : First((flags.Token, "--token"), (Get(environment, TokenVariable), TokenVariable), (config.Token, configPath));

        var output = flags.Output?.Trim().ToLowerInvariant() switch
        {
            null or "" or "table" => OutputFormat.Table,
            "json" => OutputFormat.Json,
            var other => throw new UsageException($"--output must be table or json (got '{other}')"),
        };
        return new CliSettings(url, token, output, configPath);
    }

    /// <summary>The user's home as this environment says it (tests pass their own, so no real ~/.jobctl.yaml leaks in).</summary>
    public static string? Home(IReadOnlyDictionary<string, string?> environment) =>
        Get(environment, "HOME") ?? Get(environment, "USERPROFILE");

    private static string? ResolveConfigPath(string? flag, IReadOnlyDictionary<string, string?> environment, out bool explicitConfig)
    {
        explicitConfig = !string.IsNullOrWhiteSpace(flag);
        var home = Home(environment);
        if (explicitConfig)
        {
            // Shells do not expand "~" after "=" (--config=~/x.yaml), so do it here.
            if (home is not null && (flag == "~" || flag!.StartsWith("~/", StringComparison.Ordinal)))
                return Path.Join(home, flag![1..]);
            return flag;
        }
        return home is null ? null : Path.Join(home, DefaultConfigName);
    }

    private static Uri ParseUrl(string text, string source)
    {
        if (Uri.TryCreate(text.Trim(), UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
            return uri;
        throw new UsageException($"controller URL '{text}' (from {source}) must be an absolute http:// or https:// URL");
    }

    private static (string? Value, string? Source) First(params (string? Value, string? Source)[] candidates)
    {
        foreach (var candidate in candidates)
        {
            if (!string.IsNullOrWhiteSpace(candidate.Value))
                return (candidate.Value.Trim(), candidate.Source);
        }
        return (null, null);
    }

    private static string? Get(IReadOnlyDictionary<string, string?> environment, string name) =>
        environment.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value) ? value : null;
}

/// <summary>The keys jobctl reads from its YAML config file; other keys are ignored (the file may be shared).</summary>
internal sealed record ConfigValues(string? Url, string? Token)
{
    public static readonly ConfigValues Empty = new(null, null);

    public static ConfigValues Load(string path, bool mustExist)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // The default ~/.jobctl.yaml is optional; a file the user named is not.
            if (mustExist) throw new UsageException($"config file '{path}' not found");
            return Empty;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot read config file '{path}': {e.Message}");
        }
        return Parse(text, path);
    }

    public static ConfigValues Parse(string text, string path)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new UsageException($"config file '{path}' is not valid YAML: {e.Message}");
        }
        if (stream.Documents.Count == 0)
            return Empty;
        var root = stream.Documents[0].RootNode;
        if (root is YamlScalarNode { Value: null or "" })
            return Empty;
        if (root is not YamlMappingNode mapping)
            throw new UsageException($"config file '{path}' must be a YAML mapping with keys url and token");
        return new ConfigValues(Scalar(mapping, "url", path), Scalar(mapping, "token", path));
    }

    private static string? Scalar(YamlMappingNode mapping, string key, string path)
    {
        if (!mapping.Children.TryGetValue(new YamlScalarNode(key), out var node))
            return null;
        return node is YamlScalarNode scalar
            ? scalar.Value
            : throw new UsageException($"config file '{path}': '{key}' must be a plain string");
    }
}

using System.Diagnostics.CodeAnalysis;

namespace Jobplane.Api;

/// <summary>
/// A container image reference, <c>[registry/]path[:tag][@digest]</c>, read the way the Docker
/// engine reads one (the distribution/reference grammar and its normalisation), so the registry
/// named here is the one the engine will pull from:
/// <list type="bullet">
/// <item>the first path component is a registry only when it contains '.' or ':', is <c>localhost</c>,
/// or has an uppercase letter (a repository path cannot, so the engine takes it for a host name);
/// otherwise the registry is Docker Hub: <c>my_registry/x</c> is Docker Hub's <c>my_registry/x</c>;</item>
/// <item>registries compare case-insensitively, ports included, and <c>index.docker.io</c> and
/// <c>registry-1.docker.io</c> are Docker Hub (<c>docker.io</c>);</item>
/// <item>a one-component path on Docker Hub is an official image: <c>ubuntu</c> is <c>docker.io/library/ubuntu</c>.</item>
/// </list>
/// The image <c>exec</c> (the exec runtime) is a word of jobplane's, not a reference: callers exempt it.
/// </summary>
public sealed record ImageReference(string Registry, string Path, string? Tag, string? Digest)
{
    public const string DockerHub = "docker.io";

    // The engine refuses a name (registry and path, as normalised) longer than this.
    private const int MaxNameLength = 255;
    private const int MaxTagLength = 128;

    /// <summary>The reference read, or the first thing wrong with it (a phrase to follow "image 'x' is not a valid image reference: ").</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out ImageReference? reference, [NotNullWhen(false)] out string? problem)
    {
        reference = null;
        if (text.Length == 0)
        {
            problem = "it is empty";
            return false;
        }
        // An image id, not a name: the engine refuses it as a reference too.
        if (text.Length == 64 && text.All(IsLowerHex))
        {
            problem = "a 64-character hexadecimal string is an image id, not a name";
            return false;
        }

        var rest = text;
        string? digest = null;
        var at = rest.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            digest = rest[(at + 1)..];
            rest = rest[..at];
            if (DigestProblem(digest) is { } bad)
            {
                problem = bad;
                return false;
            }
        }

        // A ':' after the last '/' starts the tag; one before it belongs to a registry's port.
        string? tag = null;
        var colon = rest.IndexOf(':', rest.LastIndexOf('/') + 1);
        if (colon >= 0)
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
            if (TagProblem(tag) is { } bad)
            {
                problem = bad;
                return false;
            }
        }

        var (registry, path) = SplitRegistry(rest);
        if (registry is null) registry = DockerHub;
        else if (NormalizeRegistry(registry) is { } known) registry = known;
        else
        {
            problem = $"'{registry}' is not a registry host (a host name or address, optionally with :port)";
            return false;
        }
        if (PathProblem(path) is { } pathProblem)
        {
            problem = pathProblem;
            return false;
        }
        if (registry == DockerHub && !path.Contains('/', StringComparison.Ordinal)) path = "library/" + path;
        if (registry.Length + 1 + path.Length > MaxNameLength)
        {
            problem = $"the name is longer than {MaxNameLength} characters";
            return false;
        }
        reference = new ImageReference(registry, path, tag, digest);
        problem = null;
        return true;
    }

    /// <summary>
    /// A registry host as references name it (<c>ghcr.io</c>, <c>registry.example.com:5000</c>,
    /// <c>localhost</c>, <c>[::1]:5000</c>), lowercased, with Docker Hub's other names as <c>docker.io</c>;
    /// null when it is not a host with an optional port.
    /// </summary>
    public static string? NormalizeRegistry(string host)
    {
        if (!IsRegistryHost(host)) return null;
        var lower = host.ToLowerInvariant();
        return lower is "index.docker.io" or "registry-1.docker.io" ? DockerHub : lower;
    }

    /// <summary>The registry part as the engine decides it (null: none written, so Docker Hub), and the rest.</summary>
    private static (string? Registry, string Path) SplitRegistry(string name)
    {
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0) return (null, name);
        var first = name[..slash];
        var isHost = first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal)
            || first == "localhost" || first.Any(char.IsAsciiLetterUpper);
        return isHost ? (first, name[(slash + 1)..]) : (null, name);
    }

    // host := domain-name | IPv4 | '[' IPv6 ']', then an optional ':' port.
    private static bool IsRegistryHost(string text)
    {
        var host = text;
        if (host.StartsWith('['))
        {
            var close = host.IndexOf(']', StringComparison.Ordinal);
            if (close < 2 || !host[1..close].All(c => char.IsAsciiHexDigit(c) || c == ':')) return false;
            return close == host.Length - 1 || IsPort(host[(close + 1)..]);
        }
        var colon = host.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            if (!IsPort(host[colon..])) return false;
            host = host[..colon];
        }
        // Domain components: letters, digits and inner hyphens, separated by single dots (an IPv4 address is one too).
        return host.Length > 0 && host.Split('.').All(c =>
            c.Length > 0 && c[0] != '-' && c[^1] != '-' && c.All(ch => char.IsAsciiLetterOrDigit(ch) || ch == '-'));
    }

    private static bool IsPort(string text) => text.Length is > 1 and <= 6 && text[0] == ':' && text[1..].All(char.IsAsciiDigit);

    // path := component ('/' component)*; component := [a-z0-9]+ (separator [a-z0-9]+)*; separator := '.' | '_' | '__' | '-'+
    private static string? PathProblem(string path)
    {
        if (path.Any(char.IsAsciiLetterUpper)) return $"the repository path '{path}' must be lowercase";
        foreach (var component in path.Split('/'))
        {
            if (component.Length == 0) return $"the repository path '{path}' has an empty component";
            if (!IsPathComponent(component))
                return $"'{component}' is not a repository path component (lowercase letters and digits, joined by '.', '_', '__' or dashes)";
        }
        return null;
    }

    private static bool IsPathComponent(string component)
    {
        var i = 0;
        while (true)
        {
            var start = i;
            while (i < component.Length && IsLowerAlnum(component[i])) i++;
            if (i == start) return false; // a component starts and ends with a letter or digit, and separators never meet
            if (i == component.Length) return true;
            start = i;
            if (component[i] == '.') i++;
            else if (component[i] == '_') i += i + 1 < component.Length && component[i + 1] == '_' ? 2 : 1;
            else while (i < component.Length && component[i] == '-') i++;
            if (i == start) return false;
        }
    }

    // tag := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    private static string? TagProblem(string tag)
    {
        if (tag.Length == 0) return "the tag after ':' is empty";
        if (tag.Length > MaxTagLength) return $"the tag is longer than {MaxTagLength} characters";
        if (!(char.IsAsciiLetterOrDigit(tag[0]) || tag[0] == '_') || !tag.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-'))
            return $"'{tag}' is not a tag (letters, digits, '_', '.' and '-', not starting with '.' or '-')";
        return null;
    }

    // The algorithms the engine verifies, with the length of their lowercase hexadecimal digest.
    private static string? DigestProblem(string digest)
    {
        var colon = digest.IndexOf(':', StringComparison.Ordinal);
        var algorithm = colon < 0 ? digest : digest[..colon];
        int? length = algorithm switch { "sha256" => 64, "sha384" => 96, "sha512" => 128, _ => null };
        if (colon < 0 || length is null) return $"'{digest}' is not a digest (sha256:, sha384: or sha512: and the hexadecimal hash)";
        var hex = digest[(colon + 1)..];
        if (hex.Length != length || !hex.All(IsLowerHex))
            return $"the {algorithm} digest must be {length} lowercase hexadecimal characters";
        return null;
    }

    private static bool IsLowerAlnum(char c) => char.IsAsciiDigit(c) || char.IsAsciiLetterLower(c);

    private static bool IsLowerHex(char c) => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f';

    /// <summary>registry/path[:tag][@digest], as the engine would name it in full.</summary>
    public override string ToString() =>
        $"{Registry}/{Path}{(Tag is null ? "" : ":" + Tag)}{(Digest is null ? "" : "@" + Digest)}";
}

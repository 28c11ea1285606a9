using Jobplane.Api;

namespace Jobplane.Controller.Images;

/// <summary>
/// The registries jobs may take their images from (IMAGE_REGISTRIES): a comma list of registry
/// hosts, ports included, compared case-insensitively; unset or empty allows any registry. The
/// engine pulls what a job names over the worker host's network and credentials, so an operator
/// who lists the registries decides where that traffic may go. The image <c>exec</c> names the exec
/// runtime, not a registry, and is always allowed.
/// </summary>
public sealed class RegistryAllowList
{
    public const string Setting = "IMAGE_REGISTRIES";

    public static readonly RegistryAllowList Any = new(null);

    private readonly HashSet<string>? _hosts;

    private RegistryAllowList(IEnumerable<string>? hosts) =>
        _hosts = hosts is null ? null : new HashSet<string>(hosts, StringComparer.Ordinal);

    /// <summary>True when every registry is allowed (the setting is unset or empty): submissions then read nothing more.</summary>
    public bool AllowsAny => _hosts is null;

    /// <summary>The normalised hosts allowed (docker.io for Docker Hub under any of its names); empty when any is allowed.</summary>
    public IReadOnlyCollection<string> Hosts => _hosts ?? [];

    public static RegistryAllowList Read(SettingReader read)
    {
        if (read.String(Setting) is not { } text) return Any;
        var hosts = new List<string>();
        foreach (var entry in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (ImageReference.NormalizeRegistry(entry) is { } host) hosts.Add(host);
            else read.Error($"{Setting} must be a comma-separated list of registry hosts such as docker.io,ghcr.io,registry.example.com:5000 (got '{entry}')");
        }
        return hosts.Count == 0 ? Any : new RegistryAllowList(hosts);
    }

    /// <summary>
    /// Null when a job may use <paramref name="image"/>; otherwise why not, naming the registry and
    /// the setting (not the hosts allowed: those are the operator's network, not the tenant's business).
    /// </summary>
    public string? Refusal(string image)
    {
        if (_hosts is null || image == RuntimeClasses.ExecImage) return null;
        if (!ImageReference.TryParse(image, out var reference, out var problem))
            return $"image '{image}' is not a valid image reference ({problem}), so its registry cannot be checked against the operator's {Setting}";
        if (_hosts.Contains(reference.Registry)) return null;
        return $"image '{image}' comes from registry {reference.Registry}, which this platform does not allow: "
            + $"the operator's {Setting} lists the registries jobs may use";
    }
}

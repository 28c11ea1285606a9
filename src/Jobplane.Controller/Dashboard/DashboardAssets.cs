using System.Security.Cryptography;

namespace Jobplane.Controller.Dashboard;

/// <summary>
/// The dashboard's stylesheet and script, embedded in the controller binary (no build step, no CDN)
/// and served under a URL that names their content's hash, so browsers may keep them forever and a
/// new release is fetched at once.
/// </summary>
public sealed class DashboardAssets
{
    private readonly Dictionary<string, (byte[] Bytes, string ContentType, string Hash)> _assets = new(StringComparer.Ordinal);

    public DashboardAssets()
    {
        var assembly = typeof(DashboardAssets).Assembly;
        const string prefix = "Jobplane.Dashboard.Assets.";
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            var name = resource[prefix.Length..];
            var type = Path.GetExtension(name) switch
            {
                ".css" => "text/css; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            _assets[name] = (bytes, type, Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]);
        }
    }

    /// <summary>The versioned URL of an asset, e.g. /ui/assets/3f2a.../dashboard.css.</summary>
    public string Url(string name) => $"/ui/assets/{_assets[name].Hash}/{name}";

    public void Map(IEndpointRouteBuilder app) =>
        app.MapGet("/ui/assets/{hash}/{name}", (string hash, string name, HttpContext http) =>
        {
            if (!_assets.TryGetValue(name, out var asset) || asset.Hash != hash) return Results.NotFound();
            http.Response.Headers.CacheControl = "public, max-age=31536000, immutable";
            return Results.Bytes(asset.Bytes, asset.ContentType);
        }).ExcludeFromDescription();
}

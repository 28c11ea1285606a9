using Microsoft.AspNetCore.HttpOverrides;

namespace Jobplane.Controller.Http;

/// <summary>
/// Behind a proxy every request comes from the proxy's address: the client's is in X-Forwarded-For,
/// which anyone can write. It is believed only from the proxies the operator names (TRUSTED_PROXIES),
/// walking the header from the right and stopping at the first address that is not one of them.
/// X-Forwarded-Proto from them says whether the client spoke TLS to the proxy (the dashboard's
/// session cookie is Secure, with the __Host- prefix, when it did).
/// </summary>
public static class TrustedProxies
{
    public static IApplicationBuilder UseTrustedProxies(this IApplicationBuilder app, TenantLimitOptions limits)
    {
        if (limits.TrustedProxies.Count == 0) return app;
        var forwarded = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto, ForwardLimit = null };
        forwarded.KnownProxies.Clear();
        forwarded.KnownIPNetworks.Clear();
        foreach (var network in limits.TrustedProxies) forwarded.KnownIPNetworks.Add(network);
        return app.UseForwardedHeaders(forwarded);
    }
}

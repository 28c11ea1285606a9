using System.Globalization;
using Jobplane.Api;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Jobplane.Controller.Http;

/// <summary>Where the controller listens, and the limits every connection gets before any handler runs.</summary>
public static class KestrelSetup
{
    public static IWebHostBuilder ConfigureJobplaneKestrel(this IWebHostBuilder host) =>
        host.ConfigureKestrel((ctx, kestrel) =>
        {
            var port = int.TryParse(ctx.Configuration["PORT"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) ? p : Wire.DefaultPort;
            if (string.IsNullOrEmpty(ctx.Configuration["ASPNETCORE_URLS"]) && string.IsNullOrEmpty(ctx.Configuration["urls"]))
            {
                kestrel.ListenAnyIP(port);
                // The metrics port (off unless set): /metrics without a credential, for a private network.
                if (int.TryParse(ctx.Configuration["METRICS_PORT"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var metricsPort) && metricsPort > 0)
                    kestrel.ListenAnyIP(metricsPort);
            }
            kestrel.Limits.MaxRequestBodySize = Limits.MaxRequestBodyBytes;
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(15);
            kestrel.Limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 1024, gracePeriod: TimeSpan.FromSeconds(10));
        });
}

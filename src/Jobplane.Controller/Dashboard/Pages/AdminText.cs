using System.Globalization;
using Jobplane.Store;

namespace Jobplane.Controller.Dashboard.Pages;

/// <summary>How the administration pages say a tenant's settings: null settings are the operator's.</summary>
public static class AdminText
{
    public static string Rate(TenantRecord t) =>
        t.RateLimit is { } r ? r.ToString("0.###", CultureInfo.InvariantCulture) + " /s" : "no limit";

    public static string Burst(TenantRecord t) => t.RateLimitBurst is { } b ? DashboardHtml.Count(b) : "—";

    public static string Concurrent(TenantRecord t) => t.MaxConcurrentExecutions > 0 ? DashboardHtml.Count(t.MaxConcurrentExecutions) : "no limit";

    public static string Runtimes(TenantRecord t) => t.AllowedRuntimes is { Count: > 0 } r ? string.Join(", ", r) : "any";

    public static string Retention(TenantRecord t) => t.RetentionDays is { } d ? $"{DashboardHtml.Count(d)} d" : "default";

    public static string FleetShare(TenantRecord t) => t.MaxFleetShare is { } s ? DashboardHtml.Percent(s) : "default";

    public static string LogBytes(TenantRecord t) => t.LogMaxBytesPerExecution is { } b ? $"{DashboardHtml.Count(b)} bytes" : "default";

    public static string LogFollow(TenantRecord t) => t.LogFollowMax is { } f ? DashboardHtml.Count(f) : "default";

    public static string State(TenantRecord t) => t.Suspended ? "suspended" : "active";

    public static string YesNo(bool b) => b ? "yes" : "no";
}

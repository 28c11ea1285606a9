using System.Globalization;
using Jobplane.Api;
using Jobplane.Store;
using Microsoft.AspNetCore.Http;

namespace Jobplane.Controller.Dashboard.Pages;

/// <summary>
/// The "edit limits" form of a tenant, as text: filled from the tenant, or from a POST (so a refused
/// form shows again as it was sent). <see cref="TryRead"/> turns it into the PATCH /tenants/{id}
/// request the API would get, which is then checked by the API's own rules. Field names are the API's.
/// A blank rate limit, retention or log setting means "none" or "the operator's" (0 on the API);
/// a blank burst, weight or fleet share leaves it as it is (the API cannot unset them).
/// </summary>
public sealed class TenantForm
{
    public string Name { get; init; } = "";
    public string RateLimit { get; init; } = "";
    public string RateLimitBurst { get; init; } = "";
    public string MaxConcurrentExecutions { get; init; } = "";
    public string Weight { get; init; } = "";
    public IReadOnlyList<string> AllowedRuntimes { get; init; } = [];
    public bool AllowNetwork { get; init; }
    public string RetentionDays { get; init; } = "";
    public string LogMaxBytesPerExecution { get; init; } = "";
    public string LogFollowMax { get; init; } = "";
    public string MaxFleetShare { get; init; } = "";

    private static string Text<T>(T? v) where T : struct, IFormattable => v?.ToString(null, CultureInfo.InvariantCulture) ?? "";

    public static TenantForm Of(TenantRecord t) => new()
    {
        Name = t.Name,
        RateLimit = Text(t.RateLimit),
        RateLimitBurst = Text(t.RateLimitBurst),
        MaxConcurrentExecutions = Text<int>(t.MaxConcurrentExecutions),
        Weight = Text<int>(t.Weight),
        AllowedRuntimes = t.AllowedRuntimes ?? [],
        AllowNetwork = t.AllowNetwork,
        RetentionDays = Text(t.RetentionDays),
        LogMaxBytesPerExecution = Text(t.LogMaxBytesPerExecution),
        LogFollowMax = Text(t.LogFollowMax),
        MaxFleetShare = Text(t.MaxFleetShare),
    };

    public static TenantForm Of(IFormCollection form) => new()
    {
        Name = form["name"].ToString(),
        RateLimit = form["rate_limit"].ToString().Trim(),
        RateLimitBurst = form["rate_limit_burst"].ToString().Trim(),
        MaxConcurrentExecutions = form["max_concurrent_executions"].ToString().Trim(),
        Weight = form["weight"].ToString().Trim(),
        AllowedRuntimes = [.. form["allowed_runtimes"].Select(r => r ?? "")],
        AllowNetwork = form["allow_network"].ToString() == "true",
        RetentionDays = form["retention_days"].ToString().Trim(),
        LogMaxBytesPerExecution = form["log_max_bytes_per_execution"].ToString().Trim(),
        LogFollowMax = form["log_follow_max"].ToString().Trim(),
        MaxFleetShare = form["max_fleet_share"].ToString().Trim(),
    };

    /// <summary>The update request, or the first field that is not a number at all (naming it as the API does).</summary>
    public bool TryRead(out TenantRequest request, out string? problem)
    {
        request = new TenantRequest();
        problem = null;
        if (!Number(RateLimit, "rate_limit", out double? rate, blank: 0)
            || !Whole(RateLimitBurst, "rate_limit_burst", out int? burst, blank: null)
            || !Whole(MaxConcurrentExecutions, "max_concurrent_executions", out int? concurrent, blank: 0)
            || !Whole(Weight, "weight", out int? weight, blank: null)
            || !Whole(RetentionDays, "retention_days", out int? retention, blank: 0)
            || !Long(LogMaxBytesPerExecution, "log_max_bytes_per_execution", out long? logBytes)
            || !Whole(LogFollowMax, "log_follow_max", out int? follow, blank: 0)
            || !Number(MaxFleetShare, "max_fleet_share", out double? share, blank: null))
        {
            problem = _problem;
            return false;
        }
        request = new TenantRequest
        {
            Name = Name,
            RateLimit = rate,
            RateLimitBurst = burst,
            MaxConcurrentExecutions = concurrent,
            Weight = weight,
            // None ticked: any runtime (the API's empty list).
            AllowedRuntimes = AllowedRuntimes,
            AllowNetwork = AllowNetwork,
            RetentionDays = retention,
            LogMaxBytesPerExecution = logBytes,
            LogFollowMax = follow,
            MaxFleetShare = share,
        };
        return true;
    }

    private string? _problem;

    private bool Number(string text, string field, out double? value, double? blank)
    {
        value = blank;
        if (text.Length == 0) return true;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
        {
            value = v;
            return true;
        }
        return Refuse(field, "a number", text);
    }

    private bool Whole(string text, string field, out int? value, int? blank)
    {
        value = blank;
        if (text.Length == 0) return true;
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
        {
            value = v;
            return true;
        }
        return Refuse(field, "a whole number", text);
    }

    private bool Long(string text, string field, out long? value)
    {
        value = 0;
        if (text.Length == 0) return true;
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
        {
            value = v;
            return true;
        }
        return Refuse(field, "a whole number", text);
    }

    private bool Refuse(string field, string what, string text)
    {
        _problem = $"{field} must be {what} (got '{(text.Length > 40 ? text[..40] + "…" : text)}')";
        return false;
    }

    /// <summary>The runtimes the form offers, as the API knows them.</summary>
    public static IReadOnlyList<string> KnownRuntimes => Runtimes.Known;
}

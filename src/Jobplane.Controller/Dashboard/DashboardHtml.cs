using System.Globalization;
using Microsoft.AspNetCore.Html;
using Microsoft.AspNetCore.Mvc.Rendering;

namespace Jobplane.Controller.Dashboard;

/// <summary>
/// Small pieces every page writes the same way. Each returns encoded HTML: text from the database
/// (names, commands, errors) only ever passes through <see cref="Text"/>-style encoding, never raw.
/// </summary>
public static class DashboardHtml
{
    private static readonly System.Text.Encodings.Web.HtmlEncoder Encoder = System.Text.Encodings.Web.HtmlEncoder.Default;

    /// <summary>The hidden field carrying the session's synchronizer token; every POST form has one.</summary>
    public static IHtmlContent Csrf(this IHtmlHelper html)
    {
        var viewer = html.ViewContext.HttpContext.Items[typeof(Viewer)] as Viewer;
        return new HtmlString($"<input type=\"hidden\" name=\"{DashboardPageFilter.CsrfField}\" value=\"{Encoder.Encode(viewer?.CsrfToken ?? "")}\">");
    }

    /// <summary>A UTC instant as a machine-readable &lt;time&gt; with a short readable text.</summary>
    public static IHtmlContent Time(this IHtmlHelper _, DateTimeOffset? at)
    {
        if (at is not { } t) return new HtmlString("<span class=\"muted\">—</span>");
        var iso = t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        var text = t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        return new HtmlString($"<time datetime=\"{iso}\">{text}</time>");
    }

    public static string Duration(TimeSpan? d)
    {
        if (d is not { } x) return "—";
        if (x < TimeSpan.Zero) x = TimeSpan.Zero;
        return x.TotalSeconds switch
        {
            < 1 => $"{x.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)} ms",
            < 60 => $"{x.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s",
            < 3600 => $"{(int)x.TotalMinutes} min {x.Seconds} s",
            < 86400 => $"{(int)x.TotalHours} h {x.Minutes} min",
            _ => $"{(int)x.TotalDays} d {x.Hours} h",
        };
    }

    public static string Seconds(double? s) => s is { } v ? Duration(TimeSpan.FromSeconds(v)) : "—";

    /// <summary>A status as a labelled badge (the class only picks a colour; the word is the meaning).</summary>
    public static IHtmlContent Status(this IHtmlHelper _, string? status) =>
        status is null ? HtmlString.Empty
            : new HtmlString($"<span class=\"status status-{Encoder.Encode(status.ToLowerInvariant())}\">{Encoder.Encode(status)}</span>");

    public static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    public static string Percent(double? f) => f is { } v ? (v * 100).ToString("0.#", CultureInfo.InvariantCulture) + " %" : "—";

    /// <summary>An id's last 8 hex digits: ids are UUIDv7, whose first digits are a timestamp shared by ids made together.</summary>
    public static string Short(Guid id) => id.ToString()[^8..];
}

using System.Net.Http.Headers;
using System.Reflection;
using Jobplane.Api;

namespace Jobplane.Worker;

/// <summary>
/// This worker's version as the controller's worker registry records it: the informational version
/// of the assembly (e.g. 1.0.0+3f2a9c1), sent as <c>User-Agent: jobplane-worker/&lt;version&gt;</c>.
/// </summary>
internal static class WorkerVersion
{
    /// <summary>The longest version the controller records.</summary>
    public const int MaxLength = 100;

    public static string Text { get; } = Clean(typeof(WorkerVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion);

    public static ProductInfoHeaderValue UserAgent { get; } = new(Wire.WorkerProduct, Text);

    /// <summary>
    /// Only the characters the controller accepts ([0-9A-Za-z.+-]) and at most <see cref="MaxLength"/>
    /// of them, so a build's unusual version still arrives rather than being recorded as unknown.
    /// </summary>
    internal static string Clean(string? version)
    {
        var kept = new string([.. (version ?? "").Where(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '+' or '-').Take(MaxLength)]);
        return kept.Length > 0 ? kept : "0.0.0";
    }
}

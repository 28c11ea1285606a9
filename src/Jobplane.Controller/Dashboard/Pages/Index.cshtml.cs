using Jobplane.Controller.Observability;
using Jobplane.Store;
using Jobplane.Store.Dashboard;

namespace Jobplane.Controller.Dashboard.Pages;

/// <summary>
/// The overview: work waiting and running now (from the periodic queue figures, never a count over
/// the history), and what finished in the last hour or day (<see cref="ActivityQueries"/>).
/// </summary>
public sealed class IndexModel(QueueGauges gauges, ActivityCache activity, ActivityQueries queries, ControllerOptions options) : DashboardPage
{
    public bool Day { get; private set; }
    public Activity Activity { get; private set; } = null!;
    public TimeSpan SnapshotAge { get; private set; }
    /// <summary>Rows: priority; columns: ready, scheduled, retrying, running.</summary>
    public SortedDictionary<int, long[]> ByPriority { get; } = new(Comparer<int>.Create((a, b) => b.CompareTo(a)));
    public long Ready { get; private set; }
    public long Scheduled { get; private set; }
    public long Retrying { get; private set; }
    public long Running { get; private set; }
    public long DeadLetters { get; private set; }
    public double? OldestReadySeconds { get; private set; }
    public IReadOnlyList<TenantRow> Tenants { get; private set; } = [];

    public static readonly string[] States = ["ready", "scheduled", "retrying", "running"];

    public sealed record TenantRow(Guid Id, string Name, bool Suspended, long Ready, long Running, long DeadLetters, double? OldestReadySeconds,
        long Succeeded, long Failed);

    public async Task OnGetAsync(string? range, CancellationToken ct)
    {
        Day = range == "day";
        var scope = Viewer.Scope;
        var maxAge = options.QueueMetricsInterval > TimeSpan.Zero ? options.QueueMetricsInterval * 2 : TimeSpan.FromSeconds(30);
        var (snapshot, age) = await gauges.LatestAsync(maxAge, ct);
        SnapshotAge = age;
        foreach (var d in snapshot.Depths.Where(d => scope is null || d.TenantId == scope))
        {
            var row = ByPriority.TryGetValue(d.Priority, out var r) ? r : ByPriority[d.Priority] = new long[4];
            row[Array.IndexOf(States, d.State)] += d.Count;
        }
        Ready = ByPriority.Values.Sum(r => r[0]);
        Scheduled = ByPriority.Values.Sum(r => r[1]);
        Retrying = ByPriority.Values.Sum(r => r[2]);
        Running = ByPriority.Values.Sum(r => r[3]);
        DeadLetters = snapshot.Dlq.Where(d => scope is null || d.TenantId == scope).Sum(d => d.Count);
        var oldest = snapshot.Oldest.Where(o => scope is null || o.TenantId == scope).Select(o => (double?)o.AgeSeconds).Max();
        OldestReadySeconds = oldest is { } o ? o + age.TotalSeconds : null;

        Activity = Day
            ? await activity.GetAsync(scope, TimeSpan.FromDays(1), TimeSpan.FromMinutes(30))
            : await activity.GetAsync(scope, TimeSpan.FromHours(1), TimeSpan.FromMinutes(1));

        if (Viewer.IsAdministrator)
        {
            var totals = Activity.Tenants.ToDictionary(t => t.TenantId);
            Tenants = [.. (await queries.TenantsAsync(500, ct)).Select(t =>
            {
                totals.TryGetValue(t.Id, out var done);
                var oldestReady = snapshot.Oldest.Where(o => o.TenantId == t.Id).Select(o => (double?)o.AgeSeconds + age.TotalSeconds).FirstOrDefault();
                return new TenantRow(t.Id, t.Name, t.Suspended,
                    snapshot.Depths.Where(d => d.TenantId == t.Id && d.State == "ready").Sum(d => d.Count),
                    snapshot.Depths.Where(d => d.TenantId == t.Id && d.State == "running").Sum(d => d.Count),
                    snapshot.Dlq.Where(d => d.TenantId == t.Id).Sum(d => d.Count), oldestReady, done.Succeeded, done.Failed);
            })];
        }
    }
}

using Jobplane.Store;
using Jobplane.Store.Dashboard;

namespace Jobplane.Controller.Dashboard.Pages;

/// <summary>
/// The live fleet (<see cref="WorkerQueries"/>): every worker heard from in the last day, what it can
/// run and grant, its slots and how many are in use, its last heartbeat and version. A tenant sees
/// only workers that may serve it, and only its own executions in their slot counts.
/// </summary>
public sealed class WorkersModel(WorkerQueries queries, Jobplane.Controller.Auth.WorkerPseudonyms pseudonyms) : DashboardPage
{
    public Fleet Fleet { get; private set; } = new([], false);

    /// <summary>Connected workers only: gone ones no longer count in the fleet's slots.</summary>
    public long Connected => Fleet.Workers.Count(w => !w.Gone);
    public long SlotsAnnounced => Fleet.Workers.Where(w => !w.Gone).Sum(w => (long)(w.Slots ?? 0));
    public long SlotsUsed => Fleet.Workers.Sum(w => w.SlotsUsed);
    public long SlotsFree => Fleet.Workers.Where(w => !w.Gone).Sum(w => Free(w) ?? 0);

    /// <summary>Seconds after which a worker not heard from is shown as gone.</summary>
    /// <summary>
    /// How the page names a worker: its id for the administrator; for a tenant the same pseudonym the
    /// API gives it (a worker id is usually a host name, and maps the platform's network).
    /// </summary>
    public string NameOf(FleetWorker w) => Viewer.IsAdministrator ? w.WorkerId : pseudonyms.For(Viewer.TenantId!.Value, w.WorkerId);

    public static double RecentSeconds => WorkerStore.Recent.TotalSeconds;

    /// <summary>Slots announced and not in use; null when it announced none (or for a tenant, who does not see the others' use).</summary>
    public long? Free(FleetWorker w) => Viewer.IsAdministrator && w.Slots is { } s && !w.Gone ? Math.Max(0, s - w.SlotsUsed) : null;

    public async Task OnGetAsync(CancellationToken ct)
    {
        Fleet = await queries.ReadAsync(Viewer.Scope, ct);
    }
}

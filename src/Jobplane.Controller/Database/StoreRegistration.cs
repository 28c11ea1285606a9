using Jobplane.Store;
using Npgsql;

namespace Jobplane.Controller.Database;

/// <summary>
/// The controller's two connection pools to the same database, and the stores on them. Workers
/// (claims, heartbeats, reports) and the controller's own maintenance use the platform pool;
/// everything a tenant's request reads or writes uses the tenant pool, whose statements also run
/// under a statement timeout. However many slow reads tenants start, they can hold at most the tenant
/// pool's connections, so a heartbeat never waits behind them for a connection and leases do not
/// expire for it.
/// </summary>
public static class StoreRegistration
{
    /// <summary>The DI key of the tenant pool (the platform pool is the unkeyed <see cref="NpgsqlDataSource"/>).</summary>
    public const string TenantPool = "tenant";

    public static IServiceCollection AddJobplaneStore(this IServiceCollection services)
    {
        services.AddSingleton(sp => StoreDataSource.Build(sp.GetRequiredService<ControllerOptions>().ConnectionString, "jobplane-controller"));
        services.AddKeyedSingleton(TenantPool, (sp, _) =>
        {
            var options = sp.GetRequiredService<ControllerOptions>();
            return StoreDataSource.Build(options.ConnectionString, "jobplane-controller-tenant", options.TenantStatementTimeout);
        });
        // What a tenant's request touches: the tenant pool.
        services.AddSingleton(sp => new TenantStore(TenantSource(sp)));
        services.AddSingleton(sp => new AuditLog(TenantSource(sp)));
        services.AddSingleton(sp => new RateBucketStore(TenantSource(sp)));
        services.AddSingleton(sp => new JobStore(TenantSource(sp)));
        services.AddSingleton(sp => new ExecutionStore(TenantSource(sp)));
        // Single runs from every request of this replica, written in shared transactions.
        services.AddSingleton(sp => new RunGroupCommitter(sp.GetRequiredService<ExecutionStore>()));
        services.AddSingleton(sp => new Store.Schedules.ScheduleStore(TenantSource(sp)));
        services.AddSingleton(sp => new Store.Webhooks.WebhookStore(TenantSource(sp)));
        services.AddSingleton(sp => new Store.Webhooks.WebhookDeliveryStore(TenantSource(sp)));
        // What workers and the controller's own loops touch: the platform pool.
        services.AddSingleton<WorkerCredentialStore>();
        services.AddSingleton<WorkerStore>();
        services.AddSingleton<QueueStore>();
        services.AddSingleton<RetentionStore>();
        services.AddSingleton<Store.Schedules.ScheduleFirer>();
        return services;
    }

    private static NpgsqlDataSource TenantSource(IServiceProvider sp) => sp.GetRequiredKeyedService<NpgsqlDataSource>(TenantPool);
}

using Npgsql;

namespace Jobplane.Controller.Database;

/// <summary>
/// The controller's two connection pools to the same database. Workers (claims, heartbeats, reports)
/// and the controller's own maintenance use the platform pool; everything a tenant's request reads
/// or writes uses the tenant pool, whose statements also run under a statement timeout. However many
/// slow reads tenants start, they can hold at most the tenant pool's connections, so a heartbeat
/// never waits behind them for a connection and leases do not expire for it.
/// </summary>
public static class DatabasePools
{
    /// <summary>The DI key of the tenant pool (the platform pool is the unkeyed <see cref="NpgsqlDataSource"/>).</summary>
    public const string Tenant = "tenant";

    public static NpgsqlDataSource BuildPlatform(ControllerOptions options) => Build(options, "jobplane-controller", statementTimeout: null);

    public static NpgsqlDataSource BuildTenant(ControllerOptions options) =>
        Build(options, "jobplane-controller-tenant", options.TenantStatementTimeout);

    private static NpgsqlDataSource Build(ControllerOptions options, string applicationName, TimeSpan? statementTimeout)
    {
        var csb = new NpgsqlConnectionStringBuilder(options.ConnectionString);
        // Requests hold a connection only for the statements they run (long-polls wait without one),
        // so each pool is sized for the cores PostgreSQL and the controller share, not for the number
        // of workers or tenants: more backends than that only queue inside PostgreSQL instead of in the
        // pool. A user's explicit setting wins (and applies to each pool).
        if (!csb.ConnectionString.Contains("Maximum Pool Size", StringComparison.OrdinalIgnoreCase))
            csb.MaxPoolSize = Math.Clamp(Environment.ProcessorCount * 8, 16, 100);
        var serverOptions = new List<string>();
        // The hot statements (claim, completion, heartbeat, submit, key lookup) are prepared once per
        // connection after their second use: PostgreSQL then skips parsing and analysing them. Plans stay
        // custom (made for each call's parameters): a generic plan for the claim, whose best plan
        // depends on the batch size and on which tenants have work, could be far worse.
        if (!csb.ConnectionString.Contains("Max Auto Prepare", StringComparison.OrdinalIgnoreCase))
        {
            csb.MaxAutoPrepare = 64;
            csb.AutoPrepareMinUsages = 2;
            if (string.IsNullOrEmpty(csb.Options)) serverOptions.Add("-c plan_cache_mode=force_custom_plan");
        }
        // Server side, so that it also ends a statement waiting for a lock, and the connection stays usable.
        if (statementTimeout is { } timeout && !(csb.Options ?? "").Contains("statement_timeout", StringComparison.Ordinal))
            serverOptions.Add($"-c statement_timeout={(long)timeout.TotalMilliseconds}");
        if (serverOptions.Count > 0)
            csb.Options = string.Join(' ', new[] { csb.Options }.Where(o => !string.IsNullOrEmpty(o)).Concat(serverOptions));
        // The controller keeps no session state on pooled connections (advisory locks are transaction
        // scoped; the migrator and the LISTEN connection undo theirs), so the reset Npgsql would
        // otherwise run when a connection is next used, a transaction of its own, is not needed: it was
        // one commit in every two PostgreSQL counted.
        if (!csb.ConnectionString.Contains("No Reset On Close", StringComparison.OrdinalIgnoreCase)) csb.NoResetOnClose = true;
        // Named per pool, so that pg_stat_activity tells which pool a backend serves.
        if (!csb.ConnectionString.Contains("Application Name", StringComparison.OrdinalIgnoreCase)) csb.ApplicationName = applicationName;
        return new NpgsqlDataSourceBuilder(csb.ConnectionString).Build();
    }
}

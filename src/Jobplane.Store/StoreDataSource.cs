using Npgsql;

namespace Jobplane.Store;

/// <summary>
/// How the store connects: pool size, prepared statements, JIT, statement timeout, and no reset on
/// close. These are the store's decisions, because they are safe only for the way the store uses
/// connections (transaction-scoped locks, no session state left behind); a user's explicit setting
/// in the connection string wins (the plan mode the claim and completion set for their own
/// transactions aside).
/// </summary>
public static class StoreDataSource
{
    public static NpgsqlDataSource Build(string connectionString, string applicationName, TimeSpan? statementTimeout = null)
    {
        var csb = new NpgsqlConnectionStringBuilder(connectionString);
        // Requests hold a connection only for the statements they run (long-polls wait without one),
        // so each pool is sized for the cores PostgreSQL and the controller share, not for the number
        // of workers or tenants: more backends than that only queue inside PostgreSQL instead of in the
        // pool. A user's explicit setting wins (and applies to each pool).
        if (!csb.ConnectionString.Contains("Maximum Pool Size", StringComparison.OrdinalIgnoreCase))
            csb.MaxPoolSize = Math.Clamp(Environment.ProcessorCount * 8, 16, 100);
        var serverOptions = new List<string>();
        // The hot statements (claim, completion, heartbeat, submit, key lookup) are prepared once per
        // connection after their second use: PostgreSQL then skips parsing and analysing them.
        if (!csb.ConnectionString.Contains("Max Auto Prepare", StringComparison.OrdinalIgnoreCase))
        {
            csb.MaxAutoPrepare = 64;
            csb.AutoPrepareMinUsages = 2;
        }
        // Plan mode is left to PostgreSQL (auto) on the connection and chosen per transaction where
        // it matters: the claim plans every call for its parameters (Sql.CustomPlans: its generic plan
        // reads ready_queue in proportion to the backlog), the completion keeps one plan per connection
        // (Sql.GenericPlans). Forcing custom plans on the whole session also re-planned, for every row,
        // the queries PostgreSQL runs inside the server: each foreign key check of an inserted execution
        // (two per row) and each statement of a trigger, which made a batch of 10,000 submissions spend
        // two thirds of its time planning them (bench/RESULTS.md).
        // No JIT compilation: the platform's statements are index probes and short walks, and the
        // planner's estimate for a batch submission (its webhook outbox join over 10,000 rows) passes
        // the JIT threshold, where compiling took as long as running it, again on every call.
        // A user's Options that set jit itself win (SetsSetting); Options that set plan_cache_mode set
        // the connection's mode, which the claim's and the completion's transactions still set for
        // themselves.
        if (!SetsSetting(csb.Options, "jit"))
            serverOptions.Add("-c jit=off");
        // Server side, so that it also ends a statement waiting for a lock, and the connection stays usable.
        if (statementTimeout is { } timeout && !SetsSetting(csb.Options, "statement_timeout"))
            serverOptions.Add($"-c statement_timeout={(long)timeout.TotalMilliseconds}");
        if (serverOptions.Count > 0)
            csb.Options = string.Join(' ', new[] { csb.Options }.Where(o => !string.IsNullOrEmpty(o)).Concat(serverOptions));
        // The platform keeps no session state on pooled connections (advisory locks are transaction
        // scoped; the migrator and the LISTEN connection undo theirs), so the reset Npgsql would
        // otherwise run when a connection is next used, a transaction of its own, is not needed: it was
        // one commit in every two PostgreSQL counted.
        if (!csb.ConnectionString.Contains("No Reset On Close", StringComparison.OrdinalIgnoreCase)) csb.NoResetOnClose = true;
        // Named per pool, so that pg_stat_activity tells which pool a backend serves.
        if (!csb.ConnectionString.Contains("Application Name", StringComparison.OrdinalIgnoreCase)) csb.ApplicationName = applicationName;
        return new NpgsqlDataSourceBuilder(csb.ConnectionString).Build();
    }

    /// <summary>
    /// Whether PostgreSQL startup options (the connection string's Options: "-c name=value",
    /// "-cname=value" or "--name=value", dashes in a name read as underscores, as the server reads
    /// them) set <paramref name="name"/> itself. By name, not by substring: "-c jit_above_cost=..."
    /// does not set jit, so it leaves the store's jit=off in place.
    /// </summary>
    private static bool SetsSetting(string? options, string name)
    {
        var tokens = (options ?? "").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < tokens.Length; i++)
        {
            var token = tokens[i];
            string? setting = token == "-c" ? (i + 1 < tokens.Length ? tokens[++i] : null)
                : token.StartsWith("--", StringComparison.Ordinal) ? token[2..]
                : token.StartsWith("-c", StringComparison.Ordinal) ? token[2..]
                : null;
            if (setting is null) continue;
            var equals = setting.IndexOf('=');
            var key = (equals < 0 ? setting : setting[..equals]).Replace('-', '_');
            if (key.Equals(name, StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }
}

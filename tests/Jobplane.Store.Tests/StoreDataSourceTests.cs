using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;
using Npgsql;

namespace Jobplane.Store.Tests;

/// <summary>
/// The connections the platform itself opens (StoreDataSource): their plan mode and JIT setting,
/// also when the user's connection string brings options of its own, and the claim's own plan mode
/// whatever the connection's. Real PostgreSQL, a database of this class's own.
/// </summary>
public sealed class StoreDataSourceTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private NpgsqlDataSource Build(string options, int? poolSize = null, TimeSpan? statementTimeout = null)
    {
        var csb = new NpgsqlConnectionStringBuilder(Db.ConnectionString) { Options = options };
        if (poolSize is { } size) csb.MaxPoolSize = size;
        return StoreDataSource.Build(csb.ConnectionString, "store-data-source-test", statementTimeout);
    }

    private static async Task<string> ShowAsync(NpgsqlDataSource source, string setting)
    {
        await using var cmd = source.CreateCommand($"show {setting}");
        return (string)(await cmd.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Connections_leave_the_plan_mode_to_postgres_and_compile_nothing_and_the_users_options_win()
    {
        await using (var theirs = Build("-c work_mem=8MB"))
        {
            Assert.Equal("8MB", await ShowAsync(theirs, "work_mem"));
            // Not forced to custom plans: that would re-plan every foreign key check of every inserted row.
            Assert.Equal("auto", await ShowAsync(theirs, "plan_cache_mode"));
            Assert.Equal("off", await ShowAsync(theirs, "jit"));
        }
        await using (var chosen = Build("-c plan_cache_mode=force_generic_plan -c jit=on"))
        {
            Assert.Equal("force_generic_plan", await ShowAsync(chosen, "plan_cache_mode"));
            Assert.Equal("on", await ShowAsync(chosen, "jit"));
        }
        await using (var dashed = Build("--jit=on"))
            Assert.Equal("on", await ShowAsync(dashed, "jit"));
    }

    [Fact]
    public async Task A_setting_whose_name_only_begins_like_the_stores_does_not_displace_it()
    {
        // jit_above_cost is not jit, and idle_in_transaction_session_timeout is not statement_timeout:
        // the store's own settings stay, next to the user's.
        await using (var near = Build("-c jit_above_cost=250000 -cidle_in_transaction_session_timeout=60000",
                         statementTimeout: TimeSpan.FromSeconds(7)))
        {
            Assert.Equal("off", await ShowAsync(near, "jit"));
            Assert.Equal("250000", await ShowAsync(near, "jit_above_cost"));
            Assert.Equal("7s", await ShowAsync(near, "statement_timeout"));
            Assert.Equal("1min", await ShowAsync(near, "idle_in_transaction_session_timeout"));
        }
        await using (var theirs = Build("-c statement_timeout=9000", statementTimeout: TimeSpan.FromSeconds(7)))
            Assert.Equal("9s", await ShowAsync(theirs, "statement_timeout"));
    }

    [Fact]
    public async Task The_claim_plans_each_call_for_its_parameters_and_splits_between_tenants_whatever_the_connections_plan_mode()
    {
        // One connection, so that its prepared statements can be read after the claims. Its mode
        // asks for generic plans: the claim's own transaction must override it.
        await using var source = Build("-c plan_cache_mode=force_generic_plan", poolSize: 1);
        var queue = new QueueStore(source);
        var tenants = new Guid[3];
        for (var i = 0; i < tenants.Length; i++)
        {
            var (tenant, job) = await TenantWithJobAsync();
            tenants[i] = tenant;
            Assert.NotNull(await Executions.RunManyAsync(tenant, job, 20, new RunOptions(null, null, null), Ct));
        }

        var got = tenants.ToDictionary(t => t, _ => 0);
        for (var round = 0; round < 5; round++)
            foreach (var c in await queue.ClaimAsync(6, "w", tenants, Lease, Ct)) got[c.Payload.TenantId]++;

        // Five claims of 6 slots over three tenants with work: 10 each.
        Assert.All(tenants, t => Assert.Equal(10, got[t]));

        // The claim's statements that read ready_queue (the candidate walk, the claim) were prepared
        // after their second call and planned for every call since, never generically.
        await using var cmd = source.CreateCommand("""
            select count(*), coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)
            from pg_prepared_statements where statement like '%ready_queue%'
            """);
        await using var reader = await cmd.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct));
        Assert.True(reader.GetInt64(0) >= 2, $"{reader.GetInt64(0)} prepared statements read ready_queue");
        Assert.Equal(0, reader.GetInt64(1));
        Assert.True(reader.GetInt64(2) >= 2 * 3, $"{reader.GetInt64(2)} custom plans");
    }
}

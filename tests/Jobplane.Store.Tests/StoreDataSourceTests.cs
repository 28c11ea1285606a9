using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;
using Npgsql;

namespace Jobplane.Store.Tests;

/// <summary>
/// The connections the platform itself opens (StoreDataSource): their plan mode, also when the
/// user's connection string brings options of its own, and the claim under a plan mode the user
/// chose. Real PostgreSQL, a database of this class's own.
/// </summary>
public sealed class StoreDataSourceTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private NpgsqlDataSource Build(string options) =>
        StoreDataSource.Build(new NpgsqlConnectionStringBuilder(Db.ConnectionString) { Options = options }.ConnectionString, "store-data-source-test");

    private static async Task<string> ShowAsync(NpgsqlDataSource source, string setting)
    {
        await using var cmd = source.CreateCommand($"show {setting}");
        return (string)(await cmd.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Options_of_the_users_own_keep_custom_plans_and_one_naming_the_plan_mode_wins()
    {
        await using (var theirs = Build("-c work_mem=8MB"))
        {
            Assert.Equal("8MB", await ShowAsync(theirs, "work_mem"));
            Assert.Equal("force_custom_plan", await ShowAsync(theirs, "plan_cache_mode"));
        }
        await using (var chosen = Build("-c plan_cache_mode=force_generic_plan"))
            Assert.Equal("force_generic_plan", await ShowAsync(chosen, "plan_cache_mode"));
    }

    [Fact]
    public async Task Claims_split_between_tenants_also_with_generic_plans_chosen_by_the_user()
    {
        // Prepared after its second use, the claim then runs on a generic plan: one made without
        // knowing which of its parameters are null.
        await using var source = Build("-c plan_cache_mode=force_generic_plan");
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
    }
}

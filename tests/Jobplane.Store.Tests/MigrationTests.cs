using Jobplane.Store;
using Jobplane.Testing;
using Npgsql;

namespace Jobplane.Store.Tests;

public sealed class MigrationTests(TestDatabase db) : IClassFixture<TestDatabase>
{
    [Fact]
    public async Task Migrating_a_current_database_applies_nothing()
    {
        var migrator = new Migrator(db.DataSource);

        var applied = await migrator.MigrateAsync();

        Assert.Empty(applied);
        Assert.True(await migrator.IsCurrentAsync());
        Assert.Equal(Migrator.Embedded.Count, (int)await db.ScalarAsync<long>("select count(*) from schema_migrations"));
    }

    [Fact]
    public void Embedded_migrations_are_found_in_version_order()
    {
        Assert.NotEmpty(Migrator.Embedded);
        Assert.Equal(1, Migrator.Embedded[0].Version);
        Assert.Equal("core", Migrator.Embedded[0].Name);
        Assert.Equal(Migrator.Embedded.Select(m => m.Version).Order(), Migrator.Embedded.Select(m => m.Version));
    }

    [Fact]
    public async Task Concurrent_migrators_on_an_empty_database_apply_each_migration_once()
    {
        var name = $"jobplane_mig_{Guid.NewGuid():N}"[..40];
        await AdminAsync($"create database \"{name}\"");
        var connectionString = new NpgsqlConnectionStringBuilder(TestDatabase.ServerConnectionString) { Database = name }.ConnectionString;
        // One data source per migrator, like separate controller processes started with --migrate at once.
        var sources = Enumerable.Range(0, 8).Select(_ => NpgsqlDataSource.Create(connectionString)).ToList();
        try
        {
            Assert.False(await new Migrator(sources[0]).IsCurrentAsync());

            var results = await Task.WhenAll(sources.Select(s => Task.Run(() => new Migrator(s).MigrateAsync())));

            // Every call succeeded, and between them each migration was applied exactly once.
            var appliedVersions = results.SelectMany(r => r).Order().ToList();
            Assert.Equal(Migrator.Embedded.Select(m => m.Version), appliedVersions);

            await using var cmd = sources[0].CreateCommand("select count(*), count(distinct version) from schema_migrations");
            await using var reader = await cmd.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal(Migrator.Embedded.Count, reader.GetInt64(0));
            Assert.Equal(Migrator.Embedded.Count, reader.GetInt64(1));
            await reader.DisposeAsync();

            Assert.True(await new Migrator(sources[0]).IsCurrentAsync());
            Assert.Empty(await new Migrator(sources[1]).MigrateAsync());
        }
        finally
        {
            foreach (var s in sources) await s.DisposeAsync();
            NpgsqlConnection.ClearAllPools();
            await AdminAsync($"drop database if exists \"{name}\" with (force)");
        }
    }

    private static async Task AdminAsync(string sql)
    {
        await using var conn = new NpgsqlConnection(TestDatabase.ServerConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }
}

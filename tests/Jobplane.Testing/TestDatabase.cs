using Jobplane.Store;
using Npgsql;
using Xunit;

namespace Jobplane.Testing;

/// <summary>
/// A fresh, migrated PostgreSQL database for one test class, dropped afterwards. The server comes
/// from JOBPLANE_TEST_DATABASE_URL (default: the local server over its unix socket, as the current
/// user), so tests always run against a real PostgreSQL, never a fake.
/// </summary>
public sealed class TestDatabase : IAsyncLifetime
{
    public static string ServerConnectionString
    {
        get
        {
            var url = Environment.GetEnvironmentVariable("JOBPLANE_TEST_DATABASE_URL");
            if (!string.IsNullOrWhiteSpace(url)) return DatabaseUrl.ToConnectionString(url);
            return $"Host=/var/run/postgresql;Username={Environment.UserName};Database=postgres";
        }
    }

    public string Name { get; } = $"jobplane_test_{Guid.NewGuid():N}"[..40];
    public string ConnectionString { get; private set; } = "";
    public NpgsqlDataSource DataSource { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await using (var admin = new NpgsqlConnection(ServerConnectionString))
        {
            await admin.OpenAsync();
            await using var cmd = new NpgsqlCommand($"create database \"{Name}\"", admin);
            await cmd.ExecuteNonQueryAsync();
        }
        ConnectionString = new NpgsqlConnectionStringBuilder(ServerConnectionString) { Database = Name }.ConnectionString;
        DataSource = NpgsqlDataSource.Create(ConnectionString);
        await new Migrator(DataSource).MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        await DataSource.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(ServerConnectionString);
        await admin.OpenAsync();
        await using var cmd = new NpgsqlCommand($"drop database if exists \"{Name}\" with (force)", admin);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Runs a scalar query; for assertions on what is really stored.</summary>
    public async Task<T> ScalarAsync<T>(string sql, params object[] args)
    {
        await using var cmd = DataSource.CreateCommand(sql);
        foreach (var a in args) cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        return (T)(await cmd.ExecuteScalarAsync())!;
    }
}

using Jobplane.Testing;
using Npgsql;

namespace Jobplane.ImagesTests;

/// <summary>
/// An empty database of its own for a controller container, owned by a login role of its own with a
/// password, reached over TCP the way a deployment reaches its PostgreSQL: a container's user has no
/// name on the host, so the unix socket's peer authentication cannot admit it. Both are dropped
/// afterwards. The database is left unmigrated: the controller in the image migrates it.
/// </summary>
public sealed class ContainerDatabase : IAsyncLifetime
{
    public string Name { get; } = $"jobplane_images_{Guid.NewGuid():N}"[..40];
    private string Password { get; } = Guid.NewGuid().ToString("N");

    /// <summary>The DATABASE_URL the controller container gets (a host-network container sees the host's loopback).</summary>
    public string ContainerConnectionString
    {
        get
        {
            var server = new NpgsqlConnectionStringBuilder(TestDatabase.ServerConnectionString);
            var host = server.Host is { Length: > 0 } h && !h.StartsWith('/') ? h : "127.0.0.1";
            return new NpgsqlConnectionStringBuilder
            {
                Host = host,
                Port = server.Port,
                Username = Name,
                Password = Password,
                Database = Name,
            }.ConnectionString;
        }
    }

    public async Task InitializeAsync()
    {
        await using var admin = new NpgsqlConnection(TestDatabase.ServerConnectionString);
        await admin.OpenAsync();
        // Identifiers and the password are this class's own hex: nothing to quote beyond the quotes.
        await ExecAsync(admin, $"create role \"{Name}\" login password '{Password}'");
        await ExecAsync(admin, $"create database \"{Name}\" owner \"{Name}\"");
    }

    /// <summary>The migration versions recorded in the database.</summary>
    public async Task<IReadOnlyList<int>> AppliedMigrationsAsync()
    {
        var builder = new NpgsqlConnectionStringBuilder(TestDatabase.ServerConnectionString) { Database = Name };
        await using var conn = new NpgsqlConnection(builder.ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("select version from schema_migrations order by version", conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        var versions = new List<int>();
        while (await reader.ReadAsync()) versions.Add(reader.GetInt32(0));
        return versions;
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(TestDatabase.ServerConnectionString);
        await admin.OpenAsync();
        await ExecAsync(admin, $"drop database if exists \"{Name}\" with (force)");
        await ExecAsync(admin, $"drop role if exists \"{Name}\"");
    }

    private static async Task ExecAsync(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }
}

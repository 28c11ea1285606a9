using System.Reflection;
using Npgsql;

namespace Jobplane.Store;

/// <summary>
/// Applies the SQL migrations embedded in this assembly, in version order, each in its own
/// transaction. A session-level advisory lock serialises concurrent migrators (two controllers
/// started with --migrate at once); a migration already recorded is skipped, so re-running is a no-op.
/// </summary>
public sealed class Migrator(NpgsqlDataSource dataSource)
{
    public sealed record Migration(int Version, string Name, string Sql);

    public static IReadOnlyList<Migration> Embedded { get; } = LoadEmbedded();

    /// <summary>Returns the versions applied by this call (empty when the schema was current).</summary>
    /// <param name="upTo">Stop after this version (tests of a migration on data an older schema holds); null: all.</param>
    public async Task<IReadOnlyList<int>> MigrateAsync(CancellationToken ct = default, int? upTo = null)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await Exec(conn, "select pg_advisory_lock(@k)", ct, LockKeys.Migrations);
        try
        {
            await Exec(conn, """
                create table if not exists schema_migrations (
                    version    integer primary key,
                    name       text not null,
                    applied_at timestamptz not null default now())
                """, ct);
            var applied = new HashSet<int>();
            await using (var cmd = new NpgsqlCommand("select version from schema_migrations", conn))
            await using (var reader = await cmd.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct)) applied.Add(reader.GetInt32(0));
            }

            var done = new List<int>();
            foreach (var m in Embedded.Where(m => !applied.Contains(m.Version) && (upTo is null || m.Version <= upTo)))
            {
                await using var tx = await conn.BeginTransactionAsync(ct);
                await using (var cmd = new NpgsqlCommand(m.Sql, conn, tx)) await cmd.ExecuteNonQueryAsync(ct);
                await using (var cmd = new NpgsqlCommand("insert into schema_migrations (version, name) values (@v, @n)", conn, tx))
                {
                    cmd.Parameters.AddWithValue("v", m.Version);
                    cmd.Parameters.AddWithValue("n", m.Name);
                    await cmd.ExecuteNonQueryAsync(ct);
                }
                await tx.CommitAsync(ct);
                done.Add(m.Version);
            }
            if (done.Count > 0) await conn.ReloadTypesAsync(ct);
            return done;
        }
        finally
        {
            await Exec(conn, "select pg_advisory_unlock(@k)", CancellationToken.None, LockKeys.Migrations);
        }
    }

    /// <summary>True when every embedded migration is recorded as applied.</summary>
    public async Task<bool> IsCurrentAsync(CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand(
            "select count(*) from schema_migrations where version = any(@v)", conn);
        cmd.Parameters.AddWithValue("v", Embedded.Select(m => m.Version).ToArray());
        try
        {
            return (long)(await cmd.ExecuteScalarAsync(ct))! == Embedded.Count;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return false;
        }
    }

    private static async Task Exec(NpgsqlConnection conn, string sql, CancellationToken ct, long? key = null)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        if (key is { } k) cmd.Parameters.AddWithValue("k", k);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static List<Migration> LoadEmbedded()
    {
        const string prefix = "Jobplane.Store.Migrations.";
        var asm = typeof(Migrator).Assembly;
        var list = new List<Migration>();
        foreach (var resource in asm.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            var file = resource[prefix.Length..];
            var underscore = file.IndexOf('_', StringComparison.Ordinal);
            if (underscore <= 0 || !int.TryParse(file[..underscore], out var version))
                throw new InvalidOperationException($"migration '{file}' must be named NNNN_name.sql");
            using var stream = asm.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            list.Add(new Migration(version, Path.GetFileNameWithoutExtension(file[(underscore + 1)..]), reader.ReadToEnd()));
        }
        list.Sort((a, b) => a.Version.CompareTo(b.Version));
        return list;
    }
}

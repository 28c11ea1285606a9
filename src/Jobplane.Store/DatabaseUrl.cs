using System.Globalization;
using Npgsql;

namespace Jobplane.Store;

/// <summary>
/// Turns DATABASE_URL into an Npgsql connection string. Accepts the URL form the old jobplane used
/// (postgres://user:pass@host:port/db?sslmode=disable) as well as a key=value connection string.
/// </summary>
public static class DatabaseUrl
{
    public static string ToConnectionString(string databaseUrl)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databaseUrl);
        var text = databaseUrl.Trim();
        if (!text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) &&
            !text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return new NpgsqlConnectionStringBuilder(text).ConnectionString;
        }

        var uri = new Uri(text);
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = Uri.UnescapeDataString(uri.Host),
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')),
        };
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            var parts = uri.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length == 2) builder.Password = Uri.UnescapeDataString(parts[1]);
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            var key = Uri.UnescapeDataString(kv[0]);
            var value = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "";
            switch (key.ToLowerInvariant())
            {
                case "sslmode":
                    builder.SslMode = value.ToLowerInvariant() switch
                    {
                        "disable" => SslMode.Disable,
                        "allow" => SslMode.Allow,
                        "prefer" => SslMode.Prefer,
                        "require" => SslMode.Require,
                        "verify-ca" => SslMode.VerifyCA,
                        "verify-full" => SslMode.VerifyFull,
                        _ => throw new ArgumentException($"DATABASE_URL: unknown sslmode '{value}'"),
                    };
                    break;
                case "host":
                    // postgres:///db?host=/var/run/postgresql selects a unix socket directory.
                    builder.Host = value;
                    break;
                // Standard libpq URL parameters, mapped to their Npgsql equivalents.
                case "application_name":
                    builder.ApplicationName = value;
                    break;
                case "connect_timeout":
                    builder.Timeout = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
                        ? seconds
                        : throw new ArgumentException($"DATABASE_URL: connect_timeout must be a whole number of seconds (got '{value}')");
                    break;
                case "options":
                    builder.Options = value;
                    break;
                case "sslrootcert":
                    builder.RootCertificate = value;
                    break;
                case "sslcert":
                    builder.SslCertificate = value;
                    break;
                case "sslkey":
                    builder.SslKey = value;
                    break;
                case "target_session_attrs":
                    builder.TargetSessionAttributes = value;
                    break;
                default:
                    // Anything else must be an Npgsql connection-string keyword (e.g. "Maximum Pool Size").
                    try
                    {
                        builder[key] = value;
                    }
                    catch (ArgumentException e)
                    {
                        throw new ArgumentException($"DATABASE_URL: unsupported parameter '{key}'", e);
                    }
                    break;
            }
        }
        if (string.IsNullOrEmpty(builder.Host)) builder.Host = "localhost";
        return builder.ConnectionString;
    }
}

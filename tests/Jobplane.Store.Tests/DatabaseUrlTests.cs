using Jobplane.Store;
using Npgsql;

namespace Jobplane.Store.Tests;

public sealed class DatabaseUrlTests
{
    [Fact]
    public void A_url_maps_to_every_connection_field()
    {
        var cs = DatabaseUrl.ToConnectionString("postgres://user:p%40ss@host:5433/db?sslmode=disable");
        var b = new NpgsqlConnectionStringBuilder(cs);

        Assert.Equal("host", b.Host);
        Assert.Equal(5433, b.Port);
        Assert.Equal("db", b.Database);
        Assert.Equal("user", b.Username);
        Assert.Equal("p@ss", b.Password);
        Assert.Equal(SslMode.Disable, b.SslMode);
    }

    [Fact]
    public void The_postgresql_scheme_and_the_default_port_are_accepted()
    {
        var b = new NpgsqlConnectionStringBuilder(DatabaseUrl.ToConnectionString("postgresql://jp@db.internal/jobplane?sslmode=require"));

        Assert.Equal("db.internal", b.Host);
        Assert.Equal(5432, b.Port);
        Assert.Equal("jobplane", b.Database);
        Assert.Equal("jp", b.Username);
        Assert.Null(b.Password);
        Assert.Equal(SslMode.Require, b.SslMode);
    }

    [Theory]
    [InlineData("verify-full", SslMode.VerifyFull)]
    [InlineData("verify-ca", SslMode.VerifyCA)]
    [InlineData("PREFER", SslMode.Prefer)]
    [InlineData("allow", SslMode.Allow)]
    public void Every_libpq_sslmode_is_understood(string mode, SslMode expected)
    {
        var b = new NpgsqlConnectionStringBuilder(DatabaseUrl.ToConnectionString($"postgres://u:p@h/d?sslmode={mode}"));
        Assert.Equal(expected, b.SslMode);
    }

    [Fact]
    public void A_key_value_connection_string_passes_through()
    {
        const string input = "Host=db.example;Port=6000;Database=jp;Username=u;Password=secret;SSL Mode=Require";
        var b = new NpgsqlConnectionStringBuilder(DatabaseUrl.ToConnectionString(input));
        var expected = new NpgsqlConnectionStringBuilder(input);

        Assert.True(expected.EquivalentTo(b), $"{input} became {b.ConnectionString}");
        Assert.Equal("db.example", b.Host);
        Assert.Equal(6000, b.Port);
        Assert.Equal("secret", b.Password);
    }

    [Fact]
    public void A_host_query_parameter_selects_a_unix_socket_directory()
    {
        var b = new NpgsqlConnectionStringBuilder(DatabaseUrl.ToConnectionString("postgres://jp@localhost/jobplane?host=/var/run/postgresql"));
        Assert.Equal("/var/run/postgresql", b.Host);
        Assert.Equal("jobplane", b.Database);
    }

    [Fact]
    public void Common_libpq_url_parameters_are_understood()
    {
        // Standard libpq URL parameters, as a DATABASE_URL written for the old jobplane may carry them.
        var b = new NpgsqlConnectionStringBuilder(DatabaseUrl.ToConnectionString(
            "postgres://u:p@h/d?sslmode=require&application_name=jobplane-controller&connect_timeout=7"));

        Assert.Equal(SslMode.Require, b.SslMode);
        Assert.Equal("jobplane-controller", b.ApplicationName);
        Assert.Equal(7, b.Timeout);
    }

    [Fact]
    public void Npgsql_parameters_in_the_query_pass_through()
    {
        var b = new NpgsqlConnectionStringBuilder(DatabaseUrl.ToConnectionString("postgres://u:p@h/d?Maximum%20Pool%20Size=7&Pooling=true"));
        Assert.Equal(7, b.MaxPoolSize);
        Assert.True(b.Pooling);
    }

    [Fact]
    public void An_unknown_sslmode_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => DatabaseUrl.ToConnectionString("postgres://u:p@h/d?sslmode=sometimes"));
        Assert.Contains("sslmode", e.Message);
        Assert.Contains("sometimes", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void An_empty_url_is_refused(string url)
    {
        Assert.ThrowsAny<ArgumentException>(() => DatabaseUrl.ToConnectionString(url));
    }
}

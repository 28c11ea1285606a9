using Jobplane.Api;

namespace Jobplane.Cli.Tests;

public sealed class SettingsTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("jobctl-settings-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private string WriteConfig(string name, string yaml)
    {
        var path = Path.Join(directory, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    private static Dictionary<string, string?> Env(params (string Key, string? Value)[] pairs) =>
        pairs.ToDictionary(p => p.Key, p => p.Value);

    [Fact]
    public void Nothing_given_uses_the_default_url_and_no_token()
    {
        var settings = CliSettings.Resolve(new SettingsFlags(), Env());

        Assert.Equal(new Uri(Wire.DefaultUrl), settings.Url);
        Assert.Null(settings.Token);
        Assert.Equal(OutputFormat.Table, settings.Output);
    }

    [Fact]
    public void Config_file_beats_the_default()
    {
        var config = WriteConfig("c.yaml", "url: http://from-config:7000\ntoken: config-token\n");

        var settings = CliSettings.Resolve(new SettingsFlags(ConfigPath: config), Env());

        Assert.Equal(new Uri("http://from-config:7000"), settings.Url);
        Assert.Equal("config-token", settings.Token);
    }

    [Fact]
    public void Environment_beats_the_config_file()
    {
        var config = WriteConfig("c.yaml", "url: http://from-config:7000\ntoken: config-token\n");
        var env = Env(("JOBPLANE_URL", "http://from-env:7001"), ("JOBPLANE_TOKEN", "env-token"));

        var settings = CliSettings.Resolve(new SettingsFlags(ConfigPath: config), env);

        Assert.Equal(new Uri("http://from-env:7001"), settings.Url);
        Assert.Equal("env-token", settings.Token);
    }

    [Fact]
    public void Flags_beat_the_environment()
    {
        var config = WriteConfig("c.yaml", "url: http://from-config:7000\ntoken: config-token\n");
        var env = Env(("JOBPLANE_URL", "http://from-env:7001"), ("JOBPLANE_TOKEN", "env-token"));

        var settings = CliSettings.Resolve(new SettingsFlags("http://from-flag:7002", "flag-token", config, "json"), env);

        Assert.Equal(new Uri("http://from-flag:7002"), settings.Url);
        Assert.Equal("flag-token", settings.Token);
        Assert.Equal(OutputFormat.Json, settings.Output);
    }

    [Fact]
    public void Precedence_is_per_setting()
    {
        // The url comes from the environment while the token still comes from the file.
        var config = WriteConfig("c.yaml", "url: http://from-config:7000\ntoken: config-token\n");

        var settings = CliSettings.Resolve(new SettingsFlags(ConfigPath: config), Env(("JOBPLANE_URL", "http://from-env:7001")));

        Assert.Equal(new Uri("http://from-env:7001"), settings.Url);
        Assert.Equal("config-token", settings.Token);
    }

    [Fact]
    public void Empty_environment_values_count_as_unset()
    {
        var config = WriteConfig("c.yaml", "token: config-token\n");

        var settings = CliSettings.Resolve(new SettingsFlags(ConfigPath: config), Env(("JOBPLANE_TOKEN", "")));

        Assert.Equal("config-token", settings.Token);
    }

    [Fact]
    public void The_default_config_file_is_read_from_home()
    {
        WriteConfig(".jobctl.yaml", "url: https://home-config.example\ntoken: home-token\nunrelated: kept-out\n");

        var settings = CliSettings.Resolve(new SettingsFlags(), Env(("HOME", directory)));

        Assert.Equal(new Uri("https://home-config.example"), settings.Url);
        Assert.Equal("home-token", settings.Token);
    }

    [Fact]
    public void A_missing_default_config_file_is_fine()
    {
        var settings = CliSettings.Resolve(new SettingsFlags(), Env(("HOME", Path.Join(directory, "nobody"))));

        Assert.Equal(new Uri(Wire.DefaultUrl), settings.Url);
    }

    [Fact]
    public void A_missing_explicit_config_file_is_an_error()
    {
        var missing = Path.Join(directory, "absent.yaml");

        var error = Assert.Throws<UsageException>(() => CliSettings.Resolve(new SettingsFlags(ConfigPath: missing), Env()));

        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tilde_in_the_config_flag_means_home()
    {
        WriteConfig("mine.yaml", "token: tilde-token\n");

        var settings = CliSettings.Resolve(new SettingsFlags(ConfigPath: "~/mine.yaml"), Env(("HOME", directory)));

        Assert.Equal("tilde-token", settings.Token);
    }

    [Theory]
    [InlineData("url: [not, a, string]\n")]
    [InlineData("- just\n- a list\n")]
    [InlineData("url: \"unterminated\n")]
    public void A_malformed_config_file_is_an_error(string yaml)
    {
        var config = WriteConfig("bad.yaml", yaml);

        Assert.Throws<UsageException>(() => CliSettings.Resolve(new SettingsFlags(ConfigPath: config), Env()));
    }

    [Fact]
    public void An_empty_config_file_is_fine()
    {
        var config = WriteConfig("empty.yaml", "");

        var settings = CliSettings.Resolve(new SettingsFlags(ConfigPath: config), Env());

        Assert.Equal(new Uri(Wire.DefaultUrl), settings.Url);
    }

    [Fact]
    public void An_invalid_url_names_where_it_came_from()
    {
        var error = Assert.Throws<UsageException>(() =>
            CliSettings.Resolve(new SettingsFlags(), Env(("JOBPLANE_URL", "localhost:6161"))));

        Assert.Contains("JOBPLANE_URL", error.Message, StringComparison.Ordinal);
        Assert.Contains("localhost:6161", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Administrator_commands_prefer_system_secret_over_a_tenant_token()
    {
        var env = Env(("JOBPLANE_TOKEN", "tenant-key"), ("SYSTEM_SECRET", "admin-secret"));

        Assert.Equal("admin-secret", CliSettings.Resolve(new SettingsFlags(), env, administrator: true).Token);
        Assert.Equal("tenant-key", CliSettings.Resolve(new SettingsFlags(), env, administrator: false).Token);
        Assert.Equal("flag", CliSettings.Resolve(new SettingsFlags(Token: "flag"), env, administrator: true).Token);
    }

    [Fact]
    public void Administrator_commands_fall_back_to_the_usual_token()
    {
        var settings = CliSettings.Resolve(new SettingsFlags(), Env(("JOBPLANE_TOKEN", "tenant-key")), administrator: true);

        Assert.Equal("tenant-key", settings.Token);
    }

    [Fact]
    public async Task A_missing_explicit_config_file_exits_2_without_sending()
    {
        var missing = Path.Join(directory, "absent.yaml");

        var result = await CliRunner.RunAsync("--config", missing, "-t", "x", "jobs", "list");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(missing, result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task No_token_anywhere_exits_2_without_sending()
    {
        var result = await CliRunner.RunAsync("jobs", "list");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("no API token", result.Stderr, StringComparison.Ordinal);
    }
}

using System.CommandLine;

namespace Jobplane.Cli.Tests;

/// <summary>
/// tenant list/get/update/suspend/resume/keys, keys, worker-credentials and audit: every bad invocation
/// exits 2, names what is wrong, prints nothing on stdout and sends nothing (the tripwire handler).
/// </summary>
public sealed class TenancyCommandUsageTests
{
    private const string Token = "test-token";
    private const string SomeId = "0b5c3c4e-6a63-4f2f-8c1c-3a4b5c6d7e8f";

    private static ParseResult Parse(params string[] args)
    {
        var runtime = new JobctlRuntime(TextWriter.Null, TextWriter.Null, new Dictionary<string, string?>(), null, color: false);
        return JobctlApp.BuildRootCommand(runtime).Parse(args);
    }

    public static TheoryData<string[], string> UsageErrors => new()
    {
        // Missing arguments are named, not only counted.
        { ["tenant", "get"], "missing TENANT_ID (usage: jobctl tenant get TENANT_ID)" },
        { ["tenant", "suspend"], "missing TENANT_ID" },
        { ["tenant", "resume"], "missing TENANT_ID" },
        { ["tenant", "keys", "create"], "missing TENANT_ID" },
        { ["tenant", "keys", "list"], "missing TENANT_ID" },
        { ["tenant", "keys", "revoke", SomeId], "missing KEY_ID (usage: jobctl tenant keys revoke TENANT_ID KEY_ID)" },
        { ["tenant", "keys", "revoke"], "missing TENANT_ID and KEY_ID" },
        { ["keys", "revoke"], "missing KEY_ID" },
        { ["worker-credentials", "revoke"], "missing ID" },
        { ["worker-credentials", "create"], "Option '--name' is required" },
        { ["run", "--count", "5"], "missing JOB_ID" },

        // Ids are UUIDs.
        { ["tenant", "get", "acme"], "TENANT_ID: 'acme' is not a valid id" },
        { ["tenant", "suspend", "acme"], "TENANT_ID: 'acme' is not a valid id" },
        { ["tenant", "resume", "42"], "TENANT_ID: '42' is not a valid id" },
        { ["tenant", "keys", "list", "acme"], "TENANT_ID: 'acme' is not a valid id" },
        { ["tenant", "keys", "revoke", SomeId, "jp_abc"], "KEY_ID: 'jp_abc' is not a valid id" },
        { ["keys", "revoke", "jp_abc"], "KEY_ID: 'jp_abc' is not a valid id" },
        { ["worker-credentials", "revoke", "w-1"], "ID: 'w-1' is not a valid id" },
        { ["worker-credentials", "create", "--name", "w", "--tenant", SomeId, "--tenant", "acme"], "--tenant: 'acme' is not a valid id" },
        { ["audit", "--tenant", "acme"], "--tenant: 'acme' is not a valid id" },

        // Numbers in range.
        { ["tenant", "list", "--limit", "0"], "--limit must be an integer >= 1 (got '0')" },
        { ["tenant", "list", "--offset", "-1"], "--offset must be an integer >= 0 (got '-1')" },
        { ["tenant", "update", SomeId, "--weight", "0"], "--weight must be an integer >= 1 (got '0')" },
        { ["tenant", "update", SomeId, "--weight", "heavy"], "(got 'heavy')" },
        { ["tenant", "create", "--name", "n", "--weight", "-2"], "--weight must be an integer >= 1 (got '-2')" },
        { ["audit", "--limit", "0"], "--limit must be an integer >= 1 (got '0')" },
        { ["audit", "--before", "0"], "--before must be an integer >= 1 (got '0')" },
        { ["audit", "--before", "next"], "(got 'next')" },
        { ["keys", "list", "--limit", "0"], "--limit must be an integer >= 1 (got '0')" },
        { ["tenant", "keys", "list", SomeId, "--limit", "many"], "(got 'many')" },
        { ["worker-credentials", "list", "--limit", "-1"], "--limit must be an integer >= 1 (got '-1')" },

        // Runtimes by name.
        { ["tenant", "update", SomeId, "--allowed-runtimes", "exec,lambda"], "--allowed-runtimes: 'lambda' is not a runtime" },
        { ["tenant", "update", SomeId, "--allowed-runtimes", "Docker"], "'Docker' is not a runtime" },
        { ["tenant", "create", "--name", "n", "--allowed-runtimes", "wasm"], "'wasm' is not a runtime" },
        { ["tenant", "update", SomeId, "--allow-network", "yes"], "--allow-network must be true or false (got 'yes')" },
        { ["tenant", "update", SomeId, "--allow-network"], "--allow-network" },
        { ["tenant", "create", "--name", "n", "--allow-network", "1"], "(got '1')" },

        // Log limits: a size with binary units, a count.
        { ["tenant", "update", SomeId, "--log-max-bytes", "lots"], "--log-max-bytes must be a size such as 16MiB, 512KiB, 1g or a number of bytes (got 'lots')" },
        { ["tenant", "create", "--name", "n", "--log-max-bytes", "1.5m"], "(got '1.5m')" },
        { ["tenant", "update", SomeId, "--log-follow-max", "-1"], "--log-follow-max must be an integer >= 0 (got '-1')" },

        // Checked before sending, as the controller would refuse it anyway.
        { ["tenant", "update", SomeId], "nothing to update: give at least one of --name, --rate-limit, --rate-limit-burst, --max-concurrent, --weight, --allowed-runtimes" },
    };

    [Theory]
    [MemberData(nameof(UsageErrors))]
    public async Task Usage_errors_exit_2_say_why_and_send_nothing(string[] args, string expected)
    {
        var tripwire = new TripwireHandler();

        var result = await CliRunner.RunWithAsync(null, tripwire, [.. args, "-t", Token]);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(expected, result.Stderr, StringComparison.Ordinal);
        Assert.StartsWith("error: ", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.Stdout);
        Assert.Equal(0, tripwire.Calls);
    }

    [Theory]
    [InlineData("tenant list")]
    [InlineData("tenant get " + SomeId)]
    [InlineData("tenant suspend " + SomeId)]
    [InlineData("tenant keys list " + SomeId)]
    [InlineData("worker-credentials list")]
    [InlineData("audit")]
    public async Task Administrator_commands_without_a_token_say_which_one_is_needed(string command)
    {
        var result = await CliRunner.RunAsync(command.Split(' '));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("no administrator token", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("SYSTEM_SECRET", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keys_without_a_token_ask_for_the_tenants_key()
    {
        var result = await CliRunner.RunAsync("keys", "list");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("no API token", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("exec", new[] { "exec" })]
    [InlineData("exec,docker", new[] { "exec", "docker" })]
    [InlineData(" docker , kubernetes,docker", new[] { "docker", "kubernetes" })]
    [InlineData("", new string[0])]
    [InlineData(",", new string[0])]
    public void Allowed_runtimes_are_a_comma_list_and_empty_lifts_the_restriction(string text, string[] expected)
    {
        var parsed = Parse("tenant", "update", SomeId, "--allowed-runtimes", text);

        Assert.Empty(parsed.Errors);
        Assert.Equal(expected, parsed.GetValue<string[]?>("--allowed-runtimes"));
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("false", false)]
    [InlineData("True", true)]
    public void Allow_network_is_an_explicit_true_or_false(string text, bool expected)
    {
        var update = Parse("tenant", "update", SomeId, "--allow-network", text);
        var create = Parse("tenant", "create", "--name", "t", "--allow-network", text);

        Assert.Empty(update.Errors);
        Assert.Equal(expected ? "true" : "false", update.GetValue<string?>("--allow-network"));
        Assert.Empty(create.Errors);
        Assert.Equal(expected ? "true" : "false", create.GetValue<string?>("--allow-network"));
        Assert.Null(Parse("tenant", "update", SomeId, "--weight", "2").GetValue<string?>("--allow-network"));
    }

    [Fact]
    public void Max_fleet_share_is_a_number_and_not_given_leaves_it_as_it_is()
    {
        var parsed = Parse("tenant", "update", SomeId, "--max-fleet-share", "0.25");
        Assert.Empty(parsed.Errors);
        Assert.Equal(0.25, parsed.GetValue<double?>("--max-fleet-share"));
        Assert.Null(Parse("tenant", "update", SomeId, "--weight", "2").GetValue<double?>("--max-fleet-share"));
        Assert.Contains(Parse("tenant", "update", SomeId, "--max-fleet-share", "half").Errors,
            e => e.Message.Contains("--max-fleet-share", StringComparison.Ordinal));
    }

    [Fact]
    public void Worker_credentials_take_one_tenant_per_flag()
    {
        const string other = "1c6d4d5f-7b74-4a3a-9d2d-4b5c6d7e8f90";

        var parsed = Parse("worker-credentials", "create", "--name", "w", "--tenant", SomeId, "--tenant", other);

        Assert.Empty(parsed.Errors);
        Assert.Equal([Guid.Parse(SomeId), Guid.Parse(other)], parsed.GetValue<Guid[]>("--tenant") ?? []);
    }

    [Theory]
    [InlineData("tenant", "suspend")]
    [InlineData("tenant", "keys")]
    [InlineData("tenant update", "--allowed-runtimes")]
    [InlineData("tenant update", "--weight")]
    [InlineData("tenant update", "--allow-network")]
    [InlineData("tenant create", "--allow-network")]
    [InlineData("tenant create", "--max-fleet-share")]
    [InlineData("tenant update", "--max-fleet-share")]
    [InlineData("keys create", "shown only this once")]
    [InlineData("worker-credentials create", "--tenant")]
    [InlineData("audit", "--before")]
    [InlineData("tenant list", "--cursor")]
    [InlineData("tenant keys list", "--cursor")]
    [InlineData("keys list", "--cursor")]
    [InlineData("worker-credentials list", "--cursor")]
    [InlineData("jobs list", "--cursor")]
    [InlineData("executions list", "--cursor")]
    [InlineData("dlq list", "--cursor")]
    [InlineData("jobs list", "prints the command for the next page")]
    public async Task Help_describes_the_new_commands_and_flags(string command, string expected)
    {
        var result = await CliRunner.RunAsync([.. command.Split(' '), "--help"]);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains(expected, result.Stdout, StringComparison.Ordinal);
    }
}

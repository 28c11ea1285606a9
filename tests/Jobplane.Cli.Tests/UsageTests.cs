using System.CommandLine;
using Jobplane.Api;

namespace Jobplane.Cli.Tests;

/// <summary>Bad invocations: exit 2, a message naming the bad value, and nothing sent (the tripwire handler).</summary>
public sealed class UsageTests
{
    private const string Token = "test-token";
    private static readonly string SomeId = Guid.NewGuid().ToString();

    private static ParseResult Parse(params string[] args)
    {
        var runtime = new JobctlRuntime(TextWriter.Null, TextWriter.Null, new Dictionary<string, string?>(), null, color: false);
        return JobctlApp.BuildRootCommand(runtime).Parse(args);
    }

    [Theory]
    [InlineData("bogus")]
    [InlineData("101")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("urgent")]
    public async Task A_bad_priority_is_a_usage_error_naming_the_value(string priority)
    {
        foreach (var args in new[]
        {
            new[] { "submit", "--name", "n", "--image", "exec", "-c", "true", "-p", priority, "-t", Token },
            ["create", "--name", "n", "--image", "exec", "--priority", priority, "-t", Token],
            ["run", SomeId, "-p", priority, "-t", Token],
        })
        {
            var tripwire = new TripwireHandler();
            var result = await CliRunner.RunWithAsync(null, tripwire, args);

            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.Contains($"'{priority}'", result.Stderr, StringComparison.Ordinal);
            Assert.Empty(result.Stdout);
            Assert.Equal(0, tripwire.Calls);
        }
    }

    [Theory]
    [InlineData("low", 0)]
    [InlineData("NORMAL", 50)]
    [InlineData("high", 75)]
    [InlineData("critical", 100)]
    [InlineData("0", 0)]
    [InlineData("42", 42)]
    [InlineData("100", 100)]
    public void Priority_accepts_numbers_and_names(string text, int expected)
    {
        var parsed = Parse("create", "--name", "n", "--image", "exec", "-p", text);

        Assert.Empty(parsed.Errors);
        Assert.Equal(new Priority(expected), parsed.GetValue<Priority?>("--priority"));
    }

    [Theory]
    [InlineData("2030-01-02T15:04:05")]
    [InlineData("2030-01-02")]
    [InlineData("tomorrow")]
    [InlineData("2030-13-02T15:04:05Z")]
    [InlineData("2030-01-02T25:04:05+02:00")]
    [InlineData("1735689600")]
    public async Task A_bad_schedule_is_a_usage_error_naming_the_value(string schedule)
    {
        foreach (var args in new[]
        {
            new[] { "run", SomeId, "--schedule", schedule, "-t", Token },
            ["submit", "--name", "n", "--image", "exec", "--schedule", schedule, "-t", Token],
        })
        {
            var tripwire = new TripwireHandler();
            var result = await CliRunner.RunWithAsync(null, tripwire, args);

            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.Contains($"'{schedule}'", result.Stderr, StringComparison.Ordinal);
            Assert.Contains("RFC3339", result.Stderr, StringComparison.Ordinal);
            Assert.Equal(0, tripwire.Calls);
        }
    }

    [Theory]
    [InlineData("2030-01-02T15:04:05Z", "2030-01-02T15:04:05+00:00")]
    [InlineData("2030-01-02t15:04:05z", "2030-01-02T15:04:05+00:00")]
    [InlineData("2030-01-02T15:04:05.123456789+02:00", "2030-01-02T15:04:05.1234567+02:00")]
    [InlineData("2030-01-02T15:04:05-07:30", "2030-01-02T15:04:05-07:30")]
    public void Schedule_accepts_rfc3339_with_offset(string text, string expected)
    {
        Assert.True(CliOptions.TryParseRfc3339(text, out var value));
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), value);
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture).Offset, value.Offset);
    }

    [Theory]
    [InlineData("run", "not-a-uuid")]
    [InlineData("status", "123")]
    [InlineData("logs", "exec-1")]
    public async Task A_malformed_id_is_a_usage_error(string command, string id)
    {
        var result = await CliRunner.RunAsync(command, id, "-t", Token);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"'{id}'", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--timeout", "0")]
    [InlineData("--timeout", "ten")]
    [InlineData("--max-attempts", "0")]
    public async Task Bad_numbers_are_usage_errors(string option, string value)
    {
        var result = await CliRunner.RunAsync("create", "--name", "n", "--image", "exec", option, value, "-t", Token);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"'{value}'", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_status_filter_is_a_usage_error()
    {
        var result = await CliRunner.RunAsync("executions", "list", "--status", "DONE", "-t", Token);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("'DONE'", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_required_flags_and_unknown_commands_exit_2()
    {
        Assert.Equal(2, (await CliRunner.RunAsync("create", "--image", "exec", "-t", Token)).ExitCode);
        Assert.Equal(2, (await CliRunner.RunAsync("frobnicate")).ExitCode);
        Assert.Equal(2, (await CliRunner.RunAsync("dlq")).ExitCode);
        Assert.Equal(2, (await CliRunner.RunAsync("-o", "yaml", "jobs", "list", "-t", Token)).ExitCode);
    }

    [Fact]
    public async Task Tenant_update_without_changes_exits_2()
    {
        var result = await CliRunner.RunAsync("tenant", "update", SomeId, "-t", Token);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("nothing to update", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_goes_to_stdout_and_exits_0()
    {
        var result = await CliRunner.RunAsync("dlq", "list", "--help");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("--offset", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("-o means --offset", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void In_dlq_list_too_short_o_is_the_output_format()
    {
        var parsed = Parse("dlq", "list", "-o", "json", "--offset", "40", "-l", "20");

        Assert.Empty(parsed.Errors);
        Assert.Equal("json", parsed.GetValue<string?>("--output"));
        Assert.Equal(40, parsed.GetValue<int?>("--offset"));
        Assert.Equal(20, parsed.GetValue<int?>("--limit"));
    }

    [Fact]
    public void In_dlq_list_short_o_with_a_number_is_refused_as_a_format()
    {
        var parsed = Parse("dlq", "list", "-o", "5");

        Assert.NotEmpty(parsed.Errors);
    }

    [Fact]
    public void Output_is_reachable_in_dlq_list_by_its_long_name_or_before_the_command()
    {
        var longName = Parse("dlq", "list", "--output", "json", "--offset", "5");
        var before = Parse("-o", "json", "dlq", "list");

        Assert.Empty(longName.Errors);
        Assert.Equal("json", longName.GetValue<string?>("--output"));
        Assert.Equal(5, longName.GetValue<int?>("--offset"));
        Assert.Empty(before.Errors);
        Assert.Equal("json", before.GetValue<string?>("--output"));
    }

    [Fact]
    public void Elsewhere_short_o_is_the_output_format()
    {
        var parsed = Parse("jobs", "list", "-o", "json", "--offset", "3");

        Assert.Empty(parsed.Errors);
        Assert.Equal("json", parsed.GetValue<string?>("--output"));
        Assert.Equal(3, parsed.GetValue<int?>("--offset"));
    }

    [Fact]
    public void Command_arguments_repeat_and_keep_commas_and_dashes()
    {
        var parsed = Parse("submit", "--name", "n", "--image", "exec", "-c", "python3", "-c=-c", "-c", "print(1, 2)");

        Assert.Empty(parsed.Errors);
        Assert.Equal(["python3", "-c", "print(1, 2)"], parsed.GetValue<string[]>("--command") ?? []);
    }

    [Theory]
    [InlineData("status", "missing EXECUTION_ID (usage: jobctl status EXECUTION_ID)")]
    [InlineData("run", "missing JOB_ID (usage: jobctl run JOB_ID)")]
    [InlineData("dlq retry", null)]
    public async Task A_missing_argument_is_named(string command, string? expected)
    {
        var tripwire = new TripwireHandler();

        var result = await CliRunner.RunWithAsync(null, tripwire, [.. command.Split(' '), "-t", Token]);

        Assert.Equal(2, result.ExitCode);
        if (expected is null)
            Assert.DoesNotContain("missing", result.Stderr, StringComparison.Ordinal); // an optional argument is not missing
        else
            Assert.Contains(expected, result.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, tripwire.Calls);
    }
}

using System.Text.Json;
using Jobplane.Api;
using Jobplane.Cli.Output;
using Jobplane.Client;

namespace Jobplane.Cli.Tests;

public sealed class OutputTests
{
    [Fact]
    public void Table_aligns_columns_with_two_spaces_and_upper_case_headers()
    {
        var table = new TableWriter("id", "name", "error")
            .AddRow("0b5c3c4e-6a63-4f2f-8c1c-3a4b5c6d7e8f", "a", "boom")
            .AddRow("1", "longer-name", null);

        Assert.Equal(
            "ID                                    NAME         ERROR\n" +
            "0b5c3c4e-6a63-4f2f-8c1c-3a4b5c6d7e8f  a            boom\n" +
            "1                                     longer-name  -\n",
            table.ToString());
    }

    [Fact]
    public void Table_with_no_rows_is_just_the_header()
    {
        Assert.Equal("ID  NAME\n", new TableWriter("ID", "NAME").ToString());
    }

    [Fact]
    public void Table_cells_stay_on_one_line_and_are_never_cut()
    {
        var id = new string('f', 120);
        var text = new TableWriter("ID", "ERROR").AddRow(id, "line one\nline\ttwo").ToString();

        Assert.Contains(id, text, StringComparison.Ordinal);
        Assert.Equal(2, text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("line one line two", text, StringComparison.Ordinal);
        Assert.DoesNotContain(" \n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Table_colour_is_opt_in()
    {
        using var plain = new StringWriter();
        using var coloured = new StringWriter();
        var table = new TableWriter("A").AddRow("x");

        table.WriteTo(plain, color: false);
        table.WriteTo(coloured, color: true);

        Assert.DoesNotContain('\u001b', plain.ToString());
        Assert.Contains('\u001b', coloured.ToString());
    }

    [Fact]
    public void Display_formats_times_truncates_text_and_quotes_commands()
    {
        Assert.Equal("2030-01-02T03:04:05Z", Display.Time(new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero)));
        Assert.Equal("2030-01-02T03:04:05+02:00", Display.Time(new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.FromHours(2))));
        Assert.Equal("-", Display.Time(null));
        Assert.Equal("abcdefg...", Display.Truncate("abcdefghijklmnop", 10));
        Assert.Equal("short", Display.Truncate("short", 10));
        Assert.Equal("sh -c 'echo hi' 'it'\\''s'", Display.Command(["sh", "-c", "echo hi", "it's"]));
        Assert.Equal("3/5", Display.Attempt(Running with { Attempt = 3, MaxAttempts = 5 }));
    }

    /// <summary>A running execution on its first attempt of three; tests vary it with `with`.</summary>
    private static readonly ExecutionView Running = new()
    {
        Id = Guid.Parse("11111111-1111-1111-1111-111111111111"),
        JobId = Guid.Parse("22222222-2222-2222-2222-222222222222"),
        Status = ExecutionStatus.Running,
        Priority = Priority.Normal,
        Attempt = 1,
        MaxAttempts = 3,
        CreatedAt = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero),
        ScheduledAt = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero),
        StartedAt = new DateTimeOffset(2030, 1, 1, 0, 0, 1, TimeSpan.Zero),
    };

    [Fact]
    public void Status_counts_only_charged_attempts_and_shows_hand_backs_apart()
    {
        // The second start after a drain hand-back, of a job allowed one attempt: attempt 2 on the wire.
        var handedBack = Running with { Attempt = 2, MaxAttempts = 1, HandedBack = 1 };
        using var writer = new StringWriter { NewLine = "\n" };
        using var plain = new StringWriter { NewLine = "\n" };

        Commands.StatusCommand.Write(writer, handedBack);
        Commands.StatusCommand.Write(plain, Running);

        var lines = writer.ToString().Split('\n');
        Assert.Contains("attempt:      1/1", lines);
        Assert.Contains("handed_back:  1", lines);
        Assert.Equal("1/1", Display.Attempt(handedBack));
        Assert.DoesNotContain("handed_back", plain.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_due_time_is_shown_only_for_executions_that_wait_for_it()
    {
        var due = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);

        Assert.Equal("2030-01-02T03:04:05Z", Display.DueAt(Running with { Status = ExecutionStatus.Scheduled, ScheduledAt = due }));
        Assert.Equal("2030-01-02T03:04:05Z", Display.DueAt(Running with { Status = ExecutionStatus.Retrying, ScheduledAt = due }));
        Assert.Equal("-", Display.DueAt(Running with { ScheduledAt = due }));
    }

    [Fact]
    public void Status_prints_key_value_lines_and_attempts()
    {
        var execution = new ExecutionView
        {
            Id = Guid.Parse("11111111-1111-1111-1111-111111111111"),
            JobId = Guid.Parse("22222222-2222-2222-2222-222222222222"),
            Status = ExecutionStatus.Failed,
            Priority = Priority.High,
            Attempt = 2,
            MaxAttempts = 3,
            CreatedAt = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero),
            ScheduledAt = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero),
            ExitCode = 7,
            Error = "exit status 7",
            Result = JsonDocument.Parse("""{ "rows": 3 }""").RootElement,
            Attempts = [new AttemptView(1, "worker-a", new DateTimeOffset(2030, 1, 1, 0, 0, 1, TimeSpan.Zero), null, 7, "exit status 7", "failed")],
        };
        using var writer = new StringWriter { NewLine = "\n" };

        Commands.StatusCommand.Write(writer, execution);
        var lines = writer.ToString().Split('\n');

        Assert.Contains("status:       FAILED", lines);
        Assert.Contains("attempt:      2/3", lines);
        Assert.Contains("priority:     75", lines);
        Assert.Contains("started_at:   -", lines);
        Assert.Contains("exit_code:    7", lines);
        Assert.Contains("result:       {\"rows\":3}", lines);
        Assert.Contains("attempts:", lines);
        Assert.Contains(lines, l => l.StartsWith("ATTEMPT  WORKER", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("1        worker-a  2030-01-01T00:00:01Z  -", StringComparison.Ordinal));
    }

    [Fact]
    public void Status_shows_cancel_requested_at_only_when_a_cancel_was_requested()
    {
        var execution = Running;
        using var plain = new StringWriter { NewLine = "\n" };
        using var cancelling = new StringWriter { NewLine = "\n" };

        Commands.StatusCommand.Write(plain, execution);
        Commands.StatusCommand.Write(cancelling, execution with { CancelRequestedAt = new DateTimeOffset(2030, 1, 1, 0, 0, 9, TimeSpan.Zero) });

        Assert.DoesNotContain("cancel_requested_at", plain.ToString(), StringComparison.Ordinal);
        var lines = cancelling.ToString().Split('\n');
        Assert.Contains("cancel_requested_at: 2030-01-01T00:00:09Z", lines);
        // The value column stays aligned for every key, the longer one included.
        Assert.Contains("status:              RUNNING", lines);
    }

    [Theory]
    [InlineData("CANCELLED", false, "execution 11111111-1111-1111-1111-111111111111: CANCELLED")]
    [InlineData("RUNNING", true, "execution 11111111-1111-1111-1111-111111111111: cancel requested; its worker is stopping it")]
    [InlineData("SUCCEEDED", false, "execution 11111111-1111-1111-1111-111111111111: SUCCEEDED")]
    public void Cancel_says_whether_the_execution_is_cancelled_or_still_stopping(string status, bool requested, string expected)
    {
        var response = new CancelResponse(Guid.Parse("11111111-1111-1111-1111-111111111111"), status, requested);

        Assert.Equal(expected, Commands.CancelCommand.Describe(response));
    }

    [Fact]
    public void Attempts_table_has_the_documented_columns()
    {
        var table = Commands.AttemptsCommand.Table(
        [
            new AttemptView(1, "worker-a", new DateTimeOffset(2030, 1, 1, 0, 0, 1, TimeSpan.Zero),
                new DateTimeOffset(2030, 1, 1, 0, 0, 2, TimeSpan.Zero), 1, "exit status 1", "failed"),
            new AttemptView(2, "worker-b", new DateTimeOffset(2030, 1, 1, 0, 0, 3, TimeSpan.Zero), null, null, null, null),
        ]).ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(3, table.Length);
        Assert.Matches("^ATTEMPT +WORKER +STARTED_AT +ENDED_AT +EXIT +OUTCOME +ERROR$", table[0]);
        Assert.Matches("^1 +worker-a +2030-01-01T00:00:01Z +2030-01-01T00:00:02Z +1 +failed +exit status 1$", table[1]);
        Assert.Matches("^2 +worker-b +2030-01-01T00:00:03Z +- +- +- +-$", table[2]);
    }

    [Fact]
    public void Json_output_keeps_fields_and_order_and_merges_objects()
    {
        var created = JsonDocument.Parse("""{"job_id":"j","extra":"é<"}""").RootElement;
        var run = JsonDocument.Parse("""{"execution_id":"e","status":"PENDING"}""").RootElement;
        using var writer = new StringWriter { NewLine = "\n" };

        JsonOutput.WriteMergedPretty(writer, created, run);
        var merged = JsonDocument.Parse(writer.ToString()).RootElement;

        Assert.Equal(["job_id", "extra", "execution_id", "status"], merged.EnumerateObject().Select(p => p.Name));
        Assert.Contains("é<", writer.ToString(), StringComparison.Ordinal);
        Assert.Contains("\n  \"job_id\"", writer.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Responses_with_fields_this_jobctl_does_not_know_still_decode()
    {
        // The shared context refuses unknown fields (right for the server); jobctl must not break on a newer controller.
        const string body = """{"job_id":"33333333-3333-3333-3333-333333333333","added_later":true}""";

        var decoded = JsonSerializer.Deserialize(body, ClientJson.Context.CreateJobResponse);

        Assert.Equal(Guid.Parse("33333333-3333-3333-3333-333333333333"), decoded!.JobId);
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize(body, JobplaneJsonContext.Default.CreateJobResponse));
    }
}

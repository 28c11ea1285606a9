using System.Text.Json;
using Jobplane.Api;

namespace Jobplane.Api.Tests;

public sealed class JsonContractTests
{
    [Fact]
    public void Field_names_are_snake_case()
    {
        var id = Guid.NewGuid();
        var json = JsonSerializer.Serialize(new RunJobResponse(id, ExecutionStatus.Pending),
            JobplaneJsonContext.Default.RunJobResponse);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(id, doc.RootElement.GetProperty("execution_id").GetGuid());
        Assert.Equal("PENDING", doc.RootElement.GetProperty("status").GetString());

        var claim = new ClaimedExecution(id, Guid.NewGuid(), 1, 3, DateTimeOffset.UnixEpoch,
            new ExecutionPayload(Guid.NewGuid(), Guid.NewGuid(), "n", "alpine", ["echo"], 30, Priority.Normal));
        using var claimDoc = JsonDocument.Parse(JsonSerializer.Serialize(claim, JobplaneJsonContext.Default.ClaimedExecution));
        var names = claimDoc.RootElement.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(["execution_id", "lease_token", "attempt", "max_attempts", "lease_expires_at", "payload"], names);
        Assert.True(claimDoc.RootElement.GetProperty("payload").TryGetProperty("timeout_seconds", out _));
    }

    [Fact]
    public void Nulls_are_omitted()
    {
        var view = new ExecutionView
        {
            Id = Guid.NewGuid(),
            JobId = Guid.NewGuid(),
            Status = ExecutionStatus.Pending,
            Priority = Priority.Normal,
            Attempt = 0,
            MaxAttempts = 3,
            ScheduledAt = DateTimeOffset.UnixEpoch,
            CreatedAt = DateTimeOffset.UnixEpoch,
        };
        var json = JsonSerializer.Serialize(view, JobplaneJsonContext.Default.ExecutionView);
        using var doc = JsonDocument.Parse(json);
        foreach (var absent in new[] { "error", "result", "exit_code", "started_at", "completed_at", "attempts", "job_name" })
            Assert.False(doc.RootElement.TryGetProperty(absent, out _), $"{absent} should be omitted: {json}");
        Assert.Equal(3, doc.RootElement.GetProperty("max_attempts").GetInt32());
        Assert.DoesNotContain("null", json);
    }

    [Fact]
    public void A_request_with_snake_case_fields_is_read()
    {
        var request = JsonSerializer.Deserialize(
            """{"name":"nightly","image":"alpine:3","command":["echo","hi"],"default_timeout":60,"priority":10,"max_attempts":4}""",
            JobplaneJsonContext.Default.CreateJobRequest)!;
        Assert.Equal("nightly", request.Name);
        Assert.Equal("alpine:3", request.Image);
        Assert.Equal(["echo", "hi"], request.Command);
        Assert.Equal(60, request.DefaultTimeout);
        Assert.Equal(10, request.Priority!.Value.Value);
        Assert.Equal(4, request.MaxAttempts);
    }

    [Fact]
    public void An_unknown_field_is_an_error_naming_the_field()
    {
        var e = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize(
            """{"nmae":"nightly","image":"alpine"}""", JobplaneJsonContext.Default.CreateJobRequest));
        Assert.Equal("$.nmae", e.Path);
        Assert.Contains("nmae", e.Message);
    }

    [Fact]
    public void A_camel_case_field_is_not_silently_ignored()
    {
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize(
            """{"name":"n","image":"alpine","maxAttempts":3}""", JobplaneJsonContext.Default.CreateJobRequest));
    }

    [Fact]
    public void A_scheduled_time_keeps_its_instant_whatever_the_offset()
    {
        var request = JsonSerializer.Deserialize(
            """{"scheduled_at":"2030-01-02T03:04:05+02:00"}""", JobplaneJsonContext.Default.RunJobRequest)!;
        Assert.Equal(new DateTimeOffset(2030, 1, 2, 1, 4, 5, TimeSpan.Zero), request.ScheduledAt);
    }
}

using System.Net;
using System.Text.Json;

namespace Jobplane.SystemTests;

/// <summary>
/// Issue 12: the controller process runs in New York time with a German locale, and still stores
/// and answers exactly the instants and numbers every other replica would. (An in-process host
/// would share the test process's time zone: this one is a real process with its own TZ.)
/// </summary>
public sealed class TimeZoneTests : IAsyncLifetime
{
    private readonly Platform _platform = new();

    public async Task InitializeAsync()
    {
        await _platform.InitializeAsync();
        _platform.ControllerEnv["TZ"] = "America/New_York";
        _platform.ControllerEnv["LANG"] = "de_DE.UTF-8";
        _platform.ControllerEnv["LC_ALL"] = "de_DE.UTF-8";
        await _platform.StartControllerAsync();
    }

    public Task DisposeAsync() => _platform.DisposeAsync();

    [Fact]
    public async Task A_controller_in_another_zone_and_culture_stores_and_answers_the_same_instant()
    {
        var key = await _platform.CreateTenantAsync("tz");
        using var api = new Api(_platform.Url, key);
        var job = (await api.PostJsonAsync("/jobs", """{"name": "tz", "image": "exec", "command": ["true"]}""")).GetProperty("job_id").GetString();

        var run = await api.PostJsonAsync($"/jobs/{job}/run", """{"scheduled_at": "2030-06-01T12:00:00+05:30"}""");
        var id = run.GetProperty("execution_id").GetString()!;
        var view = await api.ExecutionAsync(id);
        var scheduled = view.GetProperty("scheduled_at").GetDateTimeOffset();
        Assert.Equal(new DateTimeOffset(2030, 6, 1, 6, 30, 0, TimeSpan.Zero), scheduled);

        // The same instant through jobctl (its own parser, the same rule).
        var viaCli = await _platform.JobctlAsync(key, "run", job!, "--schedule", "2030-06-01T06:30:00Z");
        Assert.True(viaCli.ExitCode == 0, viaCli.Stderr);
        var again = await api.ExecutionAsync(viaCli.Line.Trim());
        Assert.Equal(scheduled, again.GetProperty("scheduled_at").GetDateTimeOffset());

        // A bare local time would be read in New York time here: refused instead, naming the field.
        using var naive = await api.Http.PostAsync($"/jobs/{job}/run",
            new StringContent("""{"scheduled_at": "2030-06-01T12:00:00"}""", System.Text.Encoding.UTF8, "application/json"));
        var body = await naive.Content.ReadAsStringAsync();
        Assert.True(naive.StatusCode == HttpStatusCode.BadRequest, body);
        using var error = JsonDocument.Parse(body);
        Assert.Equal("invalid_timestamp", error.RootElement.GetProperty("code").GetString());
        Assert.StartsWith("scheduled_at", error.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);

        // Numbers in messages are written the same way too (a German culture would write 1,5).
        using var numbers = await api.Http.PostAsync("/jobs", new StringContent(
            """{"name": "n", "image": "exec", "retry_backoff_base": 1.5, "retry_backoff_max": 1.25}""", System.Text.Encoding.UTF8, "application/json"));
        var numbersBody = await numbers.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, numbers.StatusCode);
        Assert.Contains("(1.5)", numbersBody, StringComparison.Ordinal);
        Assert.Contains("(1.25)", numbersBody, StringComparison.Ordinal);
    }
}

using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Controller.Endpoints;
using Jobplane.Controller.Http;
using Jobplane.Testing;
using Xunit.Abstractions;

namespace Jobplane.Controller.Tests;

/// <summary>
/// Drives the whole worker API (dequeue, heartbeats, logs, result, batched results, release) with
/// text that UTF-8 or PostgreSQL cannot hold as sent: lone surrogates and NUL as raw JSON escapes
/// ("\ud800", "\u0000"), surrogate pairs straddling each length limit, at, one under and one over
/// each limit. Nothing may answer 5xx, and no execution may be left RUNNING once its worker has
/// reported (a refused report is followed by a plain failure, as the worker does).
/// Seeded: TEXT_FUZZ_SEED reproduces a run (the seed is in every failure).
/// </summary>
public sealed class TextFuzzTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int DefaultSeed = 12_0003;
    private readonly ControllerHost _host = new(new Dictionary<string, string?> { ["DEQUEUE_MAX_WAIT"] = "50ms" });

    public Task InitializeAsync() => _host.InitializeAsync();
    public Task DisposeAsync() => _host.DisposeAsync();

    private const string Pair = "\U0001F600";

    /// <summary>Escapes every character outside printable ASCII as \uXXXX, lone surrogates and NUL included.</summary>
    private static string Literal(string text)
    {
        var b = new StringBuilder(text.Length + 2).Append('"');
        foreach (var c in text)
        {
            if (c is '"' or '\\') b.Append('\\').Append(c);
            else if (c is >= ' ' and <= '~') b.Append(c);
            else b.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
        }
        return b.Append('"').ToString();
    }

    /// <summary>Texts of one length family: around <paramref name="limit"/>, with a pair or a poison character at the edge.</summary>
    private static IEnumerable<string> AroundLimit(int limit)
    {
        foreach (var length in new[] { limit - 1, limit, limit + 1 })
        {
            if (length < 2) continue;
            yield return new string('a', length);
            yield return new string('a', length - 2) + Pair;                 // a pair ending at the length
            yield return new string('a', length - 1) + Pair;                 // a pair straddling it
            yield return new string('a', length - 1) + "\ud800";             // a lone high half at the end
            yield return "\udc00" + new string('a', length - 1);             // a lone low half at the start
            yield return new string('a', length - 1) + "\0";
        }
    }

    private static readonly string[] Short =
        ["\ud800", "\udfff", "\udc00\ud800", "a\0b", "\0", "x\ud83d", "\ude00y", Pair, "é" + Pair + "\u20ac", "\ud800\0\udc00"];

    private static string Pick(Random random, IReadOnlyList<string> choices) => choices[random.Next(choices.Count)];

    [Theory]
    [InlineData("name", "\\ud800x")]
    [InlineData("name", "x\\u0000")]
    [InlineData("command[1]", "\\udc00")]
    public async Task A_name_or_command_that_cannot_be_stored_is_refused_naming_the_field(string field, string escaped)
    {
        var (_, client) = await _host.TenantClientAsync();
        using var _ = client;
        var body = field == "name"
            ? $$"""{"name": "{{escaped}}", "image": "exec", "command": ["true"]}"""
            : $$"""{"name": "ok", "image": "exec", "command": ["echo", "{{escaped}}"]}""";
        var error = await Api.AssertErrorAsync(await client.PostAsync("/jobs", Api.RawJson(body)), HttpStatusCode.BadRequest);
        Assert.StartsWith(field + " must", error.Error, StringComparison.Ordinal);
        var jobs = await Api.ReadAsync(await client.GetAsync("/jobs"), Api.Json.JobList);
        Assert.Empty(jobs.Jobs);
    }

    [Fact]
    public async Task Invalid_utf16_nul_and_boundary_lengths_never_answer_5xx_and_leave_nothing_running()
    {
        var seed = Environment.GetEnvironmentVariable("TEXT_FUZZ_SEED") is { Length: > 0 } s ? int.Parse(s, CultureInfo.InvariantCulture) : DefaultSeed;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        using var _ = client;
        var job = await Api.CreateJobAsync(client, name: "text-fuzz", maxAttempts: 1);

        var errors = AroundLimit(Reports.MaxErrorChars).Concat(Short).ToList();
        var names = AroundLimit(Limits.MaxNameLength).Concat(Short).ToList();
        var reasons = AroundLimit(1000).Concat(Short).ToList();
        var failures = new List<string>();
        var requests = 0;

        async Task<(int Status, string Body)> SendAsync(HttpMethod method, string path, string body, string what)
        {
            using var request = new HttpRequestMessage(method, path) { Content = Api.RawJson(body) };
            using var response = await worker.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            requests++;
            var status = (int)response.StatusCode;
            if (status >= 500) failures.Add($"[seed {seed}, request {requests}] {method} {path} ({what}): {status} {text[..Math.Min(300, text.Length)]}");
            else if (status >= 400 && !text.Contains("\"code\"", StringComparison.Ordinal)) failures.Add($"[seed {seed}] {what}: {status} without a JSON error: {text}");
            return (status, text);
        }

        for (var round = 0; round < 40 && failures.Count < 20; round++)
        {
            var batchSize = random.Next(1, 4);
            var runs = new List<Guid>();
            for (var i = 0; i < batchSize; i++) runs.Add((await Api.RunAsync(client, job)).ExecutionId);

            // A poisoned worker id is refused (or stored clean); then claim for real.
            var claims = new List<ClaimedExecution>();
            var (poisonStatus, poisonBody) = await SendAsync(HttpMethod.Post, "/internal/executions/dequeue",
                $$"""{"limit": 1, "tenant_ids": ["{{tenant.TenantId}}"], "worker_id": {{Literal(Pick(random, names))}}, "wait_seconds": 0}""", "dequeue with a poisoned worker id");
            if (poisonStatus == 200) claims.AddRange(JsonSerializer.Deserialize(poisonBody, Api.Json.DequeueResponse)!.Executions);
            for (var tries = 0; claims.Count < batchSize && tries < 20; tries++)
            {
                var (status, body) = await SendAsync(HttpMethod.Post, "/internal/executions/dequeue",
                    $$"""{"limit": {{batchSize}}, "tenant_ids": ["{{tenant.TenantId}}"], "worker_id": "fuzz-{{round}}", "wait_seconds": 0.05}""", "dequeue");
                if (status == 200) claims.AddRange(JsonSerializer.Deserialize(body, Api.Json.DequeueResponse)!.Executions);
            }
            Assert.True(claims.Count >= 1, $"[seed {seed}] round {round}: nothing claimed; {string.Join("\n", failures)}");

            foreach (var c in claims)
            {
                await SendAsync(HttpMethod.Put, $"/internal/executions/{c.ExecutionId}/heartbeat", $$"""{"lease_token": "{{c.LeaseToken}}"}""", "heartbeat");
                var lines = string.Join(", ", Enumerable.Range(0, random.Next(1, 4)).Select(_ =>
                    $$"""{"content": {{Literal(Pick(random, random.Next(2) == 0 ? Short : errors))}}, "stream": "stderr"}"""));
                await SendAsync(HttpMethod.Post, $"/internal/executions/{c.ExecutionId}/logs",
                    $$"""{"lease_token": "{{c.LeaseToken}}", "content": {{Literal(Pick(random, Short))}}, "lines": [{{lines}}]}""", "logs");
            }
            await SendAsync(HttpMethod.Post, "/internal/heartbeats",
                $$"""{"worker_id": {{Literal(Pick(random, names))}}, "leases": [{{string.Join(", ", claims.Select(c => $$"""{"execution_id": "{{c.ExecutionId}}", "lease_token": "{{c.LeaseToken}}"}"""))}}]}""",
                "heartbeats with a poisoned worker id");

            // Some hand their lease back with a poisoned reason; the rest report a poisoned outcome.
            var reported = new List<ClaimedExecution>();
            var results = new List<string>();
            var mustBeTaken = new HashSet<Guid>();
            foreach (var c in claims)
            {
                if (random.Next(6) == 0)
                {
                    var (status, _) = await SendAsync(HttpMethod.Post, $"/internal/executions/{c.ExecutionId}/release",
                        $$"""{"lease_token": "{{c.LeaseToken}}", "reason": {{Literal(Pick(random, reasons))}}}""", "release");
                    if (status == 204) continue;
                }
                reported.Add(c);
                var error = Pick(random, errors);
                var resultText = random.Next(3) switch { 0 => null, 1 => Pick(random, Short), _ => Pair };
                var result = resultText is null ? "" : $$""", "result": {"text": {{Literal(resultText)}}}""";
                // Only JSON that jsonb refuses may be refused: any error text is made storable.
                if (resultText is null || StorableText.IsStorable(resultText)) mustBeTaken.Add(c.ExecutionId);
                results.Add($$"""{"execution_id": "{{c.ExecutionId}}", "lease_token": "{{c.LeaseToken}}", "exit_code": {{random.Next(0, 3)}}, "error": {{Literal(error)}}{{result}}}""");
            }
            var refused = new List<ClaimedExecution>();
            if (random.Next(2) == 0)
            {
                var (status, body) = await SendAsync(HttpMethod.Post, "/internal/results", $$"""{"results": [{{string.Join(", ", results)}}]}""", "batched results");
                if (status == 200)
                {
                    var answers = JsonSerializer.Deserialize(body, Api.Json.ResultBatchResponse)!.Results;
                    refused.AddRange(reported.Where(c => answers.Any(a => a.ExecutionId == c.ExecutionId && a.Outcome == ResultAnswers.Refused)));
                }
                else refused.AddRange(reported);
            }
            else
            {
                for (var i = 0; i < reported.Count; i++)
                {
                    // The single route takes the same report without its execution_id.
                    var single = results[i].Replace($$"""{"execution_id": "{{reported[i].ExecutionId}}", """, "{", StringComparison.Ordinal);
                    var (status, _) = await SendAsync(HttpMethod.Put, $"/internal/executions/{reported[i].ExecutionId}/result", single, "result");
                    if (status is >= 400 and < 500) refused.Add(reported[i]);
                }
            }
            // What the worker does with a refusal: a plain failure, which must then be taken.
            foreach (var c in refused)
            {
                if (mustBeTaken.Contains(c.ExecutionId)) failures.Add($"[seed {seed}] round {round}: a report with storable JSON was refused");
                var (status, body) = await SendAsync(HttpMethod.Put, $"/internal/executions/{c.ExecutionId}/result",
                    $$"""{"lease_token": "{{c.LeaseToken}}", "error": "the controller refused the report", "retryable": false}""", "plain failure after a refusal");
                if (status != 200) failures.Add($"[seed {seed}] the plain failure after a refusal was not taken: {status} {body}");
            }
            foreach (var c in reported)
            {
                var view = await Api.GetExecutionAsync(client, c.ExecutionId);
                if (view.Status == ExecutionStatus.Running) failures.Add($"[seed {seed}] round {round}: execution {c.ExecutionId} still RUNNING after its report");
                if (view.Error is { } e && !StorableText.IsStorable(e)) failures.Add($"[seed {seed}] execution {c.ExecutionId}: stored error is not clean text");
                if (view.Error is { Length: > Reports.MaxErrorChars + 200 }) failures.Add($"[seed {seed}] execution {c.ExecutionId}: error of {view.Error.Length} characters");
            }
        }
        output.WriteLine($"seed {seed}: {requests} requests");
        Assert.True(failures.Count == 0, $"{failures.Count} failures in {requests} requests (seed {seed}):\n{string.Join("\n", failures)}");
    }
}

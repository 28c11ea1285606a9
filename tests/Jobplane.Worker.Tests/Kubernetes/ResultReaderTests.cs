using System.Diagnostics;
using System.Text;
using Jobplane.Api;
using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Runtimes.Kubernetes;

namespace Jobplane.Worker.Tests.Kubernetes;

/// <summary>
/// The built worker binary in read-result mode, on real files, its output parsed the way the
/// runtime will parse the result container's log.
/// </summary>
public sealed class ResultReaderTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("read-result-").FullName;
    private string ResultPath => Path.Combine(_folder, ResultFile.FileName);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>Runs the worker binary built beside these tests; returns its exit code, stdout and stderr.</summary>
    private static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "jobplane-worker"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        // It must need none of the worker's settings: the result container has none.
        foreach (var key in new[] { "WORKER_TOKEN", "RUNTIME", "CONTROLLER_URL" }) start.Environment.Remove(key);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output, await error);
    }

    private async Task<(ResultFile.Outcome Outcome, byte[]? Json, string Log)> ReadAsync()
    {
        var (code, output, error) = await RunAsync(ResultReader.Mode, ResultPath);
        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.Null(ResultFrame.TryParse(output, out var outcome, out var json));
        return (outcome, json, output);
    }

    [Fact]
    public async Task A_regular_file_is_printed_as_one_result_frame()
    {
        await File.WriteAllTextAsync(ResultPath, """{"rows": 3, "name": "naïve ✓"}""");

        var (outcome, json, log) = await ReadAsync();

        Assert.StartsWith("JOBPLANE-RESULT ", log, StringComparison.Ordinal);
        Assert.EndsWith("\n", log, StringComparison.Ordinal);
        Assert.Equal(1, log.Count(c => c == '\n'));
        Assert.Null(outcome.Error);
        Assert.Equal(3, outcome.Result!.Value.GetProperty("rows").GetInt32());
        Assert.Equal("naïve ✓", outcome.Result!.Value.GetProperty("name").GetString());
        Assert.Equal("""{"rows": 3, "name": "naïve ✓"}""", Encoding.UTF8.GetString(json!));
    }

    [Fact]
    public async Task A_result_of_exactly_one_MiB_passes_whole()
    {
        var text = "\"" + new string('x', Wire.MaxResultBytes - 2) + "\"";
        await File.WriteAllTextAsync(ResultPath, text);

        var (outcome, json, _) = await ReadAsync();

        Assert.Null(outcome.Error);
        Assert.Equal(Wire.MaxResultBytes, json!.Length);
        Assert.Equal(Wire.MaxResultBytes - 2, outcome.Result!.Value.GetString()!.Length);
    }

    [Fact]
    public async Task One_byte_over_one_MiB_is_refused()
    {
        await File.WriteAllTextAsync(ResultPath, "\"" + new string('x', Wire.MaxResultBytes - 1) + "\"");

        var (outcome, json, log) = await ReadAsync();

        Assert.StartsWith("JOBPLANE-NO-RESULT ", log, StringComparison.Ordinal);
        Assert.Null(json);
        Assert.Null(outcome.Result);
        Assert.Equal($"result.json is {Wire.MaxResultBytes + 1} bytes, over the {Wire.MaxResultBytes}-byte limit", outcome.Error);
    }

    [Fact]
    public async Task A_symbolic_link_is_refused_and_not_followed()
    {
        var secret = Path.Combine(_folder, "secret.json");
        await File.WriteAllTextAsync(secret, """{"token": "do-not-leak"}""");
        File.CreateSymbolicLink(ResultPath, secret);

        var (outcome, _, log) = await ReadAsync();

        Assert.DoesNotContain("do-not-leak", log, StringComparison.Ordinal);
        Assert.Null(outcome.Result);
        Assert.Equal("result.json is a symbolic link; refusing to follow it", outcome.Error);
    }

    [Fact]
    public async Task A_named_pipe_is_refused_without_blocking()
    {
        using (var mkfifo = Process.Start("mkfifo", [ResultPath]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        var (outcome, _, _) = await ReadAsync();

        Assert.Null(outcome.Result);
        Assert.Equal("result.json is a named pipe, not a regular file", outcome.Error);
    }

    [Fact]
    public async Task Invalid_JSON_is_refused_on_one_line()
    {
        await File.WriteAllTextAsync(ResultPath, "{\"unterminated\": \n\n");

        var (outcome, _, log) = await ReadAsync();

        Assert.Equal(1, log.Count(c => c == '\n'));
        Assert.Null(outcome.Result);
        Assert.StartsWith("result.json is not valid JSON: ", outcome.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_file_is_no_result_and_no_error()
    {
        var (outcome, json, log) = await ReadAsync();

        Assert.Equal("JOBPLANE-NO-RESULT no result file\n", log);
        Assert.Equal(new ResultFile.Outcome(null, null), outcome);
        Assert.Null(json);
    }

    [Theory]
    [InlineData("relative/result.json")]
    [InlineData("/somewhere/other.json")]
    public async Task A_wrong_call_prints_usage_and_no_frame(string path)
    {
        var (code, output, error) = await RunAsync(ResultReader.Mode, path);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("usage: jobplane-worker read-result", error, StringComparison.Ordinal);
    }
}

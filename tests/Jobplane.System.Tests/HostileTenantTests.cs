using System.Globalization;
using System.Text;
using System.Text.Json;
using Jobplane.Testing;
using Xunit.Abstractions;

namespace Jobplane.SystemTests;

/// <summary>
/// A tenant that means harm, against a whole platform of real processes: a controller, and an exec
/// worker running as root, which gives each attempt a user of its own. Each attack is a job the
/// tenant submits through the public API; what it got is read back from its logs, its status and
/// the host. The test prints a table of every attempt and fails on any escape. It is written to
/// $JOBPLANE_HOSTILE_REPORT as well, which make test prints at the end.
/// </summary>
public sealed class HostileTenantTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int MaxProcesses = 64;
    /// <summary>The bound on an exec attempt's folder and on a container's output folder.</summary>
    private const long FolderBound = 16L << 20;
    /// <summary>What the fill attacks try to write: 32 times the bound.</summary>
    private const int FillMiB = 512;
    /// <summary>Named like the host it would run on: the name tenants must never see.</summary>
    private static readonly string WorkerName = $"{Environment.MachineName}-hostile-1";
    private readonly Platform _platform = new();
    private readonly List<Row> _rows = [];
    private Api _api = null!;
    private readonly HttpClient _anonymous = new();
    private ChildProcess _worker = null!;

    private sealed record Row(string Attack, string Expected, string Got, bool Escaped);

    public async Task InitializeAsync()
    {
        await _platform.InitializeAsync();
        await _platform.StartControllerAsync();
        _worker = _platform.StartWorker(WorkerName, new Dictionary<string, string?>
        {
            ["EXEC_MAX_PROCESSES"] = MaxProcesses.ToString(CultureInfo.InvariantCulture),
            ["EXEC_WORKDIR_MAX_BYTES"] = FolderBound.ToString(CultureInfo.InvariantCulture),
        });
        var key = await _platform.CreateTenantAsync("mallory");
        _api = new Api(_platform.Url, key);
    }

    public async Task DisposeAsync()
    {
        _api.Dispose();
        _anonymous.Dispose();
        await _platform.DisposeAsync();
    }

    [Fact]
    public async Task Every_escape_a_hostile_tenant_tries_fails()
    {
        Assert.True(Environment.IsPrivilegedProcess, "the suite runs as root: the worker must give each job a user of its own");
        var secrets = new[] { Platform.WorkerToken, Platform.AdminSecret };

        // The worker's identity, through its environment and memory.
        await AttackAsync("read the worker's environment (/proc/$PPID/environ)", "permission denied, no secret in the output",
            "tr '\\0' '\\n' < /proc/$PPID/environ && echo READ || echo DENIED",
            (log, _) => Judge(!ContainsAny(log, secrets) && log.Contains("DENIED"), log));
        await AttackAsync("read every process's environment", "no worker or administrator secret anywhere",
            "for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done 2>/dev/null | grep -E '^(WORKER_TOKEN|SYSTEM_SECRET|DATABASE_URL)=' ; echo done",
            (log, _) => Judge(!ContainsAny(log, secrets) && !log.Contains("WORKER_TOKEN=") && !log.Contains("SYSTEM_SECRET="), log));
        await AttackAsync("read the worker's memory map and memory", "permission denied",
            "if head -c 16 /proc/$PPID/maps >/dev/null 2>&1 || head -c 16 /proc/$PPID/mem >/dev/null 2>&1; then echo ESCAPED; else echo DENIED; fi",
            (log, _) => Judge(log.Contains("DENIED"), log));
        await AttackAsync("ptrace-attach to the worker", "EPERM",
            "python3 -c 'import ctypes,sys; l=ctypes.CDLL(None, use_errno=True); r=l.ptrace(16, int(sys.argv[1]), 0, 0); print(\"ATTACHED\" if r == 0 else \"DENIED errno %d\" % ctypes.get_errno())' $PPID",
            (log, _) => Judge(log.Contains("DENIED errno 1"), log));
        await AttackAsync("connect to the worker's .NET diagnostic socket", "permission denied",
            "python3 -c 'import glob,sys,socket\nfor p in glob.glob(\"/tmp/dotnet-diagnostic-%s-*\" % sys.argv[1]) or [\"none\"]:\n  s=socket.socket(socket.AF_UNIX)\n  try:\n    s.connect(p); print(\"CONNECTED\", p)\n  except OSError as e: print(\"DENIED\", e.errno)' $PPID",
            (log, _) => Judge(!log.Contains("CONNECTED") && log.Contains("DENIED"), log));

        // Acting on the worker and the host.
        await AttackAsync("signal the worker (SIGTERM, SIGSTOP)", "EPERM; the worker keeps running",
            "kill -STOP $PPID 2>/dev/null && echo STOPPED; kill -TERM $PPID 2>/dev/null && echo SIGNALLED; echo tried",
            (log, _) => Judge(!log.Contains("SIGNALLED") && !log.Contains("STOPPED") && !_worker.HasExited, log));
        await AttackAsync("become root (id, capabilities, su)", "an unprivileged user with no capabilities",
            "id -u; grep CapEff /proc/self/status; su -c 'echo ROOT' root </dev/null 2>&1 | head -1",
            (log, _) => Judge(!log.StartsWith("0\n", StringComparison.Ordinal) && log.Contains("CapEff:\t0000000000000000") && !log.Contains("ROOT\n"), log));
        await AttackAsync("read a root-only file (/etc/shadow)", "permission denied",
            "cat /etc/shadow >/dev/null 2>&1 && echo ESCAPED || echo DENIED",
            (log, _) => Judge(log.Contains("DENIED"), log));
        await AttackAsync("write into system and platform folders", "permission denied everywhere",
            $"for d in /etc /usr/bin /root {Sh(Environment.GetEnvironmentVariable("JOBPLANE_BIN") ?? "/usr/local/bin")}; do touch $d/jobplane-planted 2>/dev/null && echo \"ESCAPED $d\"; done; echo tried",
            (log, _) => Judge(!log.Contains("ESCAPED"), log));
        await AttackAsync("open the database through local peer authentication", "no role for the job's user",
            "psql -h /var/run/postgresql -d postgres -Atc 'select 42' 2>&1 | head -1",
            (log, _) => Judge(!log.Contains("42\n") && log.Length > 0, log));

        // The work root and other attempts.
        await AttackAsync("write or list the work root (the folder above the attempt's)", "permission denied",
            "touch ../planted 2>/dev/null && echo ESCAPED-WRITE; ls .. >/dev/null 2>&1 && echo ESCAPED-LIST; echo tried",
            (log, _) => Judge(!log.Contains("ESCAPED"), log));
        await AttackOtherAttemptAsync();
        var canary = await AttackWithSymlinksAsync();
        await AttackAsync("result.json as a symbolic link to /etc/shadow", "the result is refused, nothing of the target read",
            "ln -s /etc/shadow result.json",
            (log, execution) => Judge(execution.GetProperty("status").GetString() == "FAILED" &&
                                      !execution.ToString().Contains("root:", StringComparison.Ordinal), execution.GetProperty("error").ToString()));

        // Outliving the attempt, and exhausting the host.
        await AttackAsync("leave a daemon behind (new session, scrubbed environment)", "killed when the attempt ends",
            "env -i setsid sleep 300 </dev/null >/dev/null 2>&1 & echo daemon $!",
            (log, _) =>
            {
                var pid = int.Parse(log.Split("daemon ")[1].Trim(), CultureInfo.InvariantCulture);
                return Judge(WaitGone(pid), $"pid {pid} {(Alive(pid) ? "still running" : "gone")}");
            });
        await AttackAsync("fork bomb (200 background processes)", $"stopped at the job user's limit of {MaxProcesses}",
            "me=$(id -u); (i=0; while [ $i -lt 200 ]; do sleep 30 & i=$((i+1)); done) 2>/dev/null; n=0; " +
            "for s in /proc/[0-9]*/status; do while read k a b; do if [ \"$k\" = Uid: ]; then [ \"$a\" = \"$me\" ] && n=$((n+1)); break; fi; done < $s; done 2>/dev/null; echo \"processes $n\"",
            (log, _) =>
            {
                var n = int.Parse(log.Split("processes ")[1].Trim(), CultureInfo.InvariantCulture);
                return Judge(n <= MaxProcesses, $"{n} processes at once");
            });
        _freeBeforeFill = new DriveInfo(_platform.WorkRoot).AvailableFreeSpace;
        await AttackAsync("fill the exec work folder (dd 512 MiB)", $"No space left on device at {FolderBound >> 20} MiB; the attempt reports; host disk unchanged",
            $"dd if=/dev/zero of=big bs=1M count={FillMiB}; echo \"kept $(wc -c < big)\"",
            (log, execution) => JudgeFill(log, execution));
        await AttackContainerImageAsync();
        await AttackHoldEverySlotAsync();
        // Only now a container worker: the rows above need container images to find none, and the
        // fleet of the exec worker's 4 slots alone.
        await AttackOutputFolderAsync();

        // Exhausting what the controller stores and holds for it.
        await AttackLogFloodAsync();
        await AttackFollowStreamsAsync();
        await AttackMintedKeyAsync();
        await AttackSchedulesAsync();
        await AttackMetricsAsync();
        await AttackWorkerNameAsync();
        await AttackGuessKeysAsync(); // last: it spends this address's budget of failed authentications

        Assert.True(File.Exists(canary), "the canary outside the work root was deleted through a link");
        var table = Table();
        output.WriteLine(table);
        if (Environment.GetEnvironmentVariable("JOBPLANE_HOSTILE_REPORT") is { Length: > 0 } report)
            await File.WriteAllTextAsync(report, table);
        var escapes = _rows.Where(r => r.Escaped).ToList();
        Assert.True(escapes.Count == 0, "escapes:\n" + table);
    }

    private static (bool Escaped, string Got) Judge(bool held, string got) => (!held, Shorten(got));

    private long _freeBeforeFill;

    /// <summary>
    /// A fill attack held when the job's write stopped at the bound with ENOSPC, the attempt still
    /// reported, and nothing of the attempt is left mounted. The host disk's free space is shown, not
    /// judged: the rest of the suite writes to the same disk at the same time.
    /// </summary>
    private (bool Escaped, string Got) JudgeFill(string log, JsonElement execution)
    {
        var status = execution.GetProperty("status").GetString();
        var kept = log.Split("kept ") is [_, var rest, ..] && long.TryParse(rest.Split('\n')[0].Trim(), CultureInfo.InvariantCulture, out var k) ? k : -1;
        var lost = _freeBeforeFill - new DriveInfo(_platform.WorkRoot).AvailableFreeSpace;
        // The worker unmounts the attempt's folder after it reports the result: give it a moment (a loaded machine is slower).
        var mounted = Mounted();
        for (var i = 0; i < 100 && mounted > 0; i++)
        {
            Thread.Sleep(100);
            mounted = Mounted();
        }
        var held = log.Contains("No space left on device", StringComparison.Ordinal) && kept is > 0 and <= FolderBound &&
                   status == "SUCCEEDED" && mounted == 0;
        return (!held, string.Create(CultureInfo.InvariantCulture, $"{status}, kept {kept >> 20} MiB, ENOSPC {log.Contains("No space left", StringComparison.Ordinal)}, disk -{Math.Max(0, lost) >> 20} MiB, {mounted} mounts left"));
    }

    private async Task AttackOutputFolderAsync()
    {
        _platform.StartWorker("hostile-docker", new Dictionary<string, string?>
        {
            ["RUNTIME"] = "docker",
            ["DOCKER_HOST"] = TestDocker.Host,
            ["DOCKER_MEMORY_LIMIT"] = "64m",
            ["DOCKER_OUTPUT_MAX_BYTES"] = FolderBound.ToString(CultureInfo.InvariantCulture),
        });
        _freeBeforeFill = new DriveInfo(_platform.WorkRoot).AvailableFreeSpace;
        var job = await _api.PostJsonAsync("/jobs", JsonSerializer.Serialize(new
        {
            name = "hostile-fill-output",
            image = TestDocker.Image,
            command = new[] { "sh", "-c", $"cd \"$JOBPLANE_OUTPUT_DIR\"; dd if=/dev/zero of=big bs=1M count={FillMiB}; echo \"kept $(wc -c < big)\"" },
            default_timeout = 60,
            max_attempts = 1,
        }));
        var run = await _api.PostJsonAsync($"/jobs/{job.GetProperty("job_id").GetString()}/run", "{}");
        var id = run.GetProperty("execution_id").GetString()!;
        var execution = await _api.WaitForAsync(id, s => s is "SUCCEEDED" or "FAILED" or "CANCELLED", TimeSpan.FromSeconds(90));
        var (escaped, got) = JudgeFill(await LogAsync(id), execution);
        _rows.Add(new Row($"fill the container output folder (dd {FillMiB} MiB)", $"No space left on device at {FolderBound >> 20} MiB; the attempt reports; host disk unchanged", got, escaped));
    }

    private async Task<JsonElement> AttackAsync(string attack, string expected, string script,
        Func<string, JsonElement, (bool Escaped, string Got)> judge, TimeSpan? timeout = null)
    {
        var id = await SubmitAsync(attack, script, timeout ?? TimeSpan.FromSeconds(30));
        var execution = await _api.WaitForAsync(id, s => s is "SUCCEEDED" or "FAILED" or "CANCELLED", TimeSpan.FromSeconds(90));
        var log = await LogAsync(id);
        var (escaped, got) = judge(log, execution);
        _rows.Add(new Row(attack, expected, got, escaped));
        return execution;
    }

    private async Task AttackOtherAttemptAsync()
    {
        // The victim, another attempt on the same worker, keeps a secret in its folder while it runs.
        var victim = await SubmitAsync("victim", "echo s3cret-of-the-victim > secret; echo \"at $(pwd) pid $$\"; sleep 60", TimeSpan.FromSeconds(90));
        await _api.WaitForStatusAsync(victim, "RUNNING", TimeSpan.FromSeconds(30));
        string where = "";
        for (var i = 0; i < 100 && !where.Contains(" pid ", StringComparison.Ordinal); i++)
        {
            where = await LogAsync(victim);
            await Task.Delay(100);
        }
        var folder = where.Split("at ")[1].Split(" pid ")[0];
        var pid = where.Split(" pid ")[1].Trim();
        await AttackAsync("read another running attempt's folder and environment", "permission denied",
            $"cat {Sh(folder)}/secret 2>/dev/null && echo ESCAPED-FILE; tr '\\0' '\\n' < /proc/{pid}/environ 2>/dev/null | grep JOBPLANE_EXECUTION_ID && echo ESCAPED-ENV; echo tried",
            (log, _) => Judge(!log.Contains("s3cret") && !log.Contains("ESCAPED"), log));
        await AttackAsync("kill another running attempt", "EPERM; the victim keeps running",
            $"kill -9 {pid} 2>/dev/null && echo ESCAPED; echo tried",
            (log, _) => Judge(!log.Contains("ESCAPED"), log));
        var still = (await _api.ExecutionAsync(victim)).GetProperty("status").GetString();
        _rows[^1] = _rows[^1] with { Escaped = _rows[^1].Escaped || still != "RUNNING", Got = _rows[^1].Got + $"; victim {still}" };
        await _api.Http.PostAsync($"/executions/{victim}/cancel", null);
    }

    private async Task<string> AttackWithSymlinksAsync()
    {
        // Links in the attempt's folder to a folder outside it: removing the attempt's folder must
        // remove the links, never what they point at (the worker removes it as root).
        var outside = Directory.CreateTempSubdirectory("jobplane-canary-").FullName;
        var canary = Path.Combine(outside, "keep");
        await File.WriteAllTextAsync(canary, "still here");
        await AttackAsync("links in the work folder to outside files, for the cleanup to follow", "links removed, targets untouched",
            $"ln -s {Sh(outside)} dir-link; ln -s {Sh(canary)} file-link; mkdir d; ln -s {Sh(outside)} d/deeper; echo planted",
            (log, _) => Judge(File.Exists(canary), File.Exists(canary) ? "canary intact" : "canary deleted"));
        return canary;
    }

    private async Task AttackContainerImageAsync()
    {
        var job = await _api.PostJsonAsync("/jobs", JsonSerializer.Serialize(new
        {
            name = "alpine-on-exec",
            image = "alpine:latest",
            command = new[] { "id" },
            max_attempts = 1,
        }));
        var run = await _api.PostJsonAsync($"/jobs/{job.GetProperty("job_id").GetString()}/run", "{}");
        var id = run.GetProperty("execution_id").GetString()!;
        await Task.Delay(TimeSpan.FromSeconds(3));
        var execution = await _api.ExecutionAsync(id);
        var log = await LogAsync(id);
        var status = execution.GetProperty("status").GetString();
        var waiting = execution.TryGetProperty("waiting_for", out var w) ? w.GetString() : null;
        _rows.Add(new Row("run a container image (alpine:latest) on an exec worker", "never run on the host",
            Shorten($"{status}{(waiting is null ? "" : $", waiting for {waiting}")}{(execution.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? $", {e.GetString()}" : "")}"),
            // It must wait, saying for what, rather than be claimed by the only (exec) worker there is.
            log.Contains("uid=", StringComparison.Ordinal) || status != "PENDING" || string.IsNullOrEmpty(waiting)));
        await _api.Http.PostAsync($"/executions/{id}/cancel", null);
    }

    /// <summary>Prints 300 MB (300,000 lines of 1,000 bytes): the log stops at the controller's cap with a marker, the job succeeds.</summary>
    private async Task AttackLogFloodAsync()
    {
        const long cap = 16L * 1024 * 1024; // the controller's default LOG_MAX_BYTES_PER_EXECUTION
        const long batch = 512 * 1024;      // the most one worker batch carries
        var id = await SubmitAsync("flood", "head -c 299700000 /dev/zero | tr '\\0' x | fold -w 999", TimeSpan.FromSeconds(300));
        var execution = await _api.WaitForAsync(id, s => s is "SUCCEEDED" or "FAILED" or "CANCELLED", TimeSpan.FromSeconds(330));
        long bytes = 0, lines = 0, after = 0;
        string last = "";
        while (true)
        {
            var page = (await _api.GetJsonAsync($"/executions/{id}/logs?limit=5000&after_id={after}")).GetProperty("logs");
            if (page.GetArrayLength() == 0) break;
            foreach (var line in page.EnumerateArray())
            {
                last = line.GetProperty("content").GetString()!;
                bytes += Encoding.UTF8.GetByteCount(last);
                lines++;
                after = line.GetProperty("id").GetInt64();
            }
        }
        var status = execution.GetProperty("status").GetString();
        _rows.Add(new Row("flood the log (print 300 MB)", "cut at the cap with a marker; the job succeeds",
            Shorten($"{bytes:N0} bytes in {lines:N0} lines stored, {status}, last: {last}"),
            bytes > cap + batch || status != "SUCCEEDED" || !last.Contains("LOG_MAX_BYTES_PER_EXECUTION", StringComparison.Ordinal)));
    }

    /// <summary>Opens more followed log streams than a tenant may hold: the one too many is refused.</summary>
    private async Task AttackFollowStreamsAsync()
    {
        var id = await SubmitAsync("followed", "sleep 60", TimeSpan.FromSeconds(90));
        await _api.WaitForStatusAsync(id, "RUNNING", TimeSpan.FromSeconds(30));
        var open = new List<HttpResponseMessage>();
        var refusedAt = 0;
        try
        {
            for (var i = 1; i <= 25 && refusedAt == 0; i++)
            {
                var response = await _api.Http.GetAsync($"/executions/{id}/logs?follow=true", HttpCompletionOption.ResponseHeadersRead);
                if ((int)response.StatusCode == 429) refusedAt = i;
                open.Add(response);
            }
        }
        finally
        {
            foreach (var r in open) r.Dispose();
            await _api.Http.PostAsync($"/executions/{id}/cancel", null);
        }
        _rows.Add(new Row("open 25 followed log streams at once", "429 past the tenant's 20",
            refusedAt == 0 ? "all 25 opened" : $"stream {refusedAt} refused with 429", refusedAt != 21));
    }

    /// <summary>A leaked key mints a key of its own, then the owner revokes the leaked one.</summary>
    /// <summary>
    /// Makes the platform fire as much work as a schedule could: too often, too many catch-ups, too
    /// many schedules, another tenant's job, an expression too long to store. Each is refused.
    /// </summary>
    private async Task AttackSchedulesAsync()
    {
        using var victim = new Api(_platform.Url, await _platform.CreateTenantAsync("sched-victim-" + Guid.NewGuid().ToString("N")[..8]));
        var victimJob = (await victim.PostJsonAsync("/jobs", """{"name": "victim", "image": "exec", "command": ["true"]}""")).GetProperty("job_id").GetString();
        var job = (await _api.PostJsonAsync("/jobs", """{"name": "tick", "image": "exec", "command": ["true"]}""")).GetProperty("job_id").GetString();
        async Task<int> CreateAsync(string body)
        {
            using var response = await _api.Http.PostAsync("/schedules", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            return (int)response.StatusCode;
        }
        var everySecond = await CreateAsync($$"""{"name": "flood", "job_id": "{{job}}", "cron": "* * * * * *"}""");
        var catchUps = await CreateAsync($$"""{"name": "flood", "job_id": "{{job}}", "cron": "0 0 1 1 *", "misfire": "catch_up", "catch_up_max": 1000000}""");
        var longCron = await CreateAsync($$"""{"name": "flood", "job_id": "{{job}}", "cron": "{{string.Join(",", Enumerable.Range(0, 2000).Select(i => i % 60))}} * * * *"}""");
        var stolen = await CreateAsync($$"""{"name": "theft", "job_id": "{{victimJob}}", "cron": "0 0 1 1 *"}""");
        var created = 0;
        int status;
        while ((status = await CreateAsync($$"""{"name": "s{{created}}", "job_id": "{{job}}", "cron": "0 0 1 1 *"}""")) == 201 && created < 1000) created++;
        var victimSchedules = (await victim.GetJsonAsync("/schedules")).GetProperty("schedules").GetArrayLength();
        _rows.Add(new Row("make the platform fire work: every second, a million catch-ups, a 6 KB expression, another tenant's job, endless schedules",
            "400, 400, 400, 404; 409 after MAX_SCHEDULES_PER_TENANT (100)",
            $"{everySecond}, {catchUps}, {longCron}, {stolen}; {status} after {created}; the victim has {victimSchedules} schedules",
            everySecond != 400 || catchUps != 400 || longCron != 400 || stolen != 404 || status != 409 || created != 100 || victimSchedules != 0));
    }

    private async Task AttackMintedKeyAsync()
    {
        var leaked = await _api.PostJsonAsync("/api-keys", """{"name": "leaked"}""");
        using var attacker = new Api(_platform.Url, leaked.GetProperty("api_key").GetString()!);
        var minted = await attacker.PostJsonAsync("/api-keys", """{"name": "backdoor"}""");
        using var backdoor = new Api(_platform.Url, minted.GetProperty("api_key").GetString()!);
        var before = (int)(await backdoor.Http.GetAsync("/jobs")).StatusCode;
        await _api.Http.DeleteAsync($"/api-keys/{leaked.GetProperty("id").GetString()}");
        var after = (int)(await backdoor.Http.GetAsync("/jobs")).StatusCode;
        _rows.Add(new Row("keep access through a key minted by a leaked key", "revoked with the leaked key",
            $"minted key: {before} before, {after} after revocation", before != 200 || after != 401));
    }

    /// <summary>
    /// Holds every slot of the fleet (one exec worker, 4 slots) with long jobs and queues more, while
    /// another tenant arrives with work: the slots that free up go to the other tenant until the
    /// hostile one holds no more than its share (FAIR_SHARE_MAX_FRACTION 0.5: 2 slots).
    /// </summary>
    private async Task AttackHoldEverySlotAsync()
    {
        // The victim is ready before the slots are taken: submitting its work must take moments.
        using var victim = new Api(_platform.Url, await _platform.CreateTenantAsync("victim-" + Guid.NewGuid().ToString("N")[..8]));
        var job = (await victim.PostJsonAsync("/jobs", """{"name": "victim", "image": "exec", "command": ["sleep", "60"], "max_attempts": 1}"""))
            .GetProperty("job_id").GetString();
        var holders = new List<string>();
        foreach (var seconds in new[] { 10, 11, 60, 60 }) holders.Add(await SubmitAsync("hold", $"sleep {seconds}", TimeSpan.FromMinutes(2)));
        foreach (var id in holders) await _api.WaitForStatusAsync(id, "RUNNING", TimeSpan.FromMinutes(1));
        var queued = new List<string>();
        for (var i = 0; i < 2; i++) queued.Add(await SubmitAsync("hold", "sleep 60", TimeSpan.FromMinutes(2)));
        var served = new List<string>();
        for (var i = 0; i < 2; i++)
            served.Add((await victim.PostJsonAsync($"/jobs/{job}/run", "{}")).GetProperty("execution_id").GetString()!);
        // Mallory's queued work must have waited the whole time: the short holders had not ended yet.
        var early = new List<string?>();
        foreach (var id in holders.Take(2)) early.Add((await _api.ExecutionAsync(id)).GetProperty("status").GetString());
        Assert.True(early.All(s => s == "RUNNING"), $"the short holders ended before the victim's work was queued: {string.Join(", ", early)}");
        // Both of the victim's executions start once the two short holders end, before any queued one of mallory's.
        foreach (var id in served) await victim.WaitForStatusAsync(id, "RUNNING", TimeSpan.FromMinutes(1));
        var mallory = new List<string>();
        foreach (var id in queued) mallory.Add((await _api.ExecutionAsync(id)).GetProperty("status").GetString()!);
        foreach (var id in holders.Concat(queued)) (await _api.Http.PostAsync($"/executions/{id}/cancel", null)).Dispose();
        foreach (var id in served) (await victim.Http.PostAsync($"/executions/{id}/cancel", null)).Dispose();
        _rows.Add(new Row("hold every slot with long jobs and queue more", "freed slots go to the waiting tenant; at most half the fleet",
            $"victim's 2 started; mallory's queued: {string.Join(", ", mallory)}", mallory.Any(s => s != "PENDING")));
    }

    /// <summary>Reads the platform's metrics, which name every tenant, from the public API port.</summary>
    private async Task AttackMetricsAsync()
    {
        var got = new List<string>();
        var leaked = false;
        // Unauthenticated, with the tenant's own key, and spelled as routing would still match it.
        foreach (var (path, token) in new[] { ("/metrics", (string?)null), ("/metrics", "key"), ("/METRICS/", "key") })
        {
            using var response = token is null
                ? await _anonymous.GetAsync(new Uri(new Uri(_platform.Url), path))
                : await _api.Http.GetAsync(path);
            var body = await response.Content.ReadAsStringAsync();
            got.Add($"{path} {(token is null ? "anonymous" : "tenant key")}: {(int)response.StatusCode}");
            leaked |= response.IsSuccessStatusCode || body.Contains("tenant_id", StringComparison.Ordinal) || body.Contains("jobplane_", StringComparison.Ordinal);
        }
        _rows.Add(new Row("read every tenant's queue depth from /metrics on the API port", "401 without the scrape token",
            string.Join("; ", got), leaked));
    }

    /// <summary>Looks for the worker's own name (often its host name) in what the API says about an execution.</summary>
    private async Task AttackWorkerNameAsync()
    {
        var id = await SubmitAsync("worker-name", "true", TimeSpan.FromMinutes(1));
        var execution = await _api.WaitForStatusAsync(id, "SUCCEEDED", TimeSpan.FromMinutes(2));
        var attempts = await _api.GetJsonAsync($"/executions/{id}/attempts");
        var text = execution.ToString() + attempts;
        var shown = attempts.EnumerateArray().Select(a => a.GetProperty("worker_id").GetString()).FirstOrDefault();
        _rows.Add(new Row("learn the worker's name from an execution", "a pseudonym, never the worker's id or host name",
            $"worker_id {shown ?? "absent"}", shown is null || text.Contains(WorkerName, StringComparison.Ordinal) ||
                                              text.Contains(Environment.MachineName, StringComparison.OrdinalIgnoreCase)));
    }

    /// <summary>Guesses API keys from one address: refused before any lookup once its budget is spent.</summary>
    private async Task AttackGuessKeysAsync()
    {
        var answers = new List<int>();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 30; i++)
        {
            using var guess = new Api(_platform.Url, $"jp_{Guid.NewGuid():N}_{Guid.NewGuid():N}");
            answers.Add((int)(await guess.Http.GetAsync("/jobs")).StatusCode);
        }
        var first429 = answers.IndexOf(429) + 1;
        var failures = answers.Count(a => a == 401);
        // The address's budget is 20 failures a minute, refilled evenly (one every 3 s); a revoked key
        // refused a moment ago was one of them. On a loaded machine the 30 tries can take long enough
        // for the refill to let another guess through after the first 429: that is the budget working.
        var refilled = (int)Math.Ceiling(watch.Elapsed.TotalMinutes * 20);
        _rows.Add(new Row("guess API keys (30 tries from one address)", $"429 after at most 20 failures, then at most {refilled} more (the refill)",
            first429 == 0 ? $"all answered {string.Join(",", answers.Distinct())}" : $"{first429 - 1} x 401, then 429; {failures} x 401 in all",
            first429 is < 2 or > 21 || failures > 20 + refilled || answers.Any(a => a is not (401 or 429))));
    }

    private async Task<string> SubmitAsync(string name, string script, TimeSpan timeout)
    {
        var job = await _api.PostJsonAsync("/jobs", JsonSerializer.Serialize(new
        {
            name = "hostile-" + Guid.NewGuid().ToString("N")[..8],
            image = "exec",
            command = new[] { "sh", "-c", script },
            default_timeout = (int)timeout.TotalSeconds,
            max_attempts = 1,
        }));
        var run = await _api.PostJsonAsync($"/jobs/{job.GetProperty("job_id").GetString()}/run", "{}");
        _ = name;
        return run.GetProperty("execution_id").GetString()!;
    }

    private async Task<string> LogAsync(string id)
    {
        var page = await _api.GetJsonAsync($"/executions/{id}/logs?limit=1000");
        var text = new StringBuilder();
        foreach (var line in page.GetProperty("logs").EnumerateArray()) text.Append(line.GetProperty("content").GetString()).Append('\n');
        return text.ToString();
    }

    private static bool ContainsAny(string text, IEnumerable<string> needles) => needles.Any(n => text.Contains(n, StringComparison.Ordinal));

    private static bool Alive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0] != "Z";
        }
        catch (IOException)
        {
            return false;
        }
    }

    private int Mounted() => File.ReadLines("/proc/self/mountinfo").Count(l => l.Split(' ')[4].StartsWith(_platform.WorkRoot, StringComparison.Ordinal));

    private static bool WaitGone(int pid)
    {
        for (var i = 0; i < 50 && Alive(pid); i++) Thread.Sleep(100);
        return !Alive(pid);
    }

    private static string Sh(string path) => "'" + path.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static string Shorten(string text)
    {
        var one = string.Join(" / ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return one.Length > 90 ? one[..87] + "..." : one;
    }

    private string Table()
    {
        var b = new StringBuilder();
        b.AppendLine(CultureInfo.InvariantCulture, $"hostile tenant: {_rows.Count} attacks, {_rows.Count(r => r.Escaped)} escapes");
        b.AppendLine(CultureInfo.InvariantCulture, $"{"attack",-62} {"result",-8} what it got");
        foreach (var r in _rows)
            b.AppendLine(CultureInfo.InvariantCulture, $"{r.Attack,-62} {(r.Escaped ? "ESCAPED" : "held"),-8} {r.Got}");
        return b.ToString();
    }
}

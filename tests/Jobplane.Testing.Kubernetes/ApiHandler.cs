using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Docker.DotNet;
using Docker.DotNet.Models;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Http;

namespace Jobplane.Testing.Kubernetes;

/// <summary>
/// The HTTP face of the fake: parses a request into (verb, group, resource, namespace, name),
/// records it, and answers in the real server's wire format, Status bodies included.
/// </summary>
internal sealed partial class ApiHandler(Cluster cluster)
{
    private static readonly TimeSpan DefaultWatchTimeout = TimeSpan.FromMinutes(30);

    private readonly ConcurrentQueue<ApiRequest> _requests = new();

    private readonly ConcurrentQueue<Exception> _faults = new();
    private readonly Lock _dropLock = new();
    private CancellationTokenSource _drop = new();

    /// <summary>Breaks the connection of every open watch and log stream, as a network fault or an API server restart would.</summary>
    public void DropStreams()
    {
        CancellationTokenSource dropped;
        lock (_dropLock)
        {
            dropped = _drop;
            _drop = new CancellationTokenSource();
        }
        dropped.Cancel();
        dropped.Dispose();
    }

    private readonly ConcurrentDictionary<string, int> _brokenLogReads = new();

    /// <summary>The next <paramref name="count"/> log requests for <paramref name="container"/> lose their connection before any answer.</summary>
    public void BreakLogReads(string container, int count) => _brokenLogReads[container] = count;

    private bool TakeBrokenLogRead(string container)
    {
        while (_brokenLogReads.TryGetValue(container, out var left) && left > 0)
        {
            if (_brokenLogReads.TryUpdate(container, left - 1, left)) return true;
        }
        return false;
    }

    private CancellationToken DropToken()
    {
        lock (_dropLock) return _drop.Token;
    }

    /// <summary>Ends a stream the way a broken connection ends it: no clean end of the response.</summary>
    private static async Task<bool> StreamAsync(HttpContext context, CancellationToken drop, Func<CancellationToken, Task> stream)
    {
        using var both = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, drop);
        try
        {
            await stream(both.Token);
            return true;
        }
        catch (OperationCanceledException) when (drop.IsCancellationRequested)
        {
            context.Abort();
            return false;
        }
    }

    public IReadOnlyList<ApiRequest> Requests => [.. _requests];

    /// <summary>Every exception the fake hit while answering a request: a test can demand none.</summary>
    public IReadOnlyList<Exception> Faults => [.. _faults];

    public async Task HandleAsync(HttpContext context)
    {
        try
        {
            await RouteAsync(context);
        }
        catch (Exception e)
        {
            _faults.Enqueue(e);
            // A defect of the fake: answered as the real server answers its own, with the cause.
            if (!context.Response.HasStarted) await StatusAsync(context, 500, "InternalError", $"fake API server: {e}");
        }
    }

    private async Task RouteAsync(HttpContext context)
    {
        var request = context.Request;
        var parts = request.Path.Value!.Split('/', StringSplitOptions.RemoveEmptyEntries);
        string group;
        int rest;
        if (parts is ["api", "v1", ..]) (group, rest) = ("", 2);
        else if (parts is ["apis", "batch", "v1", ..]) (group, rest) = ("batch", 3);
        else
        {
            await StatusAsync(context, 404, "NotFound", $"the server could not find the requested resource ({request.Method} {request.Path})");
            return;
        }
        var tail = parts[rest..];
        if (tail is not ["namespaces", var ns, var resource, ..] || tail.Length > 6)
        {
            await StatusAsync(context, 404, "NotFound", "the fake serves only namespaced resources");
            return;
        }
        var name = tail.Length > 3 ? tail[3] : null;
        var subresource = tail.Length > 4 ? tail[4] : null;
        var query = request.Query;
        var verb = (request.Method, name) switch
        {
            ("GET", null) => IsTrue(query["watch"]) ? "watch" : "list",
            ("GET", _) => "get",
            ("POST", _) => "create",
            ("PUT", _) => "update",
            ("PATCH", _) => "patch",
            ("DELETE", null) => "deletecollection",
            ("DELETE", _) => "delete",
            _ => request.Method.ToLowerInvariant(),
        };
        var fullResource = subresource is null ? resource : $"{resource}/{subresource}";
        _requests.Enqueue(new ApiRequest(verb, group, fullResource, ns));

        switch (group, fullResource, verb)
        {
            case ("batch", "jobs", "create"):
                await CreateJobAsync(context, ns);
                return;
            case ("batch", "jobs", "get"):
                await GetAsync(context, "jobs", ns, name!, "batch");
                return;
            case ("batch", "jobs", "list"):
                await ListAsync(context, "jobs", ns, "batch/v1", "JobList");
                return;
            case ("batch", "jobs", "watch"):
                await WatchAsync(context, "jobs", ns);
                return;
            case ("batch", "jobs", "delete"):
                await DeleteJobAsync(context, ns, name!);
                return;
            case ("", "pods", "get"):
                await GetAsync(context, "pods", ns, name!, "");
                return;
            case ("", "pods", "list"):
                await ListAsync(context, "pods", ns, "v1", "PodList");
                return;
            case ("", "pods", "watch"):
                await WatchAsync(context, "pods", ns);
                return;
            case ("", "pods", "delete"):
                await DeletePodAsync(context, ns, name!);
                return;
            case ("", "pods/log", "get"):
                await LogAsync(context, ns, name!);
                return;
            case ("", "events", "list"):
                await ListAsync(context, "events", ns, "v1", "EventList");
                return;
            case ("", "events", "watch"):
                await WatchAsync(context, "events", ns);
                return;
        }
        if (resource is "jobs" or "pods" or "events")
            await StatusAsync(context, 405, "MethodNotAllowed", $"the server does not allow this method on the requested resource ({verb} {fullResource})");
        else
            await StatusAsync(context, 404, "NotFound", $"the server could not find the requested resource ({fullResource})");
    }

    private async Task CreateJobAsync(HttpContext context, string ns)
    {
        var body = await ReadBodyAsync(context);
        if (!StrictJson.TryDecode<V1Job>(body, out var job, out var error))
        {
            await StatusAsync(context, 400, "BadRequest", $"Job in version \"v1\" cannot be handled as a Job: {error}");
            return;
        }
        if (job!.Metadata?.NamespaceProperty is { } given && given != ns)
        {
            await StatusAsync(context, 400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
            return;
        }
        if (job.ApiVersion is { } apiVersion && apiVersion != "batch/v1" || job.Kind is { } kind && kind != "Job")
        {
            await StatusAsync(context, 400, "BadRequest", $"expected batch/v1 Job, got {job.ApiVersion} {job.Kind}");
            return;
        }
        job.ApiVersion = "batch/v1";
        job.Kind = "Job";
        job.Metadata ??= new V1ObjectMeta();
        job.Metadata.NamespaceProperty = ns;
        if (job.Metadata.Name is null && job.Metadata.GenerateName is { } prefix)
            job.Metadata.Name = prefix + Guid.NewGuid().ToString("N")[..5];
        var invalid = JobValidation.Validate(job);
        if (invalid.Count > 0)
        {
            await StatusAsync(context, 422, "Invalid",
                $"Job.batch \"{job.Metadata.Name}\" is invalid: {string.Join("; ", invalid)}",
                job.Metadata.Name, "batch", "Job");
            return;
        }
        JobValidation.ApplyDefaults(job);
        var created = cluster.CreateJob(job);
        if (created is null)
        {
            await StatusAsync(context, 409, "AlreadyExists", $"jobs.batch \"{job.Metadata.Name}\" already exists",
                job.Metadata.Name, "batch", "jobs");
            return;
        }
        await JsonAsync(context, 201, created);
    }

    private async Task GetAsync(HttpContext context, string resource, string ns, string name, string group)
    {
        var json = cluster.Store.GetJson(resource, ns, name);
        if (json is null)
        {
            await NotFoundAsync(context, resource, group, name);
            return;
        }
        await JsonAsync(context, 200, json);
    }

    private async Task ListAsync(HttpContext context, string resource, string ns, string apiVersion, string kind)
    {
        if (await SelectorsAsync(context) is not { } selectors) return;
        var (items, version) = cluster.Store.List(resource, ns, selectors.Labels, selectors.Fields);
        var json = $"{{\"kind\":\"{kind}\",\"apiVersion\":\"{apiVersion}\",\"metadata\":{{\"resourceVersion\":\"{version}\"}},\"items\":[{string.Join(",", items)}]}}";
        await JsonAsync(context, 200, json);
    }

    /// <summary>
    /// A watch: newline-delimited {"type","object"} events. Without a resourceVersion (or with "0")
    /// it starts with an ADDED event for every matching object; with one it replays every change
    /// after that version, then follows live until timeoutSeconds or the client leaves.
    /// </summary>
    private async Task WatchAsync(HttpContext context, string resource, string ns)
    {
        if (await SelectorsAsync(context) is not { } selectors) return;
        var query = context.Request.Query;
        var timeout = int.TryParse(query["timeoutSeconds"], CultureInfo.InvariantCulture, out var seconds) && seconds > 0
            ? TimeSpan.FromSeconds(seconds)
            : DefaultWatchTimeout;
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "application/json";
        await response.StartAsync(context.RequestAborted);

        long cursor;
        var drop = DropToken();
        var given = query["resourceVersion"].ToString();
        if (given.Length == 0 || given == "0")
        {
            var (items, version) = cluster.Store.List(resource, ns, selectors.Labels, selectors.Fields);
            foreach (var item in items) await WriteEventAsync(response, "ADDED", item, context.RequestAborted);
            cursor = version;
        }
        else if (!long.TryParse(given, CultureInfo.InvariantCulture, out cursor))
        {
            var status = StatusBody.Failure(400, "BadRequest", $"invalid resourceVersion \"{given}\"");
            await WriteEventAsync(response, "ERROR", status, context.RequestAborted);
            return;
        }
        else if (cursor < cluster.Store.CompactedThrough)
        {
            var status = StatusBody.Failure(410, "Expired", $"too old resource version: {cursor} ({cluster.Store.CompactedThrough})");
            await WriteEventAsync(response, "ERROR", status, context.RequestAborted);
            return;
        }
        await response.Body.FlushAsync(context.RequestAborted);

        using var limit = new CancellationTokenSource(timeout);
        try
        {
            await StreamAsync(context, drop, async cancel =>
            {
                using var either = CancellationTokenSource.CreateLinkedTokenSource(cancel, limit.Token);
                while (true)
                {
                    var (events, changed) = cluster.Store.EventsAfter(cursor);
                    foreach (var e in events)
                    {
                        cursor = e.Version;
                        if (e.Resource != resource || e.Namespace != ns) continue;
                        if (!selectors.Labels.Matches(e.Labels) || !selectors.Fields.Matches(e.Fields)) continue;
                        await WriteEventAsync(response, e.Type, e.ObjectJson, either.Token);
                    }
                    await response.Body.FlushAsync(either.Token);
                    await changed.WaitAsync(either.Token);
                }
            });
        }
        catch (OperationCanceledException)
        {
            // The timeout, or the client went away: the watch ends as the real server's does.
        }
    }

    private static async Task WriteEventAsync(HttpResponse response, string type, string objectJson, CancellationToken cancel) =>
        await response.WriteAsync($"{{\"type\":\"{type}\",\"object\":{objectJson}}}\n", cancel);

    private async Task DeleteJobAsync(HttpContext context, string ns, string name)
    {
        if (await DeleteOptionsAsync(context) is not { } options) return;
        var propagation = context.Request.Query["propagationPolicy"].ToString() is { Length: > 0 } p ? p : options.PropagationPolicy;
        // batch/v1 Jobs are orphaned by default when deleted through the API, as the real server does.
        propagation ??= "Orphan";
        if (propagation is not ("Foreground" or "Background" or "Orphan"))
        {
            await StatusAsync(context, 422, "Invalid", $"DeleteOptions is invalid: propagationPolicy: Unsupported value: \"{propagation}\"");
            return;
        }
        var json = await cluster.DeleteJobAsync(ns, name, propagation);
        if (json is null)
        {
            await NotFoundAsync(context, "jobs", "batch", name);
            return;
        }
        await JsonAsync(context, 200, json);
    }

    private async Task DeletePodAsync(HttpContext context, string ns, string name)
    {
        if (await DeleteOptionsAsync(context) is not { } options) return;
        var grace = long.TryParse(context.Request.Query["gracePeriodSeconds"], CultureInfo.InvariantCulture, out var g) ? g : options.GracePeriodSeconds;
        var before = cluster.Store.GetJson("pods", ns, name);
        if (before is null)
        {
            await NotFoundAsync(context, "pods", "", name);
            return;
        }
        cluster.BeginDeletePod(ns, name, grace);
        // The real server answers once the pod is marked for deletion, not when it is gone.
        await JsonAsync(context, 200, cluster.Store.GetJson("pods", ns, name) ?? before);
    }

    private static async Task<V1DeleteOptions?> DeleteOptionsAsync(HttpContext context)
    {
        var body = await ReadBodyAsync(context);
        if (string.IsNullOrWhiteSpace(body)) return new V1DeleteOptions();
        if (StrictJson.TryDecode<V1DeleteOptions>(body, out var options, out var error)) return options;
        await StatusAsync(context, 400, "BadRequest", $"DeleteOptions in version \"v1\" cannot be handled as a DeleteOptions: {error}");
        return null;
    }

    /// <summary>
    /// A container's log, from the Docker Engine's json-file log: stdout and stderr merged as a
    /// kubelet does, each line prefixed by its RFC3339Nano timestamp when asked, from sinceTime on
    /// (inclusive, so a client resuming after a dropped stream finds its last line again and skips it).
    /// <c>stream</c> (Kubernetes 1.32's PodLogsQuerySplitStreams, taken as enabled) picks one of the two.
    /// </summary>
    private async Task LogAsync(HttpContext context, string ns, string podName)
    {
        var query = context.Request.Query;
        // The options are validated before the pod is looked up, as the real server does.
        var logStream = query.ContainsKey("stream") ? query["stream"].ToString() : "All";
        if (logStream is not ("All" or "Stdout" or "Stderr"))
        {
            await StatusAsync(context, 422, "Invalid",
                $"PodLogOptions \"{podName}\" is invalid: stream: Unsupported value: \"{logStream}\": supported values: \"Stdout\", \"Stderr\", \"All\"",
                podName, "", "PodLogOptions");
            return;
        }
        if (logStream != "All" && query.ContainsKey("tailLines"))
        {
            // The kubelet cannot yet count lines in one stream of a log that holds both.
            await StatusAsync(context, 422, "Invalid",
                $"PodLogOptions \"{podName}\" is invalid: : Forbidden: `tailLines` and specific `stream` are mutually exclusive for now",
                podName, "", "PodLogOptions");
            return;
        }
        var podInfo = cluster.Store.Read<V1Pod, (List<string> Init, List<string> Main, Dictionary<string, string> Waiting, bool Bound)>("pods", ns, podName, pod => (
            pod.Spec.InitContainers?.Select(c => c.Name).ToList() ?? [],
            pod.Spec.Containers.Select(c => c.Name).ToList(),
            (pod.Status.InitContainerStatuses ?? []).Concat(pod.Status.ContainerStatuses ?? [])
                .Where(s => s.State?.Waiting is not null)
                .ToDictionary(s => s.Name, s => s.State.Waiting.Reason ?? ""),
            pod.Spec.NodeName is not null));
        if (podInfo.Main is null)
        {
            await NotFoundAsync(context, "pods", "", podName);
            return;
        }
        var container = query["container"].ToString();
        if (container.Length == 0)
        {
            if (podInfo.Main.Count != 1)
            {
                await StatusAsync(context, 400, "BadRequest",
                    $"a container name must be specified for pod {podName}, choose one of: [{string.Join(" ", podInfo.Main)}]");
                return;
            }
            container = podInfo.Main[0];
        }
        if (!podInfo.Init.Contains(container) && !podInfo.Main.Contains(container))
        {
            await StatusAsync(context, 400, "BadRequest", $"container {container} is not valid for pod {podName}");
            return;
        }
        if (TakeBrokenLogRead(container))
        {
            context.Abort();
            return;
        }
        if (!podInfo.Bound)
        {
            // No node, so no kubelet to ask: the real server answers an empty log.
            context.Response.StatusCode = 200;
            context.Response.ContentType = "text/plain";
            return;
        }
        var id = cluster.Pod(ns, podName)?.StartedContainer(container);
        if (id is null)
        {
            var reason = podInfo.Waiting.TryGetValue(container, out var r) ? r : "PodInitializing";
            await StatusAsync(context, 400, "BadRequest", $"container \"{container}\" in pod \"{podName}\" is waiting to start: {reason}");
            return;
        }
        var parameters = new ContainerLogsParameters
        {
            ShowStdout = logStream != "Stderr",
            ShowStderr = logStream != "Stdout",
            Follow = IsTrue(query["follow"]),
            Timestamps = IsTrue(query["timestamps"]),
        };
        if (query["sinceTime"].ToString() is { Length: > 0 } sinceTime)
        {
            if (!DateTimeOffset.TryParse(sinceTime, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var since))
            {
                await StatusAsync(context, 400, "BadRequest", $"invalid sinceTime \"{sinceTime}\"");
                return;
            }
            parameters.Since = UnixTime(since, sinceTime);
        }
        else if (long.TryParse(query["sinceSeconds"], CultureInfo.InvariantCulture, out var sinceSeconds))
        {
            parameters.Since = cluster.Time.GetUtcNow().AddSeconds(-sinceSeconds).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        }
        if (query["tailLines"].ToString() is { Length: > 0 } tail) parameters.Tail = tail;

        var drop = DropToken();
        MultiplexedStream stream;
        try
        {
            stream = await cluster.Docker.Containers.GetContainerLogsAsync(id, parameters, context.RequestAborted);
        }
        catch (DockerApiException e)
        {
            await StatusAsync(context, 400, "BadRequest", $"container \"{container}\" in pod \"{podName}\": {e.Message}");
            return;
        }
        using (stream)
        {
            var response = context.Response;
            response.StatusCode = 200;
            response.ContentType = "text/plain";
            await response.StartAsync(context.RequestAborted);
            var buffer = new byte[64 * 1024];
            try
            {
                await StreamAsync(context, drop, async cancel =>
                {
                    while (true)
                    {
                        var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancel);
                        if (read.EOF) break;
                        await response.Body.WriteAsync(buffer.AsMemory(0, read.Count), cancel);
                        await response.Body.FlushAsync(cancel);
                    }
                });
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or DockerApiException)
            {
                // The client left, or the container was removed under the stream: the log ends there.
            }
        }
    }

    /// <summary>Docker's "since" as seconds.nanoseconds, keeping the nanoseconds a RFC3339Nano time carries.</summary>
    private static string UnixTime(DateTimeOffset since, string text)
    {
        var seconds = since.ToUnixTimeSeconds();
        var fraction = FractionRegex().Match(text) is { Success: true } m ? m.Groups[1].Value.PadRight(9, '0')[..9] : "000000000";
        return $"{seconds}.{fraction}";
    }

    [GeneratedRegex(@"T\d\d:\d\d:\d\d\.(\d+)")]
    private static partial Regex FractionRegex();

    private static async Task<(LabelSelector Labels, LabelSelector Fields)?> SelectorsAsync(HttpContext context)
    {
        var query = context.Request.Query;
        if (!LabelSelector.TryParse(query["labelSelector"], out var labels, out var error)
            || !LabelSelector.TryParse(query["fieldSelector"], out var fields, out error))
        {
            await StatusAsync(context, 400, "BadRequest", error);
            return null;
        }
        return (labels, fields);
    }

    private static bool IsTrue(string? value) => value is "true" or "1" or "True";

    private static async Task<string> ReadBodyAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        return await reader.ReadToEndAsync(context.RequestAborted);
    }

    private static async Task JsonAsync(HttpContext context, int code, string json)
    {
        context.Response.StatusCode = code;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json, context.RequestAborted);
    }

    private static Task NotFoundAsync(HttpContext context, string resource, string group, string name) =>
        StatusAsync(context, 404, "NotFound", $"{resource}{(group.Length > 0 ? "." + group : "")} \"{name}\" not found", name, group, resource);

    private static Task StatusAsync(HttpContext context, int code, string reason, string message,
        string? name = null, string? group = null, string? kind = null) =>
        JsonAsync(context, code, StatusBody.Failure(code, reason, message, name, group, kind));
}

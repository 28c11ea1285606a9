using System.Globalization;
using Jobplane.Api;
using Jobplane.Store;

namespace Jobplane.Controller.Http;

/// <summary>Documented bounds on everything a client sends, checked before anything is written.</summary>
public static class Limits
{
    public const int MaxNameLength = 200;
    public const int MaxImageLength = 500;
    public const int MaxCommandArgs = 1000;
    public const int MaxCommandArgLength = 64 * 1024;
    public const int MaxTimeoutSeconds = 7 * 24 * 3600;
    public const int MaxAttempts = 100;
    public const int MaxPageSize = 1000;
    public const int MaxLogPageSize = 5000;
    /// <summary>
    /// The deepest ?offset= a list accepts: the database reads and throws away every skipped row, so
    /// deeper pages cost ever more. cursor (keyset) paging reaches any depth at the cost of the first page.
    /// </summary>
    public const int MaxOffset = 10_000;
    public const int MaxDequeueBatch = 1000;
    public const int MaxBatchRun = 10_000;
    public const int MaxWeight = 1000;
    public const int MaxCredentialTenants = 1000;
    public const int MinMemoryMib = 6;
    public const int MaxMemoryMib = 1024 * 1024;
    public const double MinCpus = 0.01;
    public const double MaxCpus = 1024;
    public const int MaxPids = 1_000_000;
    public const int MaxLogLinesPerRequest = 20_000;
    /// <summary>The largest body any route accepts (log batches); Kestrel refuses anything larger outright.</summary>
    public const long MaxRequestBodyBytes = 8 * 1024 * 1024;

    // Per-route request body limits.
    /// <summary>Tenants, keys, credentials, runs, cancels, DLQ operations.</summary>
    public const long SmallBodyBytes = 16 * 1024;
    /// <summary>Routes without a body of their own that still accept an optional one.</summary>
    public const long DefaultBodyBytes = 64 * 1024;
    /// <summary>Job definitions (the command line is the large part).</summary>
    public const long JobBodyBytes = 1024 * 1024;
    /// <summary>Worker calls naming many leases: dequeue, heartbeats.</summary>
    public const long WorkerBodyBytes = 1024 * 1024;
    /// <summary>An attempt's result: result.json (at most 1 MiB) plus its JSON escaping and the error text.</summary>
    public const long ResultBodyBytes = 4 * 1024 * 1024;
    /// <summary>A batch of results: workers keep a batch near 1 MiB and send a larger result on its own (through the single route); this leaves room for escaping.</summary>
    public const long ResultBatchBodyBytes = 8 * 1024 * 1024;
    public const int MaxResultsPerBatch = 1000;
    /// <summary>One batch of log lines.</summary>
    public const long LogBodyBytes = MaxRequestBodyBytes;

    public static string Describe(long bytes) =>
        bytes % (1024 * 1024) == 0 ? $"{bytes / (1024 * 1024)} MiB" : bytes % 1024 == 0 ? $"{bytes / 1024} KiB" : $"{bytes} bytes";
}

/// <summary>Small validators that return the first problem as a message naming the field.</summary>
public static class Validate
{
    public static string? Name(string? value, string field, int max = Limits.MaxNameLength)
    {
        if (string.IsNullOrWhiteSpace(value)) return $"{field} is required";
        if (value.Length > max) return $"{field} must be at most {max} characters (got {value.Length})";
        if (value.Any(char.IsControl)) return $"{field} must not contain control characters";
        return StorableText.Problem(value, field);
    }

    /// <summary>
    /// A job's image: <c>exec</c>, or a reference the Docker engine can read (see <see cref="ImageReference"/>).
    /// One the engine cannot read could never run; it used to fail each attempt at the worker instead.
    /// </summary>
    public static string? Image(string? value)
    {
        if (Name(value, "image", Limits.MaxImageLength) is { } problem) return problem;
        var image = value!.Trim();
        if (image == RuntimeClasses.ExecImage || ImageReference.TryParse(image, out _, out var invalid)) return null;
        return $"image '{image}' is not a valid image reference: {invalid}";
    }

    public static string? Range(int? value, string field, int min, int max) =>
        value is { } v && (v < min || v > max) ? $"{field} must be between {min} and {max} (got {v})" : null;

    public static string? Command(IReadOnlyList<string>? command)
    {
        if (command is null) return null;
        if (command.Count > Limits.MaxCommandArgs) return $"command must have at most {Limits.MaxCommandArgs} arguments (got {command.Count})";
        for (var i = 0; i < command.Count; i++)
        {
            if (command[i] is null) return $"command[{i}] must be a string, not null";
            if (command[i].Length > Limits.MaxCommandArgLength) return $"command[{i}] must be at most {Limits.MaxCommandArgLength} characters";
            if (StorableText.Problem(command[i], $"command[{i}]") is { } problem) return problem;
        }
        return null;
    }

    public static string? RetryPolicy(double? backoffBase, double? backoffMax, IReadOnlyList<int>? permanentCodes)
    {
        if (backoffBase is { } b && (b <= 0 || b > MaxBackoffSeconds || double.IsNaN(b)))
            return $"retry_backoff_base must be a number of seconds above 0 and at most {MaxBackoffSeconds} (got {b})";
        if (backoffMax is { } m && (m <= 0 || m > MaxBackoffSeconds || double.IsNaN(m)))
            return $"retry_backoff_max must be a number of seconds above 0 and at most {MaxBackoffSeconds} (got {m})";
        if (backoffBase is { } bb && backoffMax is { } mm && bb > mm)
            return $"retry_backoff_base ({bb}) must not exceed retry_backoff_max ({mm})";
        if (permanentCodes is not null)
        {
            if (permanentCodes.Count > 255) return "non_retryable_exit_codes must have at most 255 entries";
            foreach (var code in permanentCodes)
            {
                if (code is < 1 or > 255) return $"non_retryable_exit_codes entries must be exit codes 1..255 (got {code})";
            }
        }
        return null;
    }

    private const double MaxBackoffSeconds = 7 * 24 * 3600;

    /// <summary>
    /// The bounds of what a job may ask for. Wide on purpose: the real bound is each worker's own
    /// maximum (DOCKER_*_MAX), which refuses an attempt asking for more. The lower bounds are what
    /// an engine accepts at all (Docker refuses less than 6 MiB of memory).
    /// </summary>
    public static string? Resources(JobResources? resources)
    {
        if (resources is null) return null;
        if (Range(resources.MemoryMib, "resources.memory_mib", Limits.MinMemoryMib, Limits.MaxMemoryMib) is { } memory) return memory;
        if (resources.Cpus is { } cpus && !(double.IsFinite(cpus) && cpus >= Limits.MinCpus && cpus <= Limits.MaxCpus))
            return string.Create(CultureInfo.InvariantCulture, $"resources.cpus must be a number of CPUs between {Limits.MinCpus} and {Limits.MaxCpus} (got {cpus})");
        return Range(resources.Pids, "resources.pids", 1, Limits.MaxPids);
    }

    public static bool TryPage(HttpRequest request, int defaultLimit, int maxLimit, out int limit, out int offset, out IResult? error)
    {
        limit = defaultLimit;
        offset = 0;
        error = null;
        var l = request.Query["limit"].ToString();
        var o = request.Query["offset"].ToString();
        if (l.Length > 0 && (!int.TryParse(l, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > maxLimit))
        {
            error = ApiResults.BadRequest($"limit must be an integer between 1 and {maxLimit} (got '{l}')");
            return false;
        }
        if (o.Length > 0 && (!int.TryParse(o, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out offset) || offset < 0))
        {
            error = ApiResults.BadRequest($"offset must be a non-negative integer (got '{o}')");
            return false;
        }
        if (offset > Limits.MaxOffset)
        {
            error = ApiResults.BadRequest($"offset must be at most {Limits.MaxOffset} (got {offset}): page deeper with cursor, the next_cursor of the previous page");
            return false;
        }
        return true;
    }

    /// <summary>
    /// ?limit=, ?offset= (at most <see cref="Limits.MaxOffset"/>) and ?cursor= of a list ordered by
    /// (timestamp, id): a cursor not of this list, or given with an offset, is a 400 naming it.
    /// </summary>
    public static bool TryListPage(HttpRequest request, int defaultLimit, int maxLimit, char list, out PageRequest page, out IResult? error)
    {
        page = new PageRequest(defaultLimit);
        if (!TryPage(request, defaultLimit, maxLimit, out var limit, out var offset, out error)) return false;
        if (!TryCursorText(request, offset, out var text, out error)) return false;
        PagePosition? after = null;
        if (text is not null && !PageCursor.TryDecode(text, list, out after, out var problem))
        {
            error = ApiResults.BadRequest(problem!);
            return false;
        }
        page = new PageRequest(limit, offset, after);
        return true;
    }

    /// <summary>The raw ?cursor=, null when absent; refused together with a non-zero offset (two starting points).</summary>
    public static bool TryCursorText(HttpRequest request, int offset, out string? text, out IResult? error)
    {
        error = null;
        text = null;
        var values = request.Query["cursor"];
        if (values.Count == 0) return true;
        if (values.Count > 1 || string.IsNullOrEmpty(values[0]))
        {
            error = ApiResults.BadRequest("cursor must be given once, as the next_cursor of a previous page");
            return false;
        }
        if (offset != 0)
        {
            error = ApiResults.BadRequest("cursor and offset cannot be combined: a cursor already says where the page starts");
            return false;
        }
        text = values[0];
        return true;
    }

}

using System.Text.Json;
using Jobplane.Api;

namespace Jobplane.Client;

/// <summary>A decoded response together with the JSON exactly as the controller sent it (for -o json).</summary>
public sealed record ApiResponse<T>(T Value, JsonElement Raw)
{
    /// <summary>The next page's cursor a bare-array list sends in a header (X-Next-Cursor); null otherwise.</summary>
    public string? NextCursor { get; init; }
}

/// <summary>One event of a followed log stream: a log line, the final end marker, or a request to reconnect.</summary>
public sealed record LogStreamEvent(LogEntry? Entry, JsonElement? RawEntry, LogStreamEnd? End)
{
    /// <summary>The controller ended the stream on its time limit: reconnect and resume after the last id.</summary>
    public LogStreamReconnect? Reconnect { get; init; }
}

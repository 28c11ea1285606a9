using System.Globalization;
using System.Text;
using k8s.Autorest;

namespace Jobplane.Worker.Runtimes.Kubernetes;

/// <summary>
/// Follows the job container's log through the API server (pods/log with follow and timestamps)
/// and hands its lines to the sink as they are produced. Each line carries the kubelet's
/// timestamp, which is the cursor: when the stream breaks (a dropped connection, an API server
/// restart) it is opened again from the last timestamp seen, and the lines the server sends again
/// (sinceTime is inclusive, and several lines can share a timestamp) are skipped by count, so
/// nothing is lost or repeated. Kubernetes merges stdout and stderr into one log unless the cluster
/// serves the stream parameter (PodLogsQuerySplitStreams); with <c>splitStreams</c> each stream is
/// followed on its own, otherwise every line is reported as stdout.
/// </summary>
internal sealed class PodOutput : OutputPump
{
    private const int ReadBytes = 64 * 1024;
    /// <summary>A timestamp prefix longer than this is not one: RFC3339 with nanoseconds is 35 characters.</summary>
    private const int MaxTimestampBytes = 64;
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromMilliseconds(200);

    private readonly PodApi _api;
    private readonly string _pod;
    private readonly Func<bool> _containerEnded;
    private readonly TimeProvider _time;

    /// <param name="containerEnded">Whether the job's container has terminated: a log stream that ends before it did is opened again.</param>
    public PodOutput(PodApi api, string pod, bool splitStreams, Func<bool> containerEnded, ILogSink sink, int maxLineChars, TimeProvider time)
        : base(sink, maxLineChars)
    {
        _api = api;
        _pod = pod;
        _containerEnded = containerEnded;
        _time = time;
        if (splitStreams) Start(() => FollowAsync(LogStream.Stdout, "Stdout"), () => FollowAsync(LogStream.Stderr, "Stderr"));
        else Start(() => FollowAsync(LogStream.Stdout, null));
    }

    private async Task FollowAsync(LogStream stream, string? streamParameter)
    {
        var reader = new TimestampedLines(LinesOf(stream));
        // Once the container has ended and a follow came to its end, the log is read once more without
        // following, from the cursor: a follow can end before the last lines were sent (the log source
        // closing it as the container stops), and a plain read of an ended container's log is complete.
        var final = false;
        while (true)
        {
            var broken = false;
            try
            {
                await using var body = await _api.OpenLogAsync(_pod, JobManifest.JobContainer, follow: !final, streamParameter, reader.Since, Abandoned);
                var buffer = new byte[ReadBytes];
                int read;
                while ((read = await body.ReadAsync(buffer, Abandoned)) > 0)
                {
                    Progressed();
                    reader.Append(buffer.AsSpan(0, read));
                }
            }
            catch (Exception e) when (!Abandoned.IsCancellationRequested && PodApi.IsTransient(e))
            {
                broken = true;
            }
            catch (HttpOperationException) when (!Abandoned.IsCancellationRequested)
            {
                // No log to open: the container is not running yet (a moment after the pod said it
                // is), or it ended and was removed with its pod (a stop, a lost lease). The latter is the end.
                broken = !_containerEnded();
                if (!broken)
                {
                    reader.Flush();
                    return;
                }
            }
            if (!broken && final)
            {
                reader.Flush();
                return;
            }
            // A follow ends by itself once the container has terminated and its log was sent; a stream
            // that ended (or broke) before that is opened again from the cursor.
            reader.Interrupted();
            if (!broken && _containerEnded())
            {
                final = true;
                continue;
            }
            await Task.Delay(ReconnectDelay, _time, Abandoned);
        }
    }

    /// <summary>
    /// "TIMESTAMP text\n" lines to the line splitter, keeping the cursor: the last timestamp seen
    /// and how many lines carried it. Text is passed on as it arrives, so a line of any length
    /// streams through in pieces.
    /// </summary>
    private sealed class TimestampedLines(LineSplitter lines)
    {
        private readonly Decoder _decoder = Utf8.GetDecoder();
        private readonly char[] _chars = new char[Utf8.GetMaxCharCount(ReadBytes)];
        private readonly byte[] _stamp = new byte[MaxTimestampBytes];
        private int _stampLength;
        private bool _inText;
        /// <summary>The current line is one the server sent again after a reconnect: its text is dropped.</summary>
        private bool _skipping;
        private LogTimestamp? _last;
        private string? _lastText;
        private int _seenAtLast;
        /// <summary>After a reconnect: how many lines stamped <see cref="_last"/> are still to be skipped.</summary>
        private int _toSkipAtLast;
        private bool _resumed;
        /// <summary>Bytes of the current line's text passed on so far.</summary>
        private long _lineBytes;
        /// <summary>After a break in the middle of a line: how many bytes of its resent copy went out already.</summary>
        private long _resumeAt;
        private long _cutLineBytes;

        /// <summary>sinceTime for the next request: the last timestamp seen, as the server wrote it.</summary>
        public string? Since => _lastText;

        public void Append(ReadOnlySpan<byte> bytes)
        {
            while (!bytes.IsEmpty)
            {
                if (!_inText)
                {
                    var space = bytes.IndexOf((byte)' ');
                    var take = space < 0 ? bytes.Length : space;
                    if (_stampLength + take > MaxTimestampBytes)
                        throw new InvalidDataException("the pod's log has a line without a timestamp");
                    bytes[..take].CopyTo(_stamp.AsSpan(_stampLength));
                    _stampLength += take;
                    if (space < 0) return;
                    bytes = bytes[(space + 1)..];
                    BeginLine();
                    continue;
                }
                var newline = bytes.IndexOf((byte)'\n');
                var text = newline < 0 ? bytes : bytes[..(newline + 1)];
                if (_resumeAt > 0)
                {
                    // The line that was cut: its first bytes went out before the break.
                    var skip = (int)Math.Min(_resumeAt, newline < 0 ? text.Length : newline);
                    _resumeAt -= skip;
                    _lineBytes += skip;
                    text = text[skip..];
                    bytes = bytes[skip..];
                    newline = newline < 0 ? -1 : newline - skip;
                }
                if (!_skipping)
                {
                    var n = _decoder.GetChars(text, _chars, flush: false);
                    lines.Append(_chars.AsSpan(0, n));
                    _lineBytes += newline < 0 ? text.Length : newline;
                }
                if (newline < 0) return;
                _lineBytes = 0;
                _resumeAt = 0;
                _inText = false;
                _stampLength = 0;
                bytes = bytes[(newline + 1)..];
            }
        }

        private void BeginLine()
        {
            _inText = true;
            var text = Encoding.ASCII.GetString(_stamp, 0, _stampLength);
            if (!LogTimestamp.TryParse(text, out var stamp))
                throw new InvalidDataException($"the pod's log has a line with an unreadable timestamp '{text}'");
            _skipping = false;
            if (_resumed && _last is { } last)
            {
                var order = stamp.CompareTo(last);
                if (order < 0 || (order == 0 && _toSkipAtLast > 0))
                {
                    // Sent before: sinceTime is inclusive and may be coarser than the stamps.
                    if (order == 0) _toSkipAtLast--;
                    _skipping = true;
                    return;
                }
                _resumed = false;
                if (order == 0 && _cutLineBytes > 0)
                {
                    // The line the break cut: it is counted already; only its rest goes out.
                    _resumeAt = _cutLineBytes;
                    _cutLineBytes = 0;
                    return;
                }
                _cutLineBytes = 0;
            }
            if (_last is { } previous && stamp.CompareTo(previous) == 0) _seenAtLast++;
            else
            {
                _last = stamp;
                _lastText = text;
                _seenAtLast = 1;
            }
        }

        /// <summary>The stream broke: what follows is a new response that starts again at <see cref="Since"/>.</summary>
        public void Interrupted()
        {
            // A line cut mid-way went out in part: its resent copy goes on from where it was cut.
            // Broken again before anything new arrived: the cursor is still the one from before.
            if (!_resumed) _cutLineBytes = _inText && !_skipping ? _lineBytes : 0;
            _toSkipAtLast = _cutLineBytes > 0 ? _seenAtLast - 1 : _seenAtLast;
            _inText = false;
            _skipping = false;
            _stampLength = 0;
            _lineBytes = 0;
            _resumeAt = 0;
            _resumed = true;
        }

        public void Flush()
        {
            var n = _decoder.GetChars([], _chars, flush: true);
            lines.Append(_chars.AsSpan(0, n));
            lines.Flush();
        }
    }
}

/// <summary>A kubelet log timestamp (RFC3339 with up to nine fractional digits), compared to the nanosecond.</summary>
internal readonly record struct LogTimestamp(long UnixSeconds, int Nanoseconds) : IComparable<LogTimestamp>
{
    public int CompareTo(LogTimestamp other) =>
        UnixSeconds != other.UnixSeconds ? UnixSeconds.CompareTo(other.UnixSeconds) : Nanoseconds.CompareTo(other.Nanoseconds);

    public static bool TryParse(string text, out LogTimestamp stamp)
    {
        stamp = default;
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        var nanos = 0;
        var whole = text;
        if (dot >= 0)
        {
            var end = dot + 1;
            while (end < text.Length && char.IsAsciiDigit(text[end])) end++;
            var digits = text[(dot + 1)..end];
            if (digits.Length is 0 or > 9) return false;
            nanos = int.Parse(digits.PadRight(9, '0'), NumberStyles.None, CultureInfo.InvariantCulture);
            whole = text[..dot] + text[end..];
        }
        if (!DateTimeOffset.TryParseExact(whole, ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss'Z'"], CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal, out var seconds))
            return false;
        stamp = new LogTimestamp(seconds.ToUnixTimeSeconds(), nanos);
        return true;
    }
}

namespace Jobplane.Worker.Runtimes;

/// <summary>
/// Turns a stream of characters into log lines: split on '\n' (a trailing '\r' is dropped), a line
/// longer than the limit is emitted in pieces of exactly the limit, and whatever is left at the end
/// of the stream is emitted as a last line. Memory is bounded by the limit whatever the job writes.
/// </summary>
internal sealed class LineSplitter
{
    /// <summary>Where a line starts: most log lines are shorter, and a buffer of the limit (64 K characters
    /// by default, so 128 KB, twice per attempt) for every short job was most of what it allocated.</summary>
    private const int InitialChars = 256;

    private readonly int _max;
    private char[] _line;
    private readonly Action<string> _emit;
    private int _length;
    /// <summary>The current line has already been emitted in part.</summary>
    private bool _continued;

    public LineSplitter(int maxLineChars, Action<string> emit)
    {
        // Two characters at least, so that a piece never has to split a surrogate pair in half.
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineChars, 2);
        _max = maxLineChars;
        _line = new char[Math.Min(maxLineChars, InitialChars)];
        _emit = emit;
    }

    public void Append(ReadOnlySpan<char> chunk)
    {
        while (!chunk.IsEmpty)
        {
            var newline = chunk.IndexOf('\n');
            var segment = newline < 0 ? chunk : chunk[..newline];
            while (!segment.IsEmpty)
            {
                // A full buffer is only emitted once more text of the same line arrives, so a line
                // of exactly the limit followed by '\n' stays one line (with its '\r' stripped).
                if (_length == _line.Length)
                {
                    // Grown by doubling up to the limit; only a line longer than the limit is cut.
                    if (_line.Length < _max) Array.Resize(ref _line, Math.Min(_max, _line.Length * 2));
                    else EmitPiece();
                }
                var n = Math.Min(_line.Length - _length, segment.Length);
                segment[..n].CopyTo(_line.AsSpan(_length));
                _length += n;
                segment = segment[n..];
            }
            if (newline < 0) return;
            var end = _length > 0 && _line[_length - 1] == '\r' ? _length - 1 : _length;
            // A "\r\n" that straddles a piece boundary leaves only the '\r' here: the line has
            // already been delivered in full, there is no empty line to report.
            if (end > 0 || !_continued) _emit(new string(_line, 0, end));
            _length = 0;
            _continued = false;
            chunk = chunk[(newline + 1)..];
        }
    }

    /// <summary>End of stream: emit the unterminated last line, if any.</summary>
    public void Flush()
    {
        if (_length == 0) return;
        _emit(new string(_line, 0, _length));
        _length = 0;
        _continued = false;
    }

    private void EmitPiece()
    {
        // Keep a high surrogate with its low half: emit one character less and carry it over.
        var take = char.IsHighSurrogate(_line[^1]) ? _line.Length - 1 : _line.Length;
        _emit(new string(_line, 0, take));
        var rest = _line.Length - take;
        if (rest > 0) _line[0] = _line[^1];
        _length = rest;
        _continued = true;
    }
}

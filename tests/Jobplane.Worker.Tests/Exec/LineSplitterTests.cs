using Jobplane.Worker.Runtimes;

namespace Jobplane.Worker.Tests.Exec;

public sealed class LineSplitterTests
{
    private static List<string> Split(int max, params string[] chunks)
    {
        var lines = new List<string>();
        var splitter = new LineSplitter(max, lines.Add);
        foreach (var chunk in chunks) splitter.Append(chunk);
        splitter.Flush();
        return lines;
    }

    [Fact]
    public void Lines_split_across_chunks_are_joined() =>
        Assert.Equal(["hello", "world"], Split(100, "hel", "lo\nwo", "rld\n"));

    [Fact]
    public void A_carriage_return_that_falls_past_the_limit_adds_no_empty_line() =>
        Assert.Equal(["abcd", "ef"], Split(4, "abcd\r", "\nef"));

    [Fact]
    public void Long_lines_come_in_pieces_of_the_limit() =>
        Assert.Equal(["abc", "def", "g", "x"], Split(3, "abcdefg\nx"));

    [Fact]
    public void A_piece_never_splits_a_surrogate_pair()
    {
        var lines = Split(3, "ab\U0001F680cd\n");

        Assert.Equal(["ab", "\U0001F680c", "d"], lines);
    }

    [Fact]
    public void Nothing_is_emitted_for_an_empty_stream() => Assert.Empty(Split(8));
}

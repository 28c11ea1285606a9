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
    public void Lines_longer_than_the_first_buffer_are_whole_up_to_the_limit_and_cut_only_past_it()
    {
        // The buffer starts small and grows: a line of 700 characters in 7-character chunks is one line,
        // and one of 2,500 with a limit of 1,000 comes in pieces of exactly 1,000.
        var medium = new string('m', 700);
        var longLine = string.Concat(Enumerable.Range(0, 2500).Select(i => (char)('a' + i % 26)));
        var text = medium + "\r\n" + longLine + "\nend";
        var chunks = Enumerable.Range(0, (text.Length + 6) / 7).Select(i => text.Substring(i * 7, Math.Min(7, text.Length - i * 7))).ToArray();
        Assert.Equal([medium, longLine[..1000], longLine[1000..2000], longLine[2000..], "end"], Split(1000, chunks));
    }

    [Fact]
    public void A_piece_never_splits_a_surrogate_pair()
    {
        var lines = Split(3, "ab\U0001F680cd\n");

        Assert.Equal(["ab", "\U0001F680c", "d"], lines);
    }

    [Fact]
    public void Nothing_is_emitted_for_an_empty_stream() => Assert.Empty(Split(8));
}

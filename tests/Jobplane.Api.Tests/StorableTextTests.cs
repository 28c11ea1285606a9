using System.Text;
using Jobplane.Api;

namespace Jobplane.Api.Tests;

public sealed class StorableTextTests
{
    private const string Emoji = "\U0001F600"; // a surrogate pair: 2 UTF-16 units, 4 UTF-8 bytes

    /// <summary>Encodes strictly, as Npgsql does: throws on anything UTF-8 cannot hold.</summary>
    private static readonly UTF8Encoding Strict = new(false, true);

    private static void AssertStorable(string text)
    {
        Assert.True(StorableText.IsStorable(text), $"not storable: {Escape(text)}");
        Strict.GetBytes(text);
        Assert.DoesNotContain('\0', text);
    }

    private static string Escape(string s) => string.Concat(s.Select(c => c is < ' ' or > '~' ? $"\\u{(int)c:x4}" : c.ToString()));

    [Fact]
    public void Text_already_storable_is_returned_as_it_is()
    {
        var text = "héllo " + Emoji + " wörld";
        Assert.Same(text, StorableText.Clean(text));
        Assert.Same(text, StorableText.Clean(text, maxChars: text.Length));
        Assert.Same(text, StorableText.Clean(text, maxUtf8Bytes: Encoding.UTF8.GetByteCount(text)));
    }

    [Fact]
    public void The_reproduction_cut_never_splits_the_surrogate_pair()
    {
        // "cannot start '/aaaa…😀'": the pair straddles 8192, where the old cut fell.
        var error = "cannot start '/" + new string('a', 8176) + Emoji + "': no such file";
        var at = error.IndexOf(Emoji, StringComparison.Ordinal);
        var clean = StorableText.Clean(error, at + 1 + StorableText.CutMarker.Length);
        AssertStorable(clean);
        Assert.EndsWith(StorableText.CutMarker, clean, StringComparison.Ordinal);
        Assert.Equal(error[..at] + StorableText.CutMarker, clean);
    }

    [Theory]
    [InlineData(-1)] // the pair ends one before the limit
    [InlineData(0)]  // the pair ends exactly at the limit
    [InlineData(1)]  // the limit falls between its halves
    [InlineData(2)]  // the pair begins at the limit
    public void Cuts_around_a_surrogate_pair_keep_it_whole_or_drop_it(int overBy)
    {
        var prefix = new string('x', 50);
        var text = prefix + Emoji + new string('y', 50);
        var limit = prefix.Length + 2 - overBy + StorableText.CutMarker.Length;
        var clean = StorableText.Clean(text, limit);
        AssertStorable(clean);
        Assert.True(clean.Length <= limit, $"{clean.Length} > {limit}");
        var body = clean[..^StorableText.CutMarker.Length];
        Assert.Equal(overBy <= 0 ? prefix + Emoji + new string('y', -overBy) : prefix, body);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public void A_byte_bound_counts_utf8_and_never_splits_a_four_byte_character(int maxBytes)
    {
        var text = string.Concat(Enumerable.Repeat(Emoji, 10));
        var clean = StorableText.Clean(text, maxUtf8Bytes: maxBytes);
        AssertStorable(clean);
        Assert.True(Encoding.UTF8.GetByteCount(clean) <= maxBytes);
        // The marker takes 9 bytes: one 4-byte character fits before it from 13 bytes on.
        Assert.Equal(maxBytes >= 13 ? Emoji + StorableText.CutMarker : StorableText.CutMarker, clean);
    }

    [Fact]
    public void At_one_under_and_one_over_a_character_limit()
    {
        var limit = 100;
        Assert.Equal(new string('a', limit - 1), StorableText.Clean(new string('a', limit - 1), limit));
        Assert.Equal(new string('a', limit), StorableText.Clean(new string('a', limit), limit));
        var over = StorableText.Clean(new string('a', limit + 1), limit);
        Assert.Equal(limit, over.Length);
        Assert.EndsWith(StorableText.CutMarker, over, StringComparison.Ordinal);
    }

    // Lone surrogates cannot live in attribute arguments (metadata stores them as UTF-8): built in code.
    private static readonly (string Text, string Expected)[] Invalid =
    [
        ("a\ud800b", "a\ufffdb"),         // lone high surrogate
        ("a\udc00b", "a\ufffdb"),         // lone low surrogate
        ("\udc00\ud800", "\ufffd\ufffd"),  // a pair in the wrong order is two lone halves
        ("end\ud83d", "end\ufffd"),       // a high surrogate at the very end
        ("\ude00start", "\ufffdstart"),   // a low surrogate at the very start
        ("a\0b\0", "a\ufffdb\ufffd"),     // NUL
        ("\0", "\ufffd"),
    ];

    public static TheoryData<int> InvalidCases => [.. Enumerable.Range(0, Invalid.Length)];

    [Theory]
    [MemberData(nameof(InvalidCases))]
    public void Lone_surrogates_and_nul_become_the_replacement_character(int index)
    {
        var (text, expected) = Invalid[index];
        Assert.False(StorableText.IsStorable(text));
        var clean = StorableText.Clean(text);
        AssertStorable(clean);
        Assert.Equal(expected, clean);
    }

    [Fact]
    public void A_replaced_character_counts_as_three_bytes_against_a_byte_bound()
    {
        var clean = StorableText.Clean(new string('\ud800', 10), maxUtf8Bytes: 15);
        AssertStorable(clean);
        Assert.True(Encoding.UTF8.GetByteCount(clean) <= 15);
        Assert.Equal("\ufffd\ufffd" + StorableText.CutMarker, clean);
    }

    [Fact]
    public void Random_utf16_always_comes_out_storable_and_within_bounds()
    {
        var seed = 4242;
        var random = new Random(seed);
        char[] alphabet = ['a', 'é', '\0', '\ud800', '\udbff', '\udc00', '\udfff', '\ud83d', '\ude00', '\uffff', '\u20ac'];
        for (var n = 0; n < 5000; n++)
        {
            var text = new string(Enumerable.Range(0, random.Next(0, 40)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            var maxChars = random.Next(StorableText.CutMarker.Length, 50);
            var maxBytes = random.Next(StorableText.CutMarker.Length, 120);
            var clean = StorableText.Clean(text, maxChars, maxBytes);
            Assert.True(StorableText.IsStorable(clean), $"seed {seed}, case {n}: {Escape(text)} -> {Escape(clean)}");
            Assert.True(clean.Length <= maxChars, $"seed {seed}, case {n}: {clean.Length} chars > {maxChars}");
            Assert.True(Strict.GetByteCount(clean) <= maxBytes, $"seed {seed}, case {n}: over {maxBytes} bytes");
        }
    }

    [Fact]
    public void Problem_names_the_field_and_the_place()
    {
        Assert.Null(StorableText.Problem("ok " + Emoji, "name"));
        Assert.Equal("name must not contain NUL characters (\\u0000, at index 1)", StorableText.Problem("a\0", "name"));
        Assert.Equal("name must be valid Unicode text: it has an unpaired surrogate (\\ud800) at index 1", StorableText.Problem("x\ud800", "name"));
    }
}

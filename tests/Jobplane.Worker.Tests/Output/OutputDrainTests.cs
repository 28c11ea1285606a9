using System.Collections.Concurrent;
using Jobplane.Worker.Runtimes;

namespace Jobplane.Worker.Tests.Output;

/// <summary>
/// Draining output after a container ended: a stream that is slow but still delivering is read to
/// its end (a busy machine reading a large log), a stream that delivers nothing for a whole limit is
/// abandoned (a stuck connection), and without the allowance the limit alone decides, as before.
/// </summary>
public sealed class OutputDrainTests
{
    private sealed class Sink : ILogSink
    {
        public ConcurrentQueue<string> Lines { get; } = new();
        public void Write(LogStream stream, string line) => Lines.Enqueue(line);
    }

    /// <summary>Delivers <paramref name="lines"/> lines, one every <paramref name="every"/>, then ends (or hangs, when told).</summary>
    private sealed class Trickle : OutputPump
    {
        public Trickle(ILogSink sink, int lines, TimeSpan every, bool hangAfter = false) : base(sink, 1000)
        {
            Start(async () =>
            {
                var splitter = LinesOf(LogStream.Stdout);
                for (var i = 0; i < lines; i++)
                {
                    await Task.Delay(every, Abandoned);
                    splitter.Append($"line {i}\n");
                }
                if (hangAfter) await Task.Delay(Timeout.Infinite, Abandoned);
            });
        }
    }

    [Fact]
    public async Task Output_still_arriving_when_the_limit_passes_is_read_to_its_end()
    {
        var sink = new Sink();
        // Three seconds of output against a one-second limit: the limit passes while lines still
        // arrive. The gap between lines (100 ms) is a tenth of the limit, so only a stall of a whole
        // second on a loaded machine looks like a stream that stopped (50 ms against 200 ms did not hold).
        var pump = new Trickle(sink, lines: 30, every: TimeSpan.FromMilliseconds(100));
        Assert.True(await pump.DrainAsync(TimeSpan.FromSeconds(1), TimeProvider.System, whileArriving: TimeSpan.FromMinutes(1)));
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"line {i}"), sink.Lines);
    }

    [Fact]
    public async Task Without_the_allowance_the_limit_alone_decides()
    {
        var sink = new Sink();
        var pump = new Trickle(sink, lines: 40, every: TimeSpan.FromMilliseconds(50));
        Assert.False(await pump.DrainAsync(TimeSpan.FromMilliseconds(200), TimeProvider.System));
        Assert.True(sink.Lines.Count < 40, $"{sink.Lines.Count} lines: reading was not abandoned");
    }

    [Fact]
    public async Task A_stream_that_stops_delivering_is_abandoned_after_one_quiet_limit()
    {
        var sink = new Sink();
        var pump = new Trickle(sink, lines: 3, every: TimeSpan.FromMilliseconds(20), hangAfter: true);
        Assert.False(await pump.DrainAsync(TimeSpan.FromMilliseconds(300), TimeProvider.System, whileArriving: TimeSpan.FromMinutes(1)));
        Assert.Equal(3, sink.Lines.Count);
    }
}

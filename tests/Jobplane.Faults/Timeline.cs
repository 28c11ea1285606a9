using System.Diagnostics;
using System.Globalization;

namespace Jobplane.Faults;

/// <summary>
/// The run's two clocks and its console output. Wall-clock instants (CLOCK_REALTIME) are what the
/// checks compare across processes: PostgreSQL's now(), the job's `date +%s%N` and our fault
/// timestamps all read the same kernel clock on this one host. Deadlines and pauses use the
/// monotonic clock, so that a step of the wall clock cannot stretch or cut the run.
/// </summary>
public sealed class Timeline
{
    private readonly long _startTicks = Stopwatch.GetTimestamp();
    private readonly Lock _console = new();

    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    public static DateTimeOffset Now => DateTimeOffset.UtcNow;

    /// <summary>Monotonic time since the run started.</summary>
    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_startTicks);

    /// <summary>How far the wall clock moved differently from the monotonic one during the run (NTP steps).</summary>
    public TimeSpan WallClockDrift => Now - StartedAt - Elapsed;

    public string Offset(DateTimeOffset instant) =>
        string.Create(CultureInfo.InvariantCulture, $"+{(instant - StartedAt).TotalSeconds:0.000}s");

    /// <summary>One line on the console, stamped with the run offset and who speaks.</summary>
    public void Say(string who, string message)
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"[{Offset(Now),10}] {who,-9} {message}");
        lock (_console) Console.WriteLine(line);
    }

    /// <summary>Text printed as is (tables, process log tails), never interleaved with other lines.</summary>
    public void Print(string text)
    {
        lock (_console) Console.WriteLine(text);
    }
}

using System.Globalization;

namespace Jobplane.Faults;

/// <summary>The command line of the suite.</summary>
public sealed record FaultOptions
{
    public const string Usage = """
        usage: dotnet run --project tests/Jobplane.Faults -c Release -- --executions N [options]

          --executions N      executions to submit (required, at least 1)
          --workers W         worker processes, half on each controller (default 4, at least 2)
          --seed S            seed of the nemesis and of the submission order (default: random, printed)
          --json PATH         also write the summary as JSON to PATH
          --submit-seconds S  spread the submissions over S seconds (default: N/5, within 20..120)
          --keep              keep the temporary directory (logs, HISTORY, database) for inspection

        Binaries come from $JOBPLANE_BIN (default <repository>/bin, built by `make build-all`).
        Exit status: 0 when every check holds, 1 when one does not, 2 on a usage or setup error.
        """;

    public required int Executions { get; init; }
    public int Workers { get; init; } = 4;
    public required int Seed { get; init; }
    public string? JsonPath { get; init; }
    public required TimeSpan SubmitPhase { get; init; }
    public bool Keep { get; init; }

    /// <summary>Parses the arguments; throws <see cref="ArgumentException"/> with a message naming the problem.</summary>
    public static FaultOptions Parse(IReadOnlyList<string> args)
    {
        int? executions = null, seed = null;
        var workers = 4;
        string? json = null;
        double? submitSeconds = null;
        var keep = false;
        for (var i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--executions": executions = Int(Value(), "--executions", 1, 1_000_000); break;
                case "--workers": workers = Int(Value(), "--workers", 2, 64); break;
                case "--seed": seed = Int(Value(), "--seed", int.MinValue, int.MaxValue); break;
                case "--json": json = Value(); break;
                case "--submit-seconds": submitSeconds = Int(Value(), "--submit-seconds", 1, 3600); break;
                case "--keep": keep = true; break;
                case "-h" or "--help": throw new ArgumentException("");
                default: throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }
        if (executions is not { } n) throw new ArgumentException("--executions is required");
        return new FaultOptions
        {
            Executions = n,
            Workers = workers,
            // A random seed is still printed, so that a failing run's fault schedule can be replayed.
            Seed = seed ?? Random.Shared.Next(1, 1_000_000),
            JsonPath = json,
            // Long enough for faults to land while work is in flight (0.1 s jobs on 8·W slots would
            // otherwise all be done within seconds), short enough for CI.
            SubmitPhase = TimeSpan.FromSeconds(submitSeconds ?? Math.Clamp(n / 5.0, 20, 120)),
            Keep = keep,
        };
    }

    private static int Int(string text, string name, int min, int max) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max
            ? v
            : throw new ArgumentException($"{name} must be an integer between {min} and {max} (got '{text}')");
}

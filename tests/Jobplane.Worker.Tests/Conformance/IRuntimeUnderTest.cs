using Jobplane.Worker.Runtimes;

namespace Jobplane.Worker.Tests.Conformance;

/// <summary>
/// One runtime as the conformance suite drives it: a private work root and worker id, the
/// supervisor over the runtime's driver, and the few runtime-specific ways of looking at it from
/// outside. A new runtime is tested by writing one of these and one small subclass of
/// <see cref="RuntimeConformanceTests"/>.
/// </summary>
public interface IRuntimeUnderTest : IAsyncDisposable
{
    /// <summary>What the worker would run: the supervisor over this runtime's driver.</summary>
    AttemptSupervisor Runtime { get; }

    string WorkRoot { get; }

    string WorkerId { get; }

    /// <summary>Everything the runtime and its supervisor logged, as formatted messages.</summary>
    IReadOnlyList<string> LogMessages { get; }

    /// <summary>A spec running <paramref name="command"/> (an argument vector) with whatever image this runtime runs it from.</summary>
    RunSpec Spec(IReadOnlyList<string> command, TimeSpan? timeout = null);

    /// <summary>True once nothing of the attempt's unit runs or exists any more (polls for a few seconds).</summary>
    Task<bool> UnitGoneAsync(RunSpec spec);

    /// <summary>Starts a unit labelled as worker <paramref name="workerId"/>'s, as a crashed life of that worker would leave it.</summary>
    Task<ILeftoverUnit> LeaveUnitAsync(string workerId);
}

/// <summary>A unit planted as a crashed worker's leftover; disposing it ends it if the test did not.</summary>
public interface ILeftoverUnit : IAsyncDisposable
{
    /// <summary>What the worker's log says when orphan cleanup ends it ("orphan process 4242").</summary>
    string LoggedAs { get; }

    Task<bool> IsGoneAsync();
}

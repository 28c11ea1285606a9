namespace Jobplane.Faults;

/// <summary>The environment of the run is not what it needs: missing binaries, no PostgreSQL.</summary>
public sealed class SetupException(string message) : Exception(message);

namespace Jobplane.Store;

/// <summary>A write that conflicts with existing state (duplicate name, already retried...).</summary>
public sealed class StoreConflictException(string message) : Exception(message);

/// <summary>The outcome of a call made by a worker about an attempt it believes it is running.</summary>
public enum LeaseCheck
{
    Accepted,
    /// <summary>No such execution.</summary>
    NotFound,
    /// <summary>The execution exists but this lease token no longer holds it (expired and rescued, or finished).</summary>
    LeaseLost,
}

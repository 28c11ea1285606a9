namespace Jobplane.Store;

/// <summary>A write that conflicts with existing state (duplicate name, already retried...).</summary>
public sealed class StoreConflictException(string message) : Exception(message);

/// <summary>A job asks for network access, and its tenant is not allowed network: nothing was written.</summary>
public sealed class NetworkNotAllowedException() : Exception(
    "this job asks for network access (network: true), and its tenant is not allowed network: an administrator must allow network for the tenant (allow_network)");

/// <summary>The outcome of a call made by a worker about an attempt it believes it is running.</summary>
public enum LeaseCheck
{
    Accepted,
    /// <summary>No such execution.</summary>
    NotFound,
    /// <summary>The execution exists but this lease token no longer holds it (expired and rescued, or finished).</summary>
    LeaseLost,
}

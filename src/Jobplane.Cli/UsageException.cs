namespace Jobplane.Cli;

/// <summary>The invocation itself is wrong (bad flag value, missing config file): exit 2, nothing sent.</summary>
internal sealed class UsageException(string message) : Exception(message);

namespace Jobplane.Controller;

/// <summary>
/// Settings the controller cannot start with, every problem named in one message. Its own type, so
/// start-up tells a bad setting from any other failure without reading the message; an
/// <see cref="InvalidOperationException"/>, as the settings' errors were before.
/// </summary>
public sealed class ConfigurationException(string message) : InvalidOperationException(message);

namespace Jobplane.Webhooks;

/// <summary>
/// A delivery was not sent because its destination is refused by the <see cref="DestinationPolicy"/>;
/// the message is the reason. It arrives as the inner exception of the HttpRequestException the
/// client throws, and unlike a network failure, retrying it cannot succeed.
/// </summary>
public sealed class DestinationRefusedException(string reason) : Exception(reason);

using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store;

/// <summary>
/// The worker side of the queue: claim, heartbeat, logs, results, hand-back, and the maintenance that
/// promotes due work and rescues expired leases. Leases are fenced by lease_token: every call about an
/// attempt names its token, and only the attempt holding the execution's current token is heard.
/// Lease expiry is decided by the database clock (now()), never by a controller's or worker's clock.
/// </summary>
public sealed partial class QueueStore(NpgsqlDataSource db);

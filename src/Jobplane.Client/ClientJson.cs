using System.Text.Json;
using System.Text.Json.Serialization;
using Jobplane.Api;

namespace Jobplane.Client;

/// <summary>
/// The shared wire context, but tolerant of fields this client does not know: a client must keep
/// working against a newer controller that adds response fields (the server side stays strict).
/// </summary>
public static class ClientJson
{
    public static readonly JobplaneJsonContext Context = new(new JsonSerializerOptions(JobplaneJsonContext.Default.Options)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    });
}

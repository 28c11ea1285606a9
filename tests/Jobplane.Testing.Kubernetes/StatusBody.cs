using System.Text.Json.Nodes;

namespace Jobplane.Testing.Kubernetes;

/// <summary>
/// A metav1.Status body as the real server writes it. Written by hand: the client's V1Status
/// model reads Status bodies but its converter cannot write one.
/// </summary>
internal static class StatusBody
{
    public static string Failure(int code, string reason, string message, string? name = null, string? group = null, string? kind = null) =>
        Build("Failure", code, reason, message, name, group, kind, uid: null);

    public static string Success(string name, string group, string kind, string uid) =>
        Build("Success", code: null, reason: null, message: null, name, group, kind, uid);

    private static string Build(string status, int? code, string? reason, string? message, string? name, string? group, string? kind, string? uid)
    {
        var body = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = status,
        };
        if (message is not null) body["message"] = message;
        if (reason is not null) body["reason"] = reason;
        if (name is not null || kind is not null)
        {
            var details = new JsonObject();
            if (name is not null) details["name"] = name;
            if (group is { Length: > 0 }) details["group"] = group;
            if (kind is not null) details["kind"] = kind;
            if (uid is not null) details["uid"] = uid;
            body["details"] = details;
        }
        if (code is not null) body["code"] = code;
        return body.ToJsonString();
    }
}

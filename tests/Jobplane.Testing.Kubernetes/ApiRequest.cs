namespace Jobplane.Testing.Kubernetes;

/// <summary>
/// One request the fake answered, in RBAC terms: the verb (create, get, list, watch, delete, ...),
/// the API group ("" for the core group), the resource with its subresource ("pods/log") and the
/// namespace, so a test can hold the requests a client made against the Role it is given.
/// </summary>
public sealed record ApiRequest(string Verb, string ApiGroup, string Resource, string Namespace)
{
    public override string ToString() => $"{Verb} {(ApiGroup.Length == 0 ? "core" : ApiGroup)}/{Resource} in {Namespace}";
}

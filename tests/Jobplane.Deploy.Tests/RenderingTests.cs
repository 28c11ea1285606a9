using k8s.Models;

namespace Jobplane.Deploy.Tests;

/// <summary>The manifests render with the real kubectl and every object is one the API knows, field by field.</summary>
public sealed class RenderingTests
{
    [Theory]
    [MemberData(nameof(Rendering.Directories), MemberType = typeof(Rendering))]
    public void Every_rendered_object_reads_strictly_into_the_clients_models(string directory)
    {
        var rendering = Rendering.Of(directory);

        Assert.NotEmpty(rendering.Objects);
        // Each as its own model type, not a generic object the loader fell back to.
        Assert.All(rendering.Objects, o => Assert.Equal("k8s.Models", o.GetType().Namespace));
        // The whole deployment is there: the migration, the controller and its neighbours, both workers, the jobs' policy.
        var kinds = rendering.Objects.Select(o => o.GetType()).ToHashSet();
        Assert.Superset(
            new HashSet<Type> { typeof(V1Job), typeof(V1Deployment), typeof(V1StatefulSet), typeof(V1Service), typeof(V1PodDisruptionBudget),
                typeof(V1ServiceAccount), typeof(V1Role), typeof(V1RoleBinding), typeof(V1NetworkPolicy) },
            kinds);
    }

    [Fact]
    public void The_strict_reader_refuses_a_field_the_model_does_not_have()
    {
        // What every rendering goes through must be able to fail: a misplaced field (replicas under the pod spec).
        const string misplaced = """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: x
            spec:
              selector:
                matchLabels: {app: x}
              template:
                metadata:
                  labels: {app: x}
                spec:
                  replicas: 2
                  containers:
                    - name: x
                      image: jobplane
            """;
        Assert.ThrowsAny<Exception>(() => Rendering.ReadStrictly(misplaced));
        Assert.Single(Rendering.ReadStrictly(misplaced.Replace("      replicas: 2\n", "", StringComparison.Ordinal)));
    }
}

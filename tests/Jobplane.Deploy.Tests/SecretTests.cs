using k8s.Models;

namespace Jobplane.Deploy.Tests;

/// <summary>No credential is written into the manifests: each comes from a Secret the operator creates.</summary>
public sealed class SecretTests
{
    /// <summary>The settings that are credentials (the database URL carries its password).</summary>
    private static readonly string[] SecretSettings = ["SYSTEM_SECRET", "WORKER_TOKEN", "DATABASE_URL", "METRICS_TOKEN"];

    [Theory]
    [MemberData(nameof(Rendering.Directories), MemberType = typeof(Rendering))]
    public void No_secret_is_rendered_with_its_data(string directory)
    {
        var rendering = Rendering.Of(directory);

        Assert.All(rendering.All<V1Secret>(), s => Assert.True(
            (s.Data is null || s.Data.Count == 0) && (s.StringData is null || s.StringData.Count == 0),
            $"Secret/{s.Metadata.Name} carries data in the manifests"));
        Assert.All(rendering.All<V1ConfigMap>(), m => Assert.True(
            SecretSettings.All(name => m.Data?.ContainsKey(name) != true),
            $"ConfigMap/{m.Metadata.Name} holds a credential"));
    }

    [Theory]
    [MemberData(nameof(Rendering.Directories), MemberType = typeof(Rendering))]
    public void Credentials_reach_containers_only_through_secret_references(string directory)
    {
        var rendering = Rendering.Of(directory);

        foreach (var (where, _, container) in rendering.Containers())
        {
            // envFrom would bring names in that nothing here can check.
            Assert.True(container.EnvFrom is null || container.EnvFrom.Count == 0, $"{where} uses envFrom");
            foreach (var env in container.Env ?? [])
            {
                if (SecretSettings.Contains(env.Name))
                {
                    Assert.True(env.Value is null, $"{where} sets {env.Name} in plain text");
                    Assert.True(env.ValueFrom?.SecretKeyRef is { Name.Length: > 0, Key.Length: > 0 }, $"{where} takes {env.Name} from somewhere other than a Secret");
                }
                else
                {
                    Assert.False(env.Value is { } value && LooksLikeACredential(value), $"{where}: {env.Name}='{env.Value}' looks like a credential");
                }
            }
        }
    }

    /// <summary>A URL with a user's password in it, or a long random-looking token.</summary>
    private static bool LooksLikeACredential(string value) =>
        (value.Contains("://", StringComparison.Ordinal) && value.Contains('@', StringComparison.Ordinal))
        || value.Contains("password=", StringComparison.OrdinalIgnoreCase)
        || (value.Length >= 24 && !value.Contains('/', StringComparison.Ordinal) && !value.Contains(' ', StringComparison.Ordinal) && value.Any(char.IsDigit) && value.Any(char.IsLetter));
}

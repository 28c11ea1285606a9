using Jobplane.Api;

namespace Jobplane.Api.Tests;

/// <summary>References are read as the Docker engine reads them, so the registry checked is the one it pulls from.</summary>
public sealed class ImageReferenceTests
{
    private const string Sha = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    public static TheoryData<string, string, string, string?, string?> Valid => new()
    {
        // A familiar name is an official image on Docker Hub.
        { "ubuntu", "docker.io", "library/ubuntu", null, null },
        { "library/ubuntu:24.04", "docker.io", "library/ubuntu", "24.04", null },
        { "docker.io/ubuntu", "docker.io", "library/ubuntu", null, null },
        { "index.docker.io/ubuntu", "docker.io", "library/ubuntu", null, null },
        { "registry-1.docker.io/acme/tool:1", "docker.io", "acme/tool", "1", null },
        { "Docker.IO/acme/tool", "docker.io", "acme/tool", null, null },
        // No '.', ':' or localhost in the first component: a Docker Hub namespace, not a host.
        { "my_registry/x", "docker.io", "my_registry/x", null, null },
        { "acme/tools/build", "docker.io", "acme/tools/build", null, null },
        { "ghcr.io/a/b@" + Sha, "ghcr.io", "a/b", null, Sha },
        { "ghcr.io/a/b:v1@" + Sha, "ghcr.io", "a/b", "v1", Sha },
        { "localhost:5000/x", "localhost:5000", "x", null, null },
        { "localhost/x", "localhost", "x", null, null },
        // An uppercase first component cannot be a repository path: the engine takes it for a host.
        { "LOCALHOST/x", "localhost", "x", null, null },
        { "Registry.Example.com:5000/a/b:tag", "registry.example.com:5000", "a/b", "tag", null },
        { "registry.example.com:5000/a/b:tag", "registry.example.com:5000", "a/b", "tag", null },
        { "10.0.0.7:5000/team/app:2024-01-01", "10.0.0.7:5000", "team/app", "2024-01-01", null },
        { "[::1]:5000/x", "[::1]:5000", "x", null, null },
        { "example/x-y__z.w_v---u", "docker.io", "example/x-y__z.w_v---u", null, null },
        // Without a '/', "host:port" is a name and a tag, as for the engine.
        { "localhost:5000", "docker.io", "library/localhost", "5000", null },
        { "busybox:_latest.1-a", "docker.io", "library/busybox", "_latest.1-a", null },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void Reads_registry_path_tag_and_digest_as_the_engine_does(string text, string registry, string path, string? tag, string? digest)
    {
        Assert.True(ImageReference.TryParse(text, out var reference, out var problem), problem);
        Assert.Equal(new ImageReference(registry, path, tag, digest), reference);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("ubuntu:", "tag")]
    [InlineData("ubuntu:-bad", "tag")]
    [InlineData("ubuntu: 24.04", "tag")]
    [InlineData("ub untu", "component")]
    [InlineData("Ubuntu", "lowercase")]
    [InlineData("ghcr.io/Acme/tool", "lowercase")]
    [InlineData("acme//tool", "empty component")]
    [InlineData("ghcr.io/", "empty component")]
    [InlineData("/ubuntu", "empty component")]
    [InlineData("acme/tool/", "empty component")]
    [InlineData("acme/-tool", "component")]
    [InlineData("acme/tool-", "component")]
    [InlineData("acme/a..b", "component")]
    [InlineData("acme/a___b", "component")]
    [InlineData("ghcr.io/a/b@sha256:abc", "digest")]
    [InlineData("ghcr.io/a/b@md5:0123456789abcdef0123456789abcdef", "digest")]
    [InlineData("ghcr.io/a/b@SHA256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "digest")]
    [InlineData("ghcr.io/a/b@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "digest")]
    [InlineData("ghcr.io/a/b@", "digest")]
    [InlineData("bad_host.example.com/x", "registry host")]
    [InlineData("-bad.example.com/x", "registry host")]
    [InlineData("example..com/x", "registry host")]
    [InlineData("example.com:port/x", "registry host")]
    [InlineData("example.com:/x", "registry host")]
    [InlineData("[zz]:5000/x", "registry host")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "image id")]
    public void Refuses_what_the_engine_cannot_read_and_says_why(string text, string why)
    {
        Assert.False(ImageReference.TryParse(text, out var reference, out var problem));
        Assert.Null(reference);
        Assert.Contains(why, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Bounds_the_name_and_the_tag_as_the_engine_does()
    {
        Assert.True(ImageReference.TryParse("ghcr.io/" + new string('a', 255 - "ghcr.io/".Length), out _, out _));
        Assert.False(ImageReference.TryParse("ghcr.io/" + new string('a', 256 - "ghcr.io/".Length), out _, out var longName));
        Assert.Contains("255", longName, StringComparison.Ordinal);
        Assert.True(ImageReference.TryParse("ubuntu:" + new string('t', 128), out _, out _));
        Assert.False(ImageReference.TryParse("ubuntu:" + new string('t', 129), out _, out _));
    }

    [Theory]
    [InlineData("docker.io", "docker.io")]
    [InlineData("index.docker.io", "docker.io")]
    [InlineData("Registry-1.Docker.IO", "docker.io")]
    [InlineData("GHCR.io", "ghcr.io")]
    [InlineData("registry.example.com:5000", "registry.example.com:5000")]
    [InlineData("localhost", "localhost")]
    [InlineData("[::1]:5000", "[::1]:5000")]
    [InlineData("https://ghcr.io", null)]
    [InlineData("ghcr.io/acme", null)]
    [InlineData("ghcr.io:", null)]
    [InlineData("", null)]
    public void Normalises_registry_hosts_for_comparison(string host, string? expected) =>
        Assert.Equal(expected, ImageReference.NormalizeRegistry(host));

    [Fact]
    public void Writes_the_full_name_the_engine_would_use()
    {
        Assert.True(ImageReference.TryParse("ubuntu:24.04", out var reference, out _));
        Assert.Equal("docker.io/library/ubuntu:24.04", reference.ToString());
    }
}

using System.Text.RegularExpressions;
using k8s.Models;

namespace Jobplane.Deploy.Tests;

/// <summary>Every pod the manifests run: locked down, bounded, on the jobplane image, with settings the binaries read.</summary>
public sealed partial class PodTests
{
    [Theory]
    [MemberData(nameof(Rendering.Directories), MemberType = typeof(Rendering))]
    public void Every_container_runs_non_root_read_only_without_capabilities(string directory)
    {
        var rendering = Rendering.Of(directory);
        Assert.NotEmpty(rendering.Containers());
        foreach (var (where, pod, c) in rendering.Containers())
        {
            var runAsNonRoot = c.SecurityContext?.RunAsNonRoot ?? pod.SecurityContext?.RunAsNonRoot;
            var runAsUser = c.SecurityContext?.RunAsUser ?? pod.SecurityContext?.RunAsUser;
            var seccomp = c.SecurityContext?.SeccompProfile?.Type ?? pod.SecurityContext?.SeccompProfile?.Type;
            Assert.True(runAsNonRoot == true, $"{where}: runAsNonRoot is not true");
            Assert.True(runAsUser is > 0, $"{where}: no numeric non-root runAsUser");
            Assert.True(seccomp == "RuntimeDefault", $"{where}: seccomp profile {seccomp ?? "unset"}");
            Assert.True(c.SecurityContext?.ReadOnlyRootFilesystem == true, $"{where}: root filesystem writable");
            Assert.True(c.SecurityContext?.AllowPrivilegeEscalation == false, $"{where}: privilege escalation allowed");
            Assert.True(c.SecurityContext?.Privileged != true, $"{where}: privileged");
            Assert.True(c.SecurityContext?.Capabilities?.Drop?.Contains("ALL") == true, $"{where}: capabilities not all dropped");
            Assert.True(c.SecurityContext?.Capabilities?.Add is null or { Count: 0 }, $"{where}: adds capabilities");
            Assert.False(pod.HostNetwork == true || pod.HostPID == true || pod.HostIPC == true, $"{where}: shares a host namespace");
            Assert.DoesNotContain(pod.Volumes ?? [], v => v.HostPath is not null);
        }
    }

    [Theory]
    [MemberData(nameof(Rendering.Directories), MemberType = typeof(Rendering))]
    public void Every_container_has_cpu_and_memory_requests_and_limits(string directory)
    {
        foreach (var (where, _, c) in Rendering.Of(directory).Containers())
        {
            foreach (var resource in new[] { "cpu", "memory" })
            {
                Assert.True(c.Resources?.Requests?.ContainsKey(resource) == true, $"{where}: no {resource} request");
                Assert.True(c.Resources?.Limits?.ContainsKey(resource) == true, $"{where}: no {resource} limit");
                Assert.True(c.Resources.Requests[resource].ToDecimal() <= c.Resources.Limits[resource].ToDecimal(), $"{where}: {resource} request above its limit");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Rendering.Directories), MemberType = typeof(Rendering))]
    public void Every_image_is_jobplane(string directory)
    {
        foreach (var (where, _, c) in Rendering.Of(directory).Containers())
        {
            var match = ImageReference().Match(c.Image ?? "");
            Assert.True(match.Success && match.Groups["name"].Value == "jobplane", $"{where}: image '{c.Image}' is not jobplane");
            Assert.True(Rendering.Binary(c) is SettingNames.Controller or SettingNames.Worker, $"{where} runs '{Rendering.Binary(c)}', not a jobplane entry point");
        }
    }

    [Theory]
    [MemberData(nameof(Rendering.Directories), MemberType = typeof(Rendering))]
    public void Every_setting_is_one_its_binary_reads(string directory)
    {
        foreach (var (where, _, c) in Rendering.Of(directory).Containers())
        {
            var known = SettingNames.Of(Rendering.Binary(c)!);
            Assert.All(c.Env ?? [], e => Assert.True(known.Contains(e.Name), $"{where}: {Rendering.Binary(c)} does not read {e.Name}"));
        }
    }

    /// <summary>[registry/][path/]name[:tag][@digest]; the name is the last path segment.</summary>
    [GeneratedRegex("^(?:[^/]+/)*(?<name>[a-z0-9._-]+)(?::[A-Za-z0-9._-]+)?(?:@sha256:[a-f0-9]{64})?$")]
    private static partial Regex ImageReference();
}

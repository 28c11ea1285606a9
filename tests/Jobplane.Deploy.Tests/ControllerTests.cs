using System.Globalization;
using Jobplane.Api;
using k8s.Models;

namespace Jobplane.Deploy.Tests;

/// <summary>The controller as the manifests run it: probes on its real routes and port, highly available, migrated first.</summary>
public sealed class ControllerTests
{
    [Theory]
    [MemberData(nameof(Rendering.Directories), MemberType = typeof(Rendering))]
    public void Probes_hit_the_health_routes_on_the_port_the_controller_listens_on(string directory)
    {
        var (where, pod, controller) = ControllerContainer(Rendering.Of(directory));
        var listens = PortSetting(controller, "PORT") ?? Wire.DefaultPort;

        Assert.Equal(Routes.Readyz, controller.ReadinessProbe?.HttpGet?.Path);
        Assert.Equal(Routes.Healthz, controller.LivenessProbe?.HttpGet?.Path);
        Assert.Equal(listens, ContainerPort(controller, controller.ReadinessProbe!.HttpGet.Port));
        Assert.Equal(listens, ContainerPort(controller, controller.LivenessProbe!.HttpGet.Port));
        Assert.True(pod.Containers.Count == 1, $"{where}: one container per controller pod");
    }

    [Theory]
    [MemberData(nameof(Rendering.Directories), MemberType = typeof(Rendering))]
    public void The_service_reaches_the_api_port_and_scrapes_reach_the_metrics_port(string directory)
    {
        var rendering = Rendering.Of(directory);
        var deployment = Assert.Single(rendering.All<V1Deployment>(), IsController);
        var (_, _, controller) = ControllerContainer(rendering);
        var listens = PortSetting(controller, "PORT") ?? Wire.DefaultPort;

        var service = Assert.Single(rendering.All<V1Service>(), s => Selects(s.Spec.Selector, deployment.Spec.Template.Metadata.Labels));
        Assert.All(service.Spec.Ports, p => Assert.Equal(listens, ContainerPort(controller, p.TargetPort ?? (IntOrString)p.Port)));

        // The scrape goes to the metrics port the controller opens (METRICS_PORT), where /metrics needs no credential.
        var annotations = deployment.Spec.Template.Metadata.Annotations;
        Assert.Equal("true", annotations?["prometheus.io/scrape"]);
        Assert.Equal(Routes.Metrics, annotations?["prometheus.io/path"]);
        var metricsPort = PortSetting(controller, "METRICS_PORT");
        Assert.NotNull(metricsPort);
        Assert.Equal(metricsPort.Value.ToString(CultureInfo.InvariantCulture), annotations?["prometheus.io/port"]);
        Assert.Contains(controller.Ports, p => p.ContainerPort == metricsPort);
        Assert.NotEqual(listens, metricsPort);
    }

    [Theory]
    [MemberData(nameof(Rendering.Directories), MemberType = typeof(Rendering))]
    public void Two_replicas_and_a_disruption_budget_keep_the_api_up(string directory)
    {
        var rendering = Rendering.Of(directory);
        var deployment = Assert.Single(rendering.All<V1Deployment>(), IsController);

        Assert.True(deployment.Spec.Replicas >= 2, $"{deployment.Spec.Replicas} controller replicas");
        var budget = Assert.Single(rendering.All<V1PodDisruptionBudget>(), b => Selects(b.Spec.Selector.MatchLabels, deployment.Spec.Template.Metadata.Labels));
        Assert.True(budget.Spec.MinAvailable is { } min && int.Parse(min.Value, CultureInfo.InvariantCulture) >= 1
                    && int.Parse(min.Value, CultureInfo.InvariantCulture) < deployment.Spec.Replicas,
            "the budget keeps one controller while letting a node drain");
    }

    [Theory]
    [MemberData(nameof(Rendering.Directories), MemberType = typeof(Rendering))]
    public void The_migration_job_exists_and_controllers_wait_for_the_schema(string directory)
    {
        var rendering = Rendering.Of(directory);
        string[] migrateOnly = [SettingNames.Controller, "--migrate-only"];

        var job = Assert.Single(rendering.All<V1Job>(), j => j.Spec.Template.Spec.Containers.Any(c => c.Command?.SequenceEqual(migrateOnly) == true));
        Assert.Equal("OnFailure", job.Spec.Template.Spec.RestartPolicy);
        var jobDatabase = Database(job.Spec.Template.Spec.Containers.Single());

        // Ordering: every controller pod first runs the same idempotent migration as an init container, which
        // waits on the migrations' advisory lock while the Job holds it; the server itself starts without
        // --migrate, so on a schema that is not current it refuses to start instead of serving it.
        var (where, pod, controller) = ControllerContainer(rendering);
        var init = Assert.Single(pod.InitContainers ?? [], c => c.Command?.SequenceEqual(migrateOnly) == true);
        Assert.DoesNotContain("--migrate", (controller.Command ?? []).Concat(controller.Args ?? []));
        Assert.DoesNotContain("--migrate-only", (controller.Command ?? []).Concat(controller.Args ?? []));
        Assert.True(init.Image == controller.Image && job.Spec.Template.Spec.Containers.Single().Image == controller.Image,
            $"{where}: the migration runs the controller's own image");
        Assert.Equal(jobDatabase, Database(init));
        Assert.Equal(jobDatabase, Database(controller));
    }

    internal static bool IsController(V1Deployment d) =>
        d.Spec.Template.Spec.Containers.Any(c => Rendering.Binary(c) == SettingNames.Controller);

    private static (string Where, V1PodSpec Pod, V1Container Container) ControllerContainer(Rendering rendering)
    {
        var deployment = Assert.Single(rendering.All<V1Deployment>(), IsController);
        var container = Assert.Single(deployment.Spec.Template.Spec.Containers, c => Rendering.Binary(c) == SettingNames.Controller);
        return ($"Deployment/{deployment.Metadata.Name}", deployment.Spec.Template.Spec, container);
    }

    private static int? PortSetting(V1Container c, string name) =>
        c.Env?.SingleOrDefault(e => e.Name == name)?.Value is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : null;

    /// <summary>The number a probe's or a Service's port means in this container (a name resolves to its containerPort).</summary>
    private static int? ContainerPort(V1Container c, IntOrString port) =>
        int.TryParse(port.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? c.Ports?.Any(p => p.ContainerPort == n) == true ? n : null
            : c.Ports?.SingleOrDefault(p => p.Name == port.Value)?.ContainerPort;

    private static (string, string)? Database(V1Container c) =>
        c.Env?.SingleOrDefault(e => e.Name == "DATABASE_URL")?.ValueFrom?.SecretKeyRef is { } r ? (r.Name, r.Key) : null;

    private static bool Selects(IDictionary<string, string>? selector, IDictionary<string, string>? labels) =>
        selector is { Count: > 0 } && labels is not null && selector.All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value);
}

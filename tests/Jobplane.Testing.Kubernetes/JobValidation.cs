using System.Text.RegularExpressions;
using k8s.Models;

namespace Jobplane.Testing.Kubernetes;

/// <summary>
/// The part of the real server's Job validation and defaulting that a client can get wrong:
/// names, label keys and values, the pod template's restart policy and containers; then the
/// defaults and the generated selector and labels the real server adds.
/// </summary>
internal static partial class JobValidation
{
    public static List<string> Validate(V1Job job)
    {
        var errors = new List<string>();
        var name = job.Metadata.Name;
        if (string.IsNullOrEmpty(name)) errors.Add("metadata.name: Required value: name or generateName is required");
        else if (!DnsSubdomain().IsMatch(name) || name.Length > 253)
            errors.Add($"metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'");
        // The name becomes the value of the pods' job-name label, which is at most 63 characters.
        else if (name.Length > 63)
            errors.Add($"spec.template.labels: Invalid value: \"{name}\": must be no more than 63 characters");
        CheckLabels(job.Metadata.Labels, "metadata.labels", errors);
        var template = job.Spec?.Template;
        if (template?.Spec is not { } spec)
        {
            errors.Add("spec.template.spec: Required value");
            return errors;
        }
        CheckLabels(template.Metadata?.Labels, "spec.template.metadata.labels", errors);
        if (spec.RestartPolicy is not ("Never" or "OnFailure"))
            errors.Add($"spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\" (got \"{spec.RestartPolicy}\")");
        if (spec.Containers is not { Count: > 0 }) errors.Add("spec.template.spec.containers: Required value");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (container, path) in (spec.InitContainers ?? []).Select((c, i) => (c, $"spec.template.spec.initContainers[{i}]"))
                     .Concat((spec.Containers ?? []).Select((c, i) => (c, $"spec.template.spec.containers[{i}]"))))
        {
            if (string.IsNullOrEmpty(container.Name) || !DnsLabel().IsMatch(container.Name) || container.Name.Length > 63)
                errors.Add($"{path}.name: Invalid value: \"{container.Name}\"");
            else if (!names.Add(container.Name)) errors.Add($"{path}.name: Duplicate value: \"{container.Name}\"");
            if (string.IsNullOrEmpty(container.Image)) errors.Add($"{path}.image: Required value");
            foreach (var mount in container.VolumeMounts ?? [])
            {
                if (spec.Volumes?.Any(v => v.Name == mount.Name) != true)
                    errors.Add($"{path}.volumeMounts.name: Not found: \"{mount.Name}\"");
            }
        }
        if (job.Spec!.ActiveDeadlineSeconds is <= 0) errors.Add("spec.activeDeadlineSeconds: Invalid value: must be greater than 0");
        if (job.Spec.BackoffLimit is < 0) errors.Add("spec.backoffLimit: Invalid value: must be greater than or equal to 0");
        return errors;
    }

    /// <summary>The real server's defaults, and the selector and labels it generates for the Job's pods.</summary>
    public static void ApplyDefaults(V1Job job)
    {
        var uid = job.Metadata.Uid ??= Guid.NewGuid().ToString("D");
        var spec = job.Spec;
        spec.BackoffLimit ??= 6;
        spec.Completions ??= 1;
        spec.Parallelism ??= 1;
        spec.CompletionMode ??= "NonIndexed";
        spec.Suspend ??= false;
        spec.PodReplacementPolicy ??= "TerminatingOrFailed";
        spec.ManualSelector ??= false;
        spec.Selector ??= new V1LabelSelector
        {
            MatchLabels = new Dictionary<string, string> { ["batch.kubernetes.io/controller-uid"] = uid },
        };
        var template = spec.Template;
        template.Metadata ??= new V1ObjectMeta();
        template.Metadata.Labels ??= new Dictionary<string, string>();
        template.Metadata.Labels["batch.kubernetes.io/controller-uid"] = uid;
        template.Metadata.Labels["batch.kubernetes.io/job-name"] = job.Metadata.Name;
        template.Metadata.Labels["controller-uid"] = uid;
        template.Metadata.Labels["job-name"] = job.Metadata.Name;
        var pod = template.Spec;
        pod.DnsPolicy ??= "ClusterFirst";
        pod.SchedulerName ??= "default-scheduler";
        pod.TerminationGracePeriodSeconds ??= 30;
        pod.SecurityContext ??= new V1PodSecurityContext();
        foreach (var container in (pod.InitContainers ?? []).Concat(pod.Containers))
        {
            container.TerminationMessagePath ??= "/dev/termination-log";
            container.TerminationMessagePolicy ??= "File";
            var tagged = container.Image.Contains(':', StringComparison.Ordinal) && !container.Image.EndsWith(":latest", StringComparison.Ordinal);
            container.ImagePullPolicy ??= tagged ? "IfNotPresent" : "Always";
        }
    }

    private static void CheckLabels(IDictionary<string, string>? labels, string path, List<string> errors)
    {
        foreach (var (key, value) in labels ?? new Dictionary<string, string>())
        {
            var slash = key.LastIndexOf('/');
            var (prefix, name) = slash < 0 ? ("", key) : (key[..slash], key[(slash + 1)..]);
            if (name.Length is 0 or > 63 || !LabelName().IsMatch(name) || (slash >= 0 && (prefix.Length > 253 || !DnsSubdomain().IsMatch(prefix))))
                errors.Add($"{path}: Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
            if (value.Length > 63 || (value.Length > 0 && !LabelName().IsMatch(value)))
                errors.Add($"{path}: Invalid value: \"{value}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)");
        }
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex DnsSubdomain();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex("^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")]
    private static partial Regex LabelName();
}

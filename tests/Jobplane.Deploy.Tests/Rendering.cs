using System.Diagnostics;
using System.Text;
using Jobplane.Testing.Processes;
using k8s;
using k8s.Models;

namespace Jobplane.Deploy.Tests;

/// <summary>A Kustomize directory rendered by the real kubectl, and its objects read into the client's models.</summary>
public sealed record Rendering(string Directory, string Yaml, IReadOnlyList<object> Objects)
{
    /// <summary>The kubectl the machine has (1.32 with Kustomize 5.5); KUBECTL overrides it.</summary>
    public static string Kubectl => Environment.GetEnvironmentVariable("KUBECTL") is { Length: > 0 } k ? k : "/usr/bin/kubectl";

    /// <summary>The renderings under test, by directory under deploy/kubernetes.</summary>
    private static readonly string[] Rendered = ["base", "overlays/example"];
    public static readonly TheoryData<string> Directories = new(Rendered);

    private static readonly Dictionary<string, Lazy<Rendering>> Cache = Rendered
        .ToDictionary(d => d, d => new Lazy<Rendering>(() => Render(Path.Combine(RepositoryRoot.Find(), "deploy", "kubernetes", d))));

    public static Rendering Of(string directory) => Cache[directory].Value;

    /// <summary>Renders <paramref name="directory"/> (kubectl as a child process, no shell) and reads every object strictly.</summary>
    public static Rendering Render(string directory)
    {
        var yaml = RunKubectl("kustomize", directory);
        return new Rendering(directory, yaml, ReadStrictly(yaml));
    }

    /// <summary>
    /// Every document of a multi-document stream as the client's own model type for its
    /// apiVersion/kind, refusing any field the model does not have (the loader's strict mode: without
    /// it YamlDotNet would drop a misspelt or misplaced field silently, and the test would pass on
    /// a manifest the API server rejects or, worse, accepts without the setting). The documents are
    /// also counted independently of the loader, so that none can go missing.
    /// </summary>
    public static IReadOnlyList<object> ReadStrictly(string yaml)
    {
        var documents = yaml.Split('\n').Count(line => line.TrimEnd() == "---") + (yaml.Trim().Length > 0 ? 1 : 0);
        var objects = KubernetesYaml.LoadAllFromString(yaml, typeMap: null, strict: true);
        if (objects.Count != documents)
            throw new InvalidDataException($"{documents} documents rendered but {objects.Count} objects read");
        foreach (var o in objects)
        {
            if (o is not IKubernetesObject<V1ObjectMeta> k || string.IsNullOrEmpty(k.Metadata?.Name))
                throw new InvalidDataException($"a rendered object is not a named Kubernetes object: {o}");
        }
        return objects;
    }

    public IEnumerable<T> All<T>() => Objects.OfType<T>();

    /// <summary>Every pod template (Deployments, StatefulSets, Jobs), with the name of the object holding it.</summary>
    public IEnumerable<(string Owner, V1PodTemplateSpec Template)> PodTemplates()
    {
        foreach (var d in All<V1Deployment>()) yield return ($"Deployment/{d.Metadata.Name}", d.Spec.Template);
        foreach (var s in All<V1StatefulSet>()) yield return ($"StatefulSet/{s.Metadata.Name}", s.Spec.Template);
        foreach (var j in All<V1Job>()) yield return ($"Job/{j.Metadata.Name}", j.Spec.Template);
        foreach (var d in All<V1DaemonSet>()) yield return ($"DaemonSet/{d.Metadata.Name}", d.Spec.Template);
        foreach (var p in All<V1Pod>()) yield return ($"Pod/{p.Metadata.Name}", new V1PodTemplateSpec { Metadata = p.Metadata, Spec = p.Spec });
    }

    /// <summary>Every container, init containers included, with where it is.</summary>
    public IEnumerable<(string Where, V1PodSpec Pod, V1Container Container)> Containers() =>
        from t in PodTemplates()
        from c in (t.Template.Spec.InitContainers ?? []).Concat(t.Template.Spec.Containers ?? [])
        select ($"{t.Owner} container {c.Name}", t.Template.Spec, c);

    /// <summary>The jobplane binary a container runs (its command's first word), or null.</summary>
    public static string? Binary(V1Container c) => c.Command is { Count: > 0 } cmd ? cmd[0] : null;

    private static string RunKubectl(params string[] args)
    {
        var start = new ProcessStartInfo(Kubectl)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{Kubectl} did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill();
            throw new TimeoutException($"{Kubectl} {string.Join(' ', args)} did not finish within 2 minutes");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{Kubectl} {string.Join(' ', args)} exited {process.ExitCode}: {stderr.Result}");
        return stdout;
    }
}

using System.Globalization;
using k8s;
using k8s.Models;

namespace Jobplane.Testing.Kubernetes;

/// <summary>One change as a watch reports it, with the object as it was right after the change.</summary>
internal sealed record StoredEvent(
    long Version, string Type, string Resource, string Namespace, string Name,
    IReadOnlyDictionary<string, string> Labels, IReadOnlyDictionary<string, string> Fields, string ObjectJson);

/// <summary>
/// The fake's etcd: every object by (resource, namespace, name), one resourceVersion counter for
/// all of them, and the full history of changes so that a watch can resume from any version it was
/// given, unless a test compacted it (then "410 Expired", as a real server after compaction). Objects are only touched under the
/// lock; what leaves it is JSON.
/// </summary>
internal sealed class ObjectStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Resource, string Namespace, string Name), IKubernetesObject<V1ObjectMeta>> _objects = [];
    private readonly List<StoredEvent> _events = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _version;
    private readonly TimeProvider _time;

    public ObjectStore(TimeProvider time) => _time = time;

    public long Version
    {
        get
        {
            lock (_lock) return _version;
        }
    }

    private long _compactedThrough;

    /// <summary>Versions at or below this are forgotten: a watch from one of them is answered 410 Expired.</summary>
    public long CompactedThrough
    {
        get
        {
            lock (_lock) return _compactedThrough;
        }
    }

    /// <summary>Forgets the history up to now, as etcd's compaction does.</summary>
    public void Compact()
    {
        lock (_lock) _compactedThrough = _version;
    }

    /// <summary>Adds a new object; false when the name is taken.</summary>
    public bool TryAdd(string resource, IKubernetesObject<V1ObjectMeta> item, out string json)
    {
        lock (_lock)
        {
            var key = (resource, item.Metadata.NamespaceProperty, item.Metadata.Name);
            if (_objects.ContainsKey(key))
            {
                json = "";
                return false;
            }
            item.Metadata.Uid ??= Guid.NewGuid().ToString("D");
            item.Metadata.CreationTimestamp ??= _time.GetUtcNow().UtcDateTime;
            item.Metadata.Generation ??= 1;
            _objects[key] = item;
            json = Record("ADDED", resource, item);
            return true;
        }
    }

    /// <summary>Changes an object in place under the lock; false when it does not exist (any more).</summary>
    public bool TryUpdate<T>(string resource, string ns, string name, Func<T, bool> change) where T : class, IKubernetesObject<V1ObjectMeta>
    {
        lock (_lock)
        {
            if (!_objects.TryGetValue((resource, ns, name), out var item)) return false;
            if (change((T)item)) Record("MODIFIED", resource, item);
            return true;
        }
    }

    public bool TryRemove(string resource, string ns, string name, out string json)
    {
        lock (_lock)
        {
            json = "";
            if (!_objects.Remove((resource, ns, name), out var item)) return false;
            json = Record("DELETED", resource, item);
            return true;
        }
    }

    /// <summary>Reads an object under the lock.</summary>
    public TResult? Read<T, TResult>(string resource, string ns, string name, Func<T, TResult> read) where T : class, IKubernetesObject<V1ObjectMeta>
    {
        lock (_lock) return _objects.TryGetValue((resource, ns, name), out var item) ? read((T)item) : default;
    }

    public string? GetJson(string resource, string ns, string name)
    {
        lock (_lock) return _objects.TryGetValue((resource, ns, name), out var item) ? KubernetesJson.Serialize(item) : null;
    }

    /// <summary>The matching objects as JSON, and the version the list is consistent with.</summary>
    public (List<string> Items, long Version) List(string resource, string ns, LabelSelector labels, LabelSelector fields)
    {
        lock (_lock)
        {
            var items = _objects
                .Where(o => o.Key.Resource == resource && o.Key.Namespace == ns)
                .Where(o => labels.Matches(LabelsOf(o.Value)) && fields.Matches(FieldsOf(resource, o.Value)))
                .OrderBy(o => o.Key.Name, StringComparer.Ordinal)
                .Select(o => KubernetesJson.Serialize(o.Value))
                .ToList();
            return (items, _version);
        }
    }

    /// <summary>The changes after <paramref name="version"/>, and a task that completes at the next change.</summary>
    public (List<StoredEvent> Events, Task Changed) EventsAfter(long version)
    {
        lock (_lock)
        {
            // Versions are the list's positions plus one: events[i].Version == i + 1.
            var start = (int)Math.Min(Math.Max(version, 0), _events.Count);
            return (_events.GetRange(start, _events.Count - start), _changed.Task);
        }
    }

    private string Record(string type, string resource, IKubernetesObject<V1ObjectMeta> item)
    {
        _version++;
        item.Metadata.ResourceVersion = _version.ToString(CultureInfo.InvariantCulture);
        var json = KubernetesJson.Serialize(item);
        _events.Add(new StoredEvent(_version, type, resource, item.Metadata.NamespaceProperty, item.Metadata.Name,
            LabelsOf(item), FieldsOf(resource, item), json));
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
        return json;
    }

    private static Dictionary<string, string> LabelsOf(IKubernetesObject<V1ObjectMeta> item) =>
        item.Metadata.Labels is { } labels ? new Dictionary<string, string>(labels) : [];

    /// <summary>The fields a fieldSelector may name, per resource (the ones the real server indexes that matter here).</summary>
    private static Dictionary<string, string> FieldsOf(string resource, IKubernetesObject<V1ObjectMeta> item)
    {
        var fields = new Dictionary<string, string>
        {
            ["metadata.name"] = item.Metadata.Name,
            ["metadata.namespace"] = item.Metadata.NamespaceProperty,
        };
        if (resource == "pods" && item is V1Pod pod)
        {
            fields["status.phase"] = pod.Status?.Phase ?? "";
        }
        if (resource == "events" && item is Corev1Event e)
        {
            fields["involvedObject.kind"] = e.InvolvedObject?.Kind ?? "";
            fields["involvedObject.name"] = e.InvolvedObject?.Name ?? "";
            fields["involvedObject.uid"] = e.InvolvedObject?.Uid ?? "";
            fields["involvedObject.namespace"] = e.InvolvedObject?.NamespaceProperty ?? "";
            fields["reason"] = e.Reason ?? "";
            fields["type"] = e.Type ?? "";
        }
        return fields;
    }
}

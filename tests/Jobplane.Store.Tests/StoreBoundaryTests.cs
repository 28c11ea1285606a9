using System.Reflection;
using Jobplane.Api;

namespace Jobplane.Store.Tests;

/// <summary>
/// The store takes parameter records and returns its own types; the controller's endpoints map them
/// to the wire. So no public member of a public type of Jobplane.Store names a wire type: any type of
/// the Jobplane.Api assembly except the shared vocabulary below, looked for through generic
/// arguments, arrays, nullables, tuples, by-ref parameters and base types. A wire record used by a
/// store fails here with the member and the type named.
/// </summary>
public sealed class StoreBoundaryTests
{
    /// <summary>
    /// The words the store and the wire share on purpose: statuses, priorities, sizes, durations,
    /// runtimes, routes and text rules. Everything else of Jobplane.Api is a wire type.
    /// </summary>
    private static readonly HashSet<Type> Vocabulary =
    [
        typeof(ExecutionStatus),
        typeof(Priority),
        typeof(Durations),
        typeof(ByteSizes),
        typeof(Rfc3339),
        typeof(Routes),
        typeof(Wire),
        typeof(Runtimes),
        typeof(RuntimeClasses),
        typeof(StorableText),
        typeof(ImageReference),
        typeof(ErrorCodes),
    ];

    private static readonly Assembly WireAssembly = typeof(ExecutionStatus).Assembly;

    [Fact]
    public void No_public_store_member_takes_or_returns_a_wire_type()
    {
        var storeTypes = typeof(ExecutionStore).Assembly.GetExportedTypes();
        Assert.Contains(typeof(ExecutionStore), storeTypes);
        Assert.Contains(typeof(QueueStore), storeTypes);

        var violations = storeTypes.SelectMany(Violations).ToList();

        Assert.True(violations.Count == 0,
            $"store members that name wire types (map them in the controller's endpoints instead):\n{string.Join("\n", violations)}");
    }

    [Fact]
    public void The_check_finds_wire_types_nested_anywhere_in_a_signature()
    {
        var found = Violations(typeof(LeakingStore)).ToList();

        Assert.Contains(found, v => v.Contains(nameof(LeakingStore.Page)) && v.Contains(nameof(ExecutionView)));
        Assert.Contains(found, v => v.Contains(nameof(LeakingStore.Tuple)) && v.Contains(nameof(JobView)));
        Assert.Contains(found, v => v.Contains(nameof(LeakingStore.Array)) && v.Contains(nameof(LogEntry)));
        Assert.Contains(found, v => v.Contains(nameof(LeakingStore.Take)) && v.Contains(nameof(TenantRequest)));
        Assert.Contains(found, v => v.Contains(nameof(LeakingStore.Out)) && v.Contains(nameof(CancelResponse)));
        Assert.Contains(found, v => v.Contains(nameof(LeakingStore.Held)) && v.Contains(nameof(DlqEntry)));
        Assert.Contains(found, v => v.Contains("constructor") && v.Contains(nameof(RunJobRequest)));
        Assert.DoesNotContain(found, v => v.Contains(nameof(LeakingStore.Fine)));
    }

    [Fact]
    public void Vocabulary_is_declared_in_the_wire_assembly()
    {
        Assert.All(Vocabulary, t => Assert.Same(WireAssembly, t.Assembly));
    }

    private static IEnumerable<string> Violations(Type type)
    {
        const BindingFlags Declared = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        if (type.BaseType is { } baseType && WireTypeIn(baseType) is { } inBase)
            yield return $"{Name(type)} derives from {Name(inBase)}";
        foreach (var ctor in type.GetConstructors(Declared))
        {
            foreach (var p in ctor.GetParameters())
            {
                if (WireTypeIn(p.ParameterType) is { } wire)
                    yield return $"{Name(type)} constructor parameter {p.Name}: {Name(p.ParameterType)}: names {Name(wire)}";
            }
        }
        // Property accessors are reported as their properties.
        foreach (var method in type.GetMethods(Declared).Where(m => !m.IsSpecialName))
        {
            if (WireTypeIn(method.ReturnType) is { } returned)
                yield return $"{Name(type)}.{method.Name} returns {Name(method.ReturnType)}: names {Name(returned)}";
            foreach (var p in method.GetParameters())
            {
                if (WireTypeIn(p.ParameterType) is { } wire)
                    yield return $"{Name(type)}.{method.Name} parameter {p.Name}: {Name(p.ParameterType)}: names {Name(wire)}";
            }
        }
        foreach (var property in type.GetProperties(Declared))
        {
            if (WireTypeIn(property.PropertyType) is { } wire)
                yield return $"{Name(type)}.{property.Name} is {Name(property.PropertyType)}: names {Name(wire)}";
        }
        foreach (var field in type.GetFields(Declared))
        {
            if (WireTypeIn(field.FieldType) is { } wire)
                yield return $"{Name(type)}.{field.Name} is {Name(field.FieldType)}: names {Name(wire)}";
        }
    }

    /// <summary>The first wire type <paramref name="type"/> names, through generic arguments, element types and tuples; null when none.</summary>
    private static Type? WireTypeIn(Type type)
    {
        if (type.HasElementType) return WireTypeIn(type.GetElementType()!);
        if (type.IsGenericParameter) return null;
        if (type.Assembly == WireAssembly && !Vocabulary.Contains(type.IsGenericType ? type.GetGenericTypeDefinition() : type))
            return type;
        if (type.IsGenericType)
        {
            foreach (var argument in type.GetGenericArguments())
            {
                if (WireTypeIn(argument) is { } wire) return wire;
            }
        }
        return null;
    }

    private static string Name(Type type) =>
        type.HasElementType ? Name(type.GetElementType()!) + type.Name[type.GetElementType()!.Name.Length..]
        : type.IsGenericType ? $"{type.Name[..type.Name.IndexOf('`')]}<{string.Join(", ", type.GetGenericArguments().Select(Name))}>"
        : type.DeclaringType is { } outer ? $"{Name(outer)}.{type.Name}" : type.Name;

    /// <summary>A store that leaks wire types in every way the check looks for, and one member that does not.</summary>
    private sealed class LeakingStore(RunJobRequest request)
    {
        public RunJobRequest Request => request;
        public Task<Page<ExecutionView>?> Page() => Task.FromResult<Page<ExecutionView>?>(null);
        public (Guid Id, IReadOnlyList<JobView> Jobs) Tuple() => (Guid.Empty, []);
        public LogEntry[] Array() => [];
        public void Take(TenantRequest? request) { }
        public bool Out(out CancelResponse? response) { response = null; return false; }
        public Dictionary<Guid, List<DlqEntry>> Held { get; } = [];
        public Priority? Fine(int? n, string status, Priority priority) => null;
    }
}

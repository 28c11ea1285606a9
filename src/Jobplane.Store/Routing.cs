namespace Jobplane.Store;

/// <summary>
/// What a worker can run, as it announced it to the claim. Null fields are not checked: a worker
/// that announced nothing about them is handed what it was handed before routing existed.
/// </summary>
public sealed record WorkerGrants
{
    /// <summary>Any class, nothing checked: what a worker naming no runtime (benchmark, older worker) gets.</summary>
    public static readonly WorkerGrants Any = new();

    /// <summary>The runtime classes it runs (exec, container); null: both.</summary>
    public IReadOnlyList<string>? Classes { get; init; }
    /// <summary>False: it cannot give a job network, so jobs that would get network are not its.</summary>
    public bool? Network { get; init; }
    public bool? RunAsRoot { get; init; }
    public int? MaxMemoryMib { get; init; }
    public double? MaxCpus { get; init; }
    public int? MaxPids { get; init; }
    /// <summary>
    /// How many executions it runs at once (WORKER_CONCURRENCY): not checked by the claim, but added
    /// to the fleet's slots, which size each tenant's fair share. Null: not announced, adds nothing.
    /// </summary>
    public int? Slots { get; init; }

    internal string[] ClassArray => Classes is { } c ? [.. c] : [.. Api.RuntimeClasses.Known];
}

/// <summary>The ready_queue columns that route an execution, and how they are read from its job.</summary>
internal static class Routing
{
    /// <summary>Listed after (execution_id, tenant_id, priority, ready_at) in every insert into ready_queue.</summary>
    public const string Columns = "runtime_class, network, run_as_root, memory_mib, cpus, pids";

    /// <summary>The values of <see cref="Columns"/>, from the job aliased j (memory is stored in whole MiB).</summary>
    public const string FromJob = """
        case when j.image = 'exec' then 'exec' else 'container' end, j.network, j.run_as_root,
        (j.memory_limit_bytes >> 20)::integer, j.cpu_limit, j.pids_limit::integer
        """;

    /// <summary>
    /// The ready_queue row q fits the worker whose grants are parameters $p.. $p+5 (classes, network,
    /// root, memory, cpus, pids). <paramref name="allowNetwork"/>: whether the row's tenant allows
    /// network; a job of a tenant that does not gets none, so it needs no worker that grants it.
    /// Only the class is an index column (ready_queue_route_claim_idx); the rest are filters, cheap
    /// because rows asking for nothing pass them and rows asking for what no worker grants are rare.
    /// </summary>
    public static string Fits(int p, string allowNetwork) => $"""
        q.runtime_class = any(${p}::text[])
        and not (q.network and {allowNetwork} and ${p + 1}::boolean is false)
        and not (q.run_as_root and ${p + 2}::boolean is false)
        and (q.memory_mib is null or ${p + 3}::integer is null or q.memory_mib <= ${p + 3})
        and (q.cpus is null or ${p + 4}::float8 is null or q.cpus <= ${p + 4})
        and (q.pids is null or ${p + 5}::integer is null or q.pids <= ${p + 5})
        """;

    public static IEnumerable<Npgsql.NpgsqlParameter> Parameters(WorkerGrants g) =>
    [
        Sql.P(g.ClassArray), Sql.P(g.Network), Sql.P(g.RunAsRoot), Sql.P(g.MaxMemoryMib), Sql.P(g.MaxCpus), Sql.P(g.MaxPids),
    ];
}

namespace Jobplane.Bench;

/// <summary>
/// The peers that jobplane's platform figures are judged against, measured in the same invocation
/// and on the same database server right after the platform scenario: the server's own
/// claim/complete ceiling (<see cref="QueueCeiling"/>) and Hangfire on PostgreSQL
/// (<see cref="HangfireScenario"/>); the process start rate was measured at the platform scenario's
/// start. Absolute figures move from run to run on this shared machine; ratios between figures of
/// one run move far less, so the targets for them are judged on the ratios printed here.
/// </summary>
public sealed class PeerScenarios(BenchOptions options, Report report, string work)
{
    /// <param name="platformRan">Whether the platform scenario ran in this invocation (its figures are the numerators).</param>
    public async Task RunAsync(bool platformRan)
    {
        await RunDatabaseAsync();
        await new HangfireScenario(options, report, work).RunAsync();

        if (!platformRan)
        {
            report.Note("peers: the platform scenario did not run in this invocation (BENCH_ONLY), so the ratios to its figures are not reported; "
                + "ratios are only meaningful between figures of one run");
            return;
        }
        Console.WriteLine("\n== jobplane against its peers (this run)");
        Ratio("noop_drain_vs_pg_ceiling", "No-op drain / PostgreSQL claim/complete ceiling", "drain_noop_per_s", "pg_claim_complete_ceiling_per_s",
            Target.Min(0.40), "the issue's target is a no-op drain of 10,000 jobs/s or 40% of this run's ceiling: either one suffices");
        Ratio("noop_drain_vs_hangfire", "No-op drain / Hangfire's no-op drain", "drain_noop_per_s", "hangfire_noop_drain_per_s", Target.Min(30), null);
        Ratio("exec_drain_vs_process_starts", "Exec drain of `true` / process start rate of `true`", "drain_exec_per_s", "process_start_per_s",
            Target.Min(0.80), "each exec job starts two programs (setpriv, then the job); see the chain's own start rate above");
    }

    /// <summary>
    /// The database's own figures: the claim/complete ceiling and the platform's store on the same
    /// backlog (BENCH_ONLY=store runs only these: a quick loop for work on the schema and the queue's SQL).
    /// </summary>
    public async Task RunDatabaseAsync()
    {
        await using (var db = await BenchDatabase.CreateAsync(options.ServerConnectionString, "ceiling", migrate: false))
        {
            await new QueueCeiling(options, db, report).RunAsync();
        }
        // The platform's own claim and completion on the same backlog, batch and server: what its
        // schema and SQL cost beyond the least a queue can cost.
        await using (var db = await BenchDatabase.CreateAsync(options.ServerConnectionString, "store"))
        {
            await new StoreDrain(options, db, report).RunAsync();
        }
        Ratio("store_drain_vs_pg_ceiling", "Store alone (claim + complete) / PostgreSQL claim/complete ceiling", "store_drain_per_s",
            "pg_claim_complete_ceiling_per_s", null, "the ceiling has 4 or 8 clients, the store 4");
    }

    private void Ratio(string key, string name, string numerator, string denominator, Target? target, string? note)
    {
        var (top, bottom) = (report.Find(numerator), report.Find(denominator));
        if (top is null || bottom is null || !double.IsFinite(top.Value) || !double.IsFinite(bottom.Value) || bottom.Value <= 0)
        {
            report.Note($"{key}: not reported ({(top is null ? numerator : denominator)} was not measured in this run)");
            return;
        }
        report.Add(new Figure(key, name, top.Value / bottom.Value, "x", target,
            $"{Report.Format(top.Value)} {top.Unit} / {Report.Format(bottom.Value)} {bottom.Unit}" + (note is null ? "" : $"; {note}")));
    }
}

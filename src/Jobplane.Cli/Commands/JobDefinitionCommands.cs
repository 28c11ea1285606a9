using System.CommandLine;
using System.Globalization;
using Jobplane.Api;
using Jobplane.Cli.Output;
using Jobplane.Client;

namespace Jobplane.Cli.Commands;

/// <summary>`create`, `run` and `submit` (= create + run): defining jobs and starting executions.</summary>
internal static class JobDefinitionCommands
{
    /// <summary>The flags of a job definition, shared by create and submit so they cannot drift apart.</summary>
    private sealed class DefinitionOptions
    {
        public Option<string> Name { get; } = new("--name", "-n") { Description = "Job name", Required = true, HelpName = "NAME" };

        public Option<string> Image { get; } = new("--image", "-i")
        {
            Description = "Container image (for the exec runtime it is ignored: pass 'exec')",
            Required = true,
            HelpName = "IMAGE",
        };

        public Option<string[]> Command { get; } = new("--command", "-c")
        {
            Description = "One argument of the command; repeat for each: -c echo -c 'hello world'. Commas are not split; "
                + "an argument that is also a jobctl flag (e.g. -c) is written -c=-c",
            HelpName = "ARG",
        };

        /// <summary>The command after "--" (or as trailing arguments): `jobctl create ... -- sh -c 'echo hi'`.</summary>
        public Argument<string[]> Trailing { get; } = new("COMMAND")
        {
            Description = "The command and its arguments, after --: jobctl submit --name n --image exec -- sh -c 'echo hi'. Appended to any -c arguments",
            Arity = ArgumentArity.ZeroOrMore,
        };

        public Option<int?> Timeout { get; } = CliOptions.Int("--timeout", "Default timeout of an attempt, in seconds", 1);
        public Option<Priority?> Priority { get; } = CliOptions.Priority("Job priority [default: normal]");
        public Option<int?> MaxAttempts { get; } = CliOptions.Int("--max-attempts", "Attempts before the execution goes to the DLQ", 1);

        public Option<double?> BackoffBase { get; } = CliOptions.PositiveSeconds("--retry-backoff-base",
            "Wait before the first retry, in seconds (> 0); retry n waits between half and all of base * 2^(n-1), "
            + "capped by --retry-backoff-max [default: the controller's]");

        public Option<double?> BackoffMax { get; } = CliOptions.PositiveSeconds("--retry-backoff-max",
            "Longest wait between retries, in seconds (> 0, >= --retry-backoff-base) [default: the controller's]");

        public Option<int[]> NoRetryExitCodes { get; } = CliOptions.ExitCodes("--no-retry-exit-code",
            "An exit code (1..255) that means a permanent failure: the execution fails at once, without retry. Repeat for each code");

        public Option<int?> Memory { get; } = CliOptions.Int("--memory",
            "Memory the job's container may use, in MiB (6..1048576; no swap on top) [default: the worker's]", 6);

        public Option<double?> Cpus { get; } = CliOptions.Double("--cpus",
            "CPUs the job's container may use, e.g. 0.5 or 2 (0.01..1024) [default: the worker's]", 0.01);

        public Option<int?> Pids { get; } = CliOptions.Int("--pids",
            "Processes and threads the job's container may run at once (1..1000000) [default: the worker's]", 1);

        public Option<bool> Network { get; } = new("--network")
        {
            Description = "The job asks for network access (the administrator must allow network for the tenant; "
                + "docker workers give it the network DOCKER_NETWORK names)",
        };

        public Option<bool> RunAsRoot { get; } = new("--run-as-root")
        {
            Description = "The job asks to run as root instead of the worker's non-root user "
                + "(docker workers allow it only with DOCKER_ALLOW_ROOT=true; elsewhere the attempt fails without retry)",
        };

        public void AddTo(Command command)
        {
            command.Options.Add(Name);
            command.Options.Add(Image);
            command.Options.Add(Command);
            command.Options.Add(Timeout);
            command.Options.Add(Priority);
            command.Options.Add(MaxAttempts);
            command.Options.Add(BackoffBase);
            command.Options.Add(BackoffMax);
            command.Options.Add(NoRetryExitCodes);
            command.Options.Add(Memory);
            command.Options.Add(Cpus);
            command.Options.Add(Pids);
            command.Options.Add(Network);
            command.Options.Add(RunAsRoot);
            command.Arguments.Add(Trailing);
            // Both given and in the wrong order: say so before sending, as for any other bad value.
            command.Validators.Add(result =>
            {
                if (CliOptions.ValidValue(result, BackoffBase) is { } b && CliOptions.ValidValue(result, BackoffMax) is { } m && b > m)
                    result.AddError($"--retry-backoff-base ({Seconds(b)}) must not be greater than --retry-backoff-max ({Seconds(m)})");
            });
        }

        public CreateJobRequest Read(ParseResult parseResult)
        {
            string[] arguments = [.. parseResult.GetValue(Command) ?? [], .. parseResult.GetValue(Trailing) ?? []];
            int[] exitCodes = [.. (parseResult.GetValue(NoRetryExitCodes) ?? []).Distinct()];
            var resources = new JobResources
            {
                MemoryMib = parseResult.GetValue(Memory),
                Cpus = parseResult.GetValue(Cpus),
                Pids = parseResult.GetValue(Pids),
            };
            return new CreateJobRequest
            {
                Name = parseResult.GetValue(Name),
                Image = parseResult.GetValue(Image),
                Command = arguments is { Length: > 0 } ? arguments : null,
                DefaultTimeout = parseResult.GetValue(Timeout),
                Priority = parseResult.GetValue(Priority),
                MaxAttempts = parseResult.GetValue(MaxAttempts),
                RetryBackoffBase = parseResult.GetValue(BackoffBase),
                RetryBackoffMax = parseResult.GetValue(BackoffMax),
                NonRetryableExitCodes = exitCodes is { Length: > 0 } ? exitCodes : null,
                // Nothing asked: no resources object at all, as for a job defined through the API without one.
                Resources = resources == new JobResources() ? null : resources,
                Network = parseResult.GetValue(Network) ? true : null,
                // Not asked: left out, as for network, so the body is what it was before the flag existed.
                RunAsRoot = parseResult.GetValue(RunAsRoot) ? true : null,
            };
        }

        private static string Seconds(double value) => value.ToString(CultureInfo.InvariantCulture);
    }

    private const string IdempotencyKeyHelp =
        "Sent as the Idempotency-Key header (1..255 printable ASCII): repeating the request with the same key "
        + "within 24 h starts nothing new and prints the execution the first one created";

    /// <summary>A replayed run is not an error (the id is printed as usual), but the user should know nothing new started.</summary>
    private static void NoteReplay(CommandContext context, RunJobResponse run, string? idempotencyKey)
    {
        if (run.Replayed == true)
            context.Err.WriteLine($"note: Idempotency-Key {idempotencyKey} was used before; this is the execution it created");
    }

    public static Command Create(JobctlRuntime runtime)
    {
        var definition = new DefinitionOptions();
        var command = new Command("create", "Create a job definition; prints the job id");
        definition.AddTo(command);
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var created = await context.Api.CreateJobAsync(definition.Read(parseResult), ct);
            return context.Write(created, (o, x) => o.WriteLine(x.JobId));
        }));
        return command;
    }

    public static Command Run(JobctlRuntime runtime)
    {
        var jobId = CliOptions.Id("JOB_ID", "The job to run");
        var schedule = CliOptions.Schedule();
        var timeout = CliOptions.Int("--timeout", "Timeout of this execution in seconds (overrides the job's default)", 1);
        var priority = CliOptions.Priority("Priority of this execution (overrides the job's)");
        var idempotencyKey = CliOptions.IdempotencyKey(IdempotencyKeyHelp);
        var count = CliOptions.Int("--count", "Start this many executions in one request (>= 1); prints their ids, one per line", 1);
        var command = new Command("run", "Start an execution of a job; prints the execution id (with --count N: N executions, one id per line)")
        {
            jobId, schedule, timeout, priority, idempotencyKey, count,
        };
        command.Validators.Add(result =>
        {
            // The controller refuses the header on batch runs: say so before sending anything.
            if (result.GetResult(count) is not null && result.GetResult(idempotencyKey) is not null)
                result.AddError("--idempotency-key cannot be used with --count (a batch run is not idempotent); run one at a time for that");
        });
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            if (parseResult.GetValue(count) is { } n)
            {
                var batch = await context.Api.RunJobManyAsync(parseResult.GetValue(jobId), new BatchRunRequest
                {
                    Count = n,
                    ScheduledAt = parseResult.GetValue(schedule),
                    Timeout = parseResult.GetValue(timeout),
                    Priority = parseResult.GetValue(priority),
                }, ct);
                return context.Write(batch, (o, x) =>
                {
                    foreach (var id in x.ExecutionIds)
                        o.WriteLine(id);
                });
            }

            var request = new RunJobRequest
            {
                ScheduledAt = parseResult.GetValue(schedule),
                Timeout = parseResult.GetValue(timeout),
                Priority = parseResult.GetValue(priority),
            };
            var key = parseResult.GetValue(idempotencyKey);
            var run = await context.Api.RunJobAsync(parseResult.GetValue(jobId), request, key, ct);
            NoteReplay(context, run.Value, key);
            return context.Write(run, (o, x) => o.WriteLine(x.ExecutionId));
        }));
        return command;
    }

    public static Command Submit(JobctlRuntime runtime)
    {
        var definition = new DefinitionOptions();
        var schedule = CliOptions.Schedule();
        var idempotencyKey = CliOptions.IdempotencyKey(IdempotencyKeyHelp
            + " (the job itself is created or updated by name, so a retried submit defines nothing new either)");
        var command = new Command("submit", "Create (or update, by name) a job and run it at once; prints the execution id "
            + "(as run does; the job id goes to stderr, and both are in -o json)");
        definition.AddTo(command);
        command.Options.Add(schedule);
        command.Options.Add(idempotencyKey);
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var key = parseResult.GetValue(idempotencyKey);
            var created = await context.Api.CreateJobAsync(definition.Read(parseResult), ct);
            ApiResponse<RunJobResponse> run;
            try
            {
                run = await context.Api.RunJobAsync(created.Value.JobId, new RunJobRequest { ScheduledAt = parseResult.GetValue(schedule) }, key, ct);
            }
            catch (ApiException e) when (key is not null && e.Status == System.Net.HttpStatusCode.Conflict)
            {
                // Running it again with this key would only conflict again: the key belongs to another job's run.
                context.Err.WriteLine($"note: job {created.Value.JobId} was created or updated but not run: Idempotency-Key {key} "
                    + "was already used to run a different job; use a new key");
                throw;
            }
            catch (Exception e) when (e is ApiException or ControllerUnreachableException or UnexpectedResponseException)
            {
                // The job exists now; say so, so that a retry runs it instead of defining it twice.
                var rerun = key is null ? "" : $" --idempotency-key '{key.Replace("'", "'\\''", StringComparison.Ordinal)}'";
                context.Err.WriteLine($"note: job {created.Value.JobId} was created but not run; start it with: jobctl run {created.Value.JobId}{rerun}");
                throw;
            }
            NoteReplay(context, run.Value, key);

            if (context.Json)
            {
                JsonOutput.WriteMergedPretty(context.Out, created.Raw, run.Raw);
                return JobctlRuntime.Ok;
            }
            // The same stdout as run, so that EXEC=$(jobctl submit ...) works alike; the job id is a note.
            context.Err.WriteLine($"note: job {created.Value.JobId}");
            context.Out.WriteLine(run.Value.ExecutionId);
            return JobctlRuntime.Ok;
        }));
        return command;
    }
}

using Jobplane.Worker.Tests.Docker;
using Jobplane.Worker.Tests.Exec;

namespace Jobplane.Worker.Tests.Bounds;

/// <summary>
/// The work root is the worker's private folder: made by the worker when missing, refused when a
/// link, another user or anyone with write access could redirect what the worker deletes; and the
/// start-up sweep removes only what the worker made.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class WorkRootTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("jobplane-workroot-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public void A_missing_work_root_is_created_private_to_the_worker()
    {
        var path = Path.Combine(_scratch, "state", "jobplane", "work");
        var traversable = Path.Combine(_scratch, "jobs", "work");

        Assert.Null(WorkRoot.Prepare(path, traversable: false));
        Assert.Null(WorkRoot.Prepare(traversable, traversable: true));

        Assert.Equal((UnixFileMode)0b111_000_000, File.GetUnixFileMode(path));
        Assert.Equal((UnixFileMode)0b111_000_000, File.GetUnixFileMode(Path.Combine(_scratch, "state")));
        Assert.Equal((UnixFileMode)0b111_001_001, File.GetUnixFileMode(traversable));
        // Preparing again changes nothing and refuses nothing.
        Assert.Null(WorkRoot.Prepare(path, traversable: false));
    }

    [Fact]
    public void A_symbolic_link_anywhere_on_the_path_is_refused()
    {
        var real = Directory.CreateDirectory(Path.Combine(_scratch, "real")).FullName;
        var link = Path.Combine(_scratch, "link");
        File.CreateSymbolicLink(link, real);

        var problem = WorkRoot.Prepare(Path.Combine(link, "work"), traversable: false);
        var last = WorkRoot.Prepare(link, traversable: false);

        Assert.Equal($"RUNTIME_WORKDIR {link}/work: {link} is a symbolic link; give a path without links (whoever can change a link can send the worker's deletes elsewhere)", problem);
        Assert.StartsWith($"RUNTIME_WORKDIR {link}: {link} is a symbolic link", last, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(real, "work")), "the worker created a folder through the link");
    }

    [Fact]
    public void A_work_root_of_another_user_is_refused()
    {
        Assert.True(Environment.IsPrivilegedProcess, "giving a folder to another user needs root");
        var theirs = Directory.CreateDirectory(Path.Combine(_scratch, "theirs")).FullName;
        File.SetUnixFileMode(theirs, (UnixFileMode)0b111_000_000);
        Assert.Equal(0, Runtimes.LibC.LChown(theirs, 12345, 12345));

        Assert.Equal($"RUNTIME_WORKDIR {theirs} belongs to user 12345, not to the worker's user 0: the work root must be the worker's own",
            WorkRoot.Prepare(theirs, traversable: false));
    }

    [Fact]
    public void A_work_root_others_may_write_is_refused()
    {
        var open = Directory.CreateDirectory(Path.Combine(_scratch, "open")).FullName;
        File.SetUnixFileMode(open, (UnixFileMode)0b111_111_111);
        var group = Directory.CreateDirectory(Path.Combine(_scratch, "group")).FullName;
        File.SetUnixFileMode(group, (UnixFileMode)0b111_111_000);

        Assert.Equal($"RUNTIME_WORKDIR {open} is writable by group or others (mode 777): make it 0700 or 0711", WorkRoot.Prepare(open, traversable: true));
        Assert.Equal($"RUNTIME_WORKDIR {group} is writable by group or others (mode 770): make it 0700", WorkRoot.Prepare(group, traversable: false));
    }

    [Fact]
    public void The_default_is_a_private_state_folder_never_the_shared_tmp()
    {
        Assert.Equal("/var/lib/jobplane/work", WorkRoot.Default(0, _ => null));
        Assert.Equal("/srv/state/jobplane/work", WorkRoot.Default(1000, k => k == "XDG_STATE_HOME" ? "/srv/state" : "/home/ann"));
        Assert.Equal("/home/ann/.local/state/jobplane/work", WorkRoot.Default(1000, k => k == "HOME" ? "/home/ann" : null));
        // A relative XDG_STATE_HOME is invalid by the XDG rules and ignored.
        Assert.Equal("/home/ann/.local/state/jobplane/work", WorkRoot.Default(1000, k => k == "XDG_STATE_HOME" ? "state" : "/home/ann"));
    }

    [Fact]
    public async Task The_exec_sweep_leaves_links_and_foreign_entries_alone_and_follows_nothing()
    {
        Assert.True(Environment.IsPrivilegedProcess, "planting another user's folder needs root");
        using var exec = new ExecHarness();
        var (outside, canary, link, foreign, mine) = Plant(Path.Combine(exec.WorkRoot, exec.WorkerId));

        await exec.Runtime.CleanupOrphansAsync(CancellationToken.None);

        AssertOnlyMineRemoved(outside, canary, link, foreign, mine);
        Assert.Contains(exec.Logger.Entries, e => e.Message == $"Orphan cleanup of worker {exec.WorkerId} leaves {link} alone: it is a symbolic link, which the worker never makes");
        Assert.Contains(exec.Logger.Entries, e => e.Message == $"Orphan cleanup of worker {exec.WorkerId} leaves {foreign} alone: it belongs to user 12345, neither the worker's nor a job's");
        Directory.Delete(outside, recursive: true);
    }

    [Fact]
    public async Task The_docker_sweep_leaves_links_and_foreign_entries_alone_and_follows_nothing()
    {
        Assert.True(Environment.IsPrivilegedProcess, "planting another user's folder needs root");
        await using var docker = new DockerHarness();
        var (outside, canary, link, foreign, mine) = Plant(Path.Combine(docker.WorkRoot, docker.WorkerId));

        await docker.Runtime.CleanupOrphansAsync(CancellationToken.None);

        AssertOnlyMineRemoved(outside, canary, link, foreign, mine);
        Assert.Contains(docker.Logger.Entries, e => e.Message.EndsWith($"leaves {link} alone: it is a symbolic link, which the worker never makes", StringComparison.Ordinal));
        Directory.Delete(outside, recursive: true);
    }

    /// <summary>
    /// In a worker's folder: a link to a folder outside (with a canary file in it), a folder of a
    /// user that is neither the worker nor a job user, and an attempt folder the worker made.
    /// </summary>
    private (string Outside, string Canary, string Link, string Foreign, string Mine) Plant(string workerRoot)
    {
        Directory.CreateDirectory(workerRoot);
        File.SetUnixFileMode(workerRoot, (UnixFileMode)0b111_000_000);
        var outside = Directory.CreateTempSubdirectory("jobplane-outside-").FullName;
        var canary = Path.Combine(outside, "keep");
        File.WriteAllText(canary, "still here");
        var link = Path.Combine(workerRoot, $"{Guid.NewGuid():D}-1");
        File.CreateSymbolicLink(link, outside);
        var foreign = Directory.CreateDirectory(Path.Combine(workerRoot, $"{Guid.NewGuid():D}-1")).FullName;
        File.WriteAllText(Path.Combine(foreign, "theirs"), "x");
        Assert.Equal(0, Runtimes.LibC.LChown(foreign, 12345, 12345));
        var mine = Directory.CreateDirectory(Path.Combine(workerRoot, $"{Guid.NewGuid():D}-1")).FullName;
        File.WriteAllText(Path.Combine(mine, "result.json"), "{}");
        return (outside, canary, link, foreign, mine);
    }

    private static void AssertOnlyMineRemoved(string outside, string canary, string link, string foreign, string mine)
    {
        Assert.Equal("still here", File.ReadAllText(canary));
        Assert.Single(Directory.EnumerateFileSystemEntries(outside));
        Assert.True(File.Exists(link) || Directory.Exists(link), "the planted link itself was removed");
        Assert.True(File.Exists(Path.Combine(foreign, "theirs")), "another user's folder was emptied");
        Assert.False(Directory.Exists(mine), "the worker's own leftover is still there");
    }
}

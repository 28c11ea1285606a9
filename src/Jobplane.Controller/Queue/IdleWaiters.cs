using System.Globalization;

namespace Jobplane.Controller.Queue;

/// <summary>
/// Long-polls that found nothing to claim, waiting in arrival order per claim shape (the tenants,
/// runtime and grants a claim filters by: waiters of one shape would claim the same rows).
/// <para>A ready notification wakes only the first waiter of each shape, and a waiter whose claim got
/// work wakes two more of its shape. A single new job costs one claim that takes it and at most two
/// that find nothing, however many workers wait; a burst fans out (1, 2, 4, ...) to every waiter in
/// a few rounds. Waking them all at once, as before, made one claim per idle worker per
/// notification, all queued on the same rows, and the worker that got the job was often behind
/// hundreds of empty claims.</para>
/// <para>The first waiter of each shape is also woken on a timer (<see cref="ReadySignal.RecheckInterval"/>),
/// since work can become claimable without a notification (a tenant's concurrency cap freeing up) and
/// a notification is only a hint. Nothing here decides what is claimed: a wake is a reason to ask the
/// database again, and waking the wrong waiter costs one empty claim, never work.</para>
/// </summary>
public sealed class IdleWaiters
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Line> _lines = new(StringComparer.Ordinal);
    private long _notifications;
    private long _wakes;
    private long _recheckWakes;

    /// <summary>The waiters of one shape, and the last notification one of them was woken by.</summary>
    private sealed class Line : LinkedList<Waiter>
    {
        public long ServedNotification = -1;
    }

    /// <summary>One waiting long-poll.</summary>
    public sealed class Waiter
    {
        private readonly TaskCompletionSource _woken = new(TaskCreationOptions.RunContinuationsAsynchronously);

        internal Waiter(string shape) => Shape = shape;

        internal string Shape { get; }
        internal LinkedListNode<Waiter>? Node { get; set; }

        /// <summary>Completes when it is this waiter's turn to claim again.</summary>
        public Task Woken => _woken.Task;

        internal void Wake() => _woken.TrySetResult();
    }

    /// <summary>
    /// Ready notifications so far. A claim reads it before it starts: a notification during the claim
    /// may have found nobody of the claim's shape waiting, and then the claim must not go to sleep.
    /// </summary>
    public long Notifications => Interlocked.Read(ref _notifications);

    /// <summary>Turns given so far, and how many of them by the periodic re-check (for tests).</summary>
    internal long Wakes => Interlocked.Read(ref _wakes);
    internal long RecheckWakes => Interlocked.Read(ref _recheckWakes);

    /// <summary>Waiters queued now, all shapes.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                var n = 0;
                foreach (var line in _lines.Values) n += line.Count;
                return n;
            }
        }
    }

    /// <summary>
    /// Queues a long-poll whose claim found nothing. If the latest notification came after
    /// <paramref name="seenNotifications"/> and found no waiter of its shape to wake, the waiter comes
    /// back already woken: it claims again instead of sleeping through it.
    /// </summary>
    public Waiter Enter(string shape, long seenNotifications)
    {
        var waiter = new Waiter(shape);
        lock (_gate)
        {
            _lines.TryGetValue(shape, out var line);
            var latest = Notifications;
            if (latest != seenNotifications && (line is null || line.ServedNotification != latest))
            {
                waiter.Wake();
                return waiter;
            }
            if (line is null) _lines[shape] = line = new Line();
            waiter.Node = line.AddLast(waiter);
        }
        return waiter;
    }

    /// <summary>
    /// The waiter stops waiting (it was woken, its wait ran out, or its client went away). One that was
    /// woken and will not claim (<paramref name="claimsAgain"/> false) passes its turn to the next of its shape.
    /// </summary>
    public void Leave(Waiter waiter, bool claimsAgain)
    {
        lock (_gate)
        {
            if (waiter.Node is { } node)
            {
                Unlink(node);
                return;
            }
        }
        if (!claimsAgain && waiter.Woken.IsCompleted) WakeNext(waiter.Shape, 1);
    }

    /// <summary>A ready notification: the first waiter of every shape claims.</summary>
    public void Notified()
    {
        lock (_gate)
        {
            var n = Interlocked.Increment(ref _notifications);
            WakeFirstOfEachLine(n);
        }
    }

    /// <summary>The periodic re-check: the first waiter of every shape claims.</summary>
    public void Recheck()
    {
        lock (_gate) Interlocked.Add(ref _recheckWakes, WakeFirstOfEachLine(null));
    }

    /// <summary>A claim of this shape got work: up to <paramref name="count"/> more waiters of it claim too.</summary>
    public void WakeNext(string shape, int count)
    {
        lock (_gate)
        {
            if (!_lines.TryGetValue(shape, out var line)) return;
            for (var i = 0; i < count && line.First is { } first; i++) Pop(first);
        }
    }

    private int WakeFirstOfEachLine(long? notification)
    {
        // An empty line is kept until the next of these, to remember which notification it served;
        // so this walks only the shapes someone waited in since the last one (a second ago at most).
        var woken = 0;
        foreach (var (shape, line) in _lines.ToArray())
        {
            if (line.First is not { } first)
            {
                _lines.Remove(shape);
                continue;
            }
            if (notification is { } n) line.ServedNotification = n;
            Pop(first);
            woken++;
        }
        return woken;
    }

    private void Pop(LinkedListNode<Waiter> node)
    {
        Unlink(node);
        Interlocked.Increment(ref _wakes);
        node.Value.Wake();
    }

    private static void Unlink(LinkedListNode<Waiter> node)
    {
        node.List!.Remove(node);
        node.Value.Node = null;
    }

    /// <summary>
    /// The shape of a claim: everything the claim filters by, so that two claims of one shape see the
    /// same ready rows. (The limit and the worker's name are not part of it.)
    /// </summary>
    public static string ShapeOf(DequeueClaim claim)
    {
        var g = claim.Grants;
        var classes = g.Classes is { } c ? string.Join(',', c.Order(StringComparer.Ordinal)) : "*";
        var tenants = "*";
        if (claim.Tenants is { } t)
        {
            var sorted = (Guid[])t.Clone();
            Array.Sort(sorted);
            tenants = string.Join(',', sorted);
        }
        return string.Create(CultureInfo.InvariantCulture,
            $"{claim.Runtime ?? "-"}|{classes}|{g.Network}|{g.RunAsRoot}|{g.MaxMemoryMib}|{g.MaxCpus}|{g.MaxPids}|{tenants}");
    }
}

using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace MoePlan.Scheduling.Confinement;

/// <summary>Why a hook call was stopped.</summary>
public enum BudgetLimit
{
    /// <summary>Wall time of the call.</summary>
    Time,

    /// <summary>Call depth (the thread's stack is nearly used up).</summary>
    Stack,

    /// <summary>Bytes allocated during the call, or one allocation's size.</summary>
    Memory,
}

/// <summary>
/// Thrown by the checks the script compiler inserts into a script when a hook call exceeds its budget. Scripts
/// cannot name this type nor catch every exception, so it always reaches the host.
/// </summary>
public sealed class ScriptBudgetExceededException(BudgetLimit limit, string message) : Exception(message)
{
    /// <summary>The limit that was hit.</summary>
    public BudgetLimit Limit { get; } = limit;
}

/// <summary>
/// The per-call budget of a hook. The host opens it around each hook call; the script compiler inserts
/// <see cref="Check"/> at every loop iteration, goto, and method, local-function, accessor and lambda entry,
/// and routes array lengths and BCL size arguments (count, capacity, ...) through <see cref="Size(int)"/>.
/// Not part of the script API: scripts may not reference it (the confinement check rejects it).
/// </summary>
public static class ScriptBudget
{
    [ThreadStatic]
    private static long _deadlineTicks;

    [ThreadStatic]
    private static long _allocationStart;

    [ThreadStatic]
    private static long _allocationLimit;

    [ThreadStatic]
    private static long _sizeLimit;

    [ThreadStatic]
    private static bool _open;

    [ThreadStatic]
    private static long _stackBase;

    [ThreadStatic]
    private static int _checks;

    [ThreadStatic]
    private static ScriptBudgetExceededException? _stopped;

    /// <summary>
    /// The clock is read at every 16th check (it costs tens of ns, a hot loop's iteration a few): a runaway loop
    /// is stopped 16 iterations later at most. The allocation counter is read at every check, as 16 iterations
    /// can allocate without bound (a string doubling itself).
    /// </summary>
    private const int SampleMask = 15;

    /// <summary>
    /// Stack a hook call may use: 1 MiB, an eighth of the main thread's 8 MiB default. An assumption: a scheduling
    /// decision needs a few frames; deeper is runaway recursion, stopped long before the stack overflows.
    /// </summary>
    public const long StackBytes = 1 << 20;

    /// <summary>Opens the budget for one hook call on this thread.</summary>
    public static void Open(TimeSpan time, long allocationBytes, long maxElements)
    {
        _deadlineTicks = Stopwatch.GetTimestamp() + (long)(time.TotalSeconds * Stopwatch.Frequency);
        _allocationStart = GC.GetAllocatedBytesForCurrentThread();
        _allocationLimit = allocationBytes;
        _sizeLimit = maxElements;
        _stackBase = StackAddress();
        _stopped = null;
        _open = true;
    }

    /// <summary>
    /// The first stop of the open call, or null: the call failed even when the script caught the stop (a
    /// <c>catch</c> around a BCL call that wraps it, such as <c>Array.Sort</c> with a looping comparer).
    /// </summary>
    public static ScriptBudgetExceededException? Stopped => _stopped;

    /// <summary>Closes it (script code run outside a call, e.g. in a test, is then unchecked).</summary>
    public static void Close() => _open = false;

    /// <summary>Throws <see cref="ScriptBudgetExceededException"/> when the open call is over budget.</summary>
    public static void Check()
    {
        if (!_open)
        {
            return;
        }

        // Stops deep recursion before the stack overflows (which would kill the process); the stack grows down.
        if (_stackBase - StackAddress() > StackBytes || !RuntimeHelpers.TryEnsureSufficientExecutionStack())
        {
            throw Stop(BudgetLimit.Stack, "recursed too deeply (the stack is nearly used up)");
        }

        if ((++_checks & SampleMask) == 0)
        {
            CheckClock();
        }

        if (GC.GetAllocatedBytesForCurrentThread() - _allocationStart > _allocationLimit)
        {
            throw Stop(BudgetLimit.Memory, $"allocated more than {_allocationLimit / (1024 * 1024)} MiB");
        }
    }

    private static void CheckClock()
    {
        if (Stopwatch.GetTimestamp() > _deadlineTicks)
        {
            throw Stop(BudgetLimit.Time, "ran out of its time budget");
        }
    }

    /// <summary>An array length or a BCL size argument: checked against the element limit.</summary>
    public static int Size(int n) => (int)Size((long)n);

    /// <inheritdoc cref="Size(int)"/>
    public static long Size(long n)
    {
        Check();
        if (_open)
        {
            CheckClock();
        }

        if (_open && n > _sizeLimit)
        {
            throw Stop(BudgetLimit.Memory, $"asked for {n:N0} elements (the limit is {_sizeLimit:N0})");
        }

        return n;
    }

    private static unsafe long StackAddress()
    {
        byte marker = 0;
        return (long)&marker;
    }

    // The budget stays open until the host closes it, so a loop in a finally block is stopped too.
    private static ScriptBudgetExceededException Stop(BudgetLimit limit, string message)
    {
        var stop = new ScriptBudgetExceededException(limit, message);
        _stopped ??= stop;
        return stop;
    }
}

using System.Globalization;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Text;
using MoePlan.Scheduling;
using MoePlan.Scripting.Isolation;
using MoePlan.Serving.Proxy;

namespace MoePlan.Scripting;

/// <summary>The budget of one hook call.</summary>
/// <param name="PerCall">Wall time per call (the script host stops the script at its next check).</param>
/// <param name="AllocationBytes">Bytes the call may allocate.</param>
/// <param name="MaxElements">Largest array length or BCL size argument.</param>
public sealed record ScriptBudgetOptions(TimeSpan PerCall, long AllocationBytes, long MaxElements)
{
    /// <summary>
    /// 100 ms, 64 MiB, 16 Mi elements. Assumptions, not measurements: a proxy decision of a real router takes
    /// microseconds, so these leave orders of magnitude of headroom yet stop a runaway script within a blink.
    /// </summary>
    public static readonly ScriptBudgetOptions Default = new(TimeSpan.FromMilliseconds(100), 64L << 20, 16L << 20);

    /// <summary>
    /// Time past <see cref="PerCall"/> after which the watchdog kills the script host: for code the budget's checks
    /// do not reach (a BCL loop, a stop the script swallowed). 1 s: a GC pause of the child on a loaded machine is
    /// not a hang.
    /// </summary>
    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The script host's GC heap cap (<c>DOTNET_GCHeapHardLimit</c>): 256 MiB, four times a call's allocation budget.</summary>
    public long HeapBytes { get; init; } = 256L << 20;

    public string Describe() => $"{PerCall.TotalMilliseconds:0.###} ms, {AllocationBytes >> 20} MiB, {MaxElements:N0} elements";
}

/// <summary>Why a hook call failed, as the live proxy counts it (<c>kind</c> label of its failure counter).</summary>
public enum ScriptFailureKind
{
    /// <summary>Over the call's time budget: stopped by the script host, or the script host killed by the watchdog.</summary>
    Timeout,

    /// <summary>Over the call's allocation budget or the script host's heap cap.</summary>
    Memory,

    /// <summary>Over the budget's call depth (the script host stopped it; an uncaught overflow is a <see cref="Crash"/>).</summary>
    Stack,

    /// <summary>The script host died (a stack overflow where no check runs, an abort, out of memory).</summary>
    Crash,

    /// <summary>The script threw.</summary>
    Exception,

    /// <summary>The script returned an impossible decision (an instance that does not exist, NaN) or no scheduler.</summary>
    Invalid,
}

/// <summary>One failed hook call under fallback: the default policy made its decision.</summary>
/// <param name="Hook">The hook (<c>Admit</c>, <c>ChoosePrefill</c>, <c>ChooseDecode</c>, <c>PrefillPriority</c>, or <c>TopLevel</c> for the script's top level).</param>
/// <param name="Detail">What happened, without what the run does about it.</param>
/// <param name="Diagnostic">The failure as the run without fallback would report it.</param>
/// <param name="Next">What the policy does now: <see cref="ScriptRecovery"/>.</param>
public sealed record ScriptHookFailure(string Hook, ScriptFailureKind Kind, string Detail, Diagnostic Diagnostic, ScriptRecovery Next);

/// <summary>What a script policy does after a failed call.</summary>
public enum ScriptRecovery
{
    /// <summary>The script host lives on: the next call goes to the script again.</summary>
    Continue,

    /// <summary>The script host is gone and is being restarted (the default policy decides meanwhile).</summary>
    Restarting,

    /// <summary>The script is not called again (its top level failed, or no restart is left): the default policy decides from now on.</summary>
    Disabled,
}

/// <summary>A hook call that was stopped or failed, as its diagnostic (the run ends with it).</summary>
public sealed class SchedulerHookException(Diagnostic diagnostic) : Exception(diagnostic.ToString())
{
    public Diagnostic Diagnostic { get; } = diagnostic;
}

/// <summary>
/// A scheduler script as a routing policy with the admission and queue-order hooks. The script runs in a script
/// host process of its own (<see cref="ScriptHostProcess"/>), started at the first decision; each hook call sends
/// the state as a message, runs within the budget there, and returns a value the host validates. A call that is
/// stopped, throws, returns an impossible decision, or kills the script host ends the run with a diagnostic at the
/// script's line (or the hook's), or, with <paramref name="fallback"/>, takes the default policy's decision and is
/// counted in <see cref="Fallbacks"/>. A dead script host is restarted up to <see cref="MaxRestarts"/> times, in the
/// background (the default policy decides meanwhile); past that, or with none (a run's default), the rest is the
/// default's. Not thread-safe: one caller at a time (the simulation's loop, the proxy router's lock).
/// </summary>
public sealed class ScriptPolicy(CompiledScheduler script, ScriptBudgetOptions budget, bool fallback) : IRoutingPolicy, ISchedulingHooks, IDisposable
{
    private ScriptHostProcess? _host;
    private volatile bool _disabled;
    private byte _overrides;
    private Task<Started>? _restart;
    private bool _disposed;
    private ISchedulingState? _state;
    private RequestState[] _requests = [];

    public string Name => script.Name;

    /// <summary>A failing hook takes the default policy's decision instead of ending the run.</summary>
    public bool Fallback => fallback;

    /// <summary>
    /// Times a dead script host (crashed, or killed past its deadline) is started again, under fallback. 0, a run's:
    /// the script is not called again. The live proxy's is a few: a long-lived server outlives an unlucky call.
    /// </summary>
    public int MaxRestarts { get; init; }

    /// <summary>Script hosts started again after one died.</summary>
    public int Restarts { get; private set; }

    /// <summary>The script decides now: its script host runs (not starting, restarting, or given up).</summary>
    public bool Active => !_disabled && (_host is not null || _restart is { IsCompletedSuccessfully: true, Result.Host: not null });

    /// <summary>Each failed call under fallback, as it happens (on the caller's thread).</summary>
    public event Action<ScriptHookFailure>? Failed;

    /// <summary>Unused: the queue order comes from <see cref="Prioritize"/>.</summary>
    public bool WeightedPrefillQueue => true;

    /// <summary>Hook calls whose decision was the default policy's because the script failed.</summary>
    public int Fallbacks { get; private set; }

    /// <summary>The failures behind <see cref="Fallbacks"/> (the first 20), for the warning under fallback.</summary>
    public IReadOnlyList<Diagnostic> Failures => _failures;

    private readonly List<Diagnostic> _failures = [];

    public int ChoosePrefill(RequestState request, IClusterView view)
    {
        var state = (ISchedulingState)view;
        if (TryCall(Hook.ChoosePrefill, state, request, static r => r.ReadInt32(), out int p))
        {
            // -1 holds the request at the proxy until a prefill step ends.
            if (p >= -1 && p < view.PrefillInstances)
            {
                return p;
            }

            Invalid(nameof(Scheduler.ChoosePrefill), p, $"there are {view.PrefillInstances} prefill instances (0 to {view.PrefillInstances - 1}; -1 holds the request)");
        }

        return state.Cluster.Defaults.ChoosePrefill(state.View(request));
    }

    public int ChooseDecode(RequestState request, IClusterView view)
    {
        var state = (ISchedulingState)view;
        if (TryCall(Hook.ChooseDecode, state, request, static r => r.ReadInt32(), out int d))
        {
            if (d == -1 || (d >= 0 && d < view.DecodeInstances && view.DecodeHasRoom(d, request)))
            {
                return d;
            }

            Invalid(nameof(Scheduler.ChooseDecode), d, d >= 0 && d < view.DecodeInstances
                ? $"decode instance {d} has no room for the request (return -1 to let it wait)"
                : $"there are {view.DecodeInstances} decode instances (0 to {view.DecodeInstances - 1}, or -1 to wait)");
        }

        return state.Cluster.Defaults.ChooseDecode(state.View(request));
    }

    public bool Admit(RequestState request, ISchedulingState state) =>
        !TryCall(Hook.Admit, state, request, static r => r.ReadBoolean(), out bool admit) || admit;

    public void Prioritize(int prefill, IReadOnlyList<RequestState> waiting, ISchedulingState state, Span<double> priorities)
    {
        var requests = waiting.ToArray();
        var views = new IRequestView[requests.Length];
        for (int i = 0; i < views.Length; i++)
        {
            views[i] = state.View(requests[i]);
        }

        // The default priorities: the fallback's, and what the script's Defaults.PrefillPriority answers.
        var queue = new PrefillQueueView(prefill, views, state.Cluster.NowMilliseconds);
        var defaults = new double[views.Length];
        for (int i = 0; i < views.Length; i++)
        {
            defaults[i] = state.Cluster.Defaults.PrefillPriority(views[i], queue);
        }

        if (Instance() is { } host && Overrides(Hook.PrefillPriority))
        {
            var w = host.Begin(Hook.PrefillPriority);
            ScriptHostProtocol.WriteCluster(w, state.Cluster);
            w.Write(prefill);
            w.Write(views.Length);
            foreach (var v in views)
            {
                ScriptHostProtocol.WriteRequest(w, v);
            }

            foreach (var x in defaults)
            {
                w.Write(x);
            }

            if (Exchange(host, Hook.PrefillPriority, state, requests, r =>
                {
                    var values = new double[views.Length];
                    for (int i = 0; i < values.Length; i++)
                    {
                        values[i] = r.ReadDouble();
                    }

                    return values;
                }, out var values))
            {
                int bad = Array.FindIndex(values, v => !double.IsFinite(v));
                if (bad < 0)
                {
                    values.CopyTo(priorities);
                    return;
                }

                Invalid(nameof(Scheduler.PrefillPriority), values[bad].ToString(CultureInfo.InvariantCulture), "a priority must be a finite number (NaN and infinities cannot be ordered)");
            }
        }

        defaults.CopyTo(priorities);
    }

    /// <summary>
    /// The script overrides the hook. The others are the default policy's by definition (the base class's hooks
    /// return the defaults), so the host decides them without a message.
    /// </summary>
    private bool Overrides(Hook hook) => (_overrides & (1 << (int)hook)) != 0;

    /// <summary>The script failed for good (its top level, or its script host died with no restart left): it is not called again.</summary>
    public bool Disabled => _disabled;

    /// <summary>
    /// Starts the script host and makes the scheduler now, not at the first decision (the live proxy, before it
    /// listens: a start takes a second or more and would stall the first requests). A failure is reported as a call's.
    /// </summary>
    public void Start() => Instance();

    /// <summary>Ends the script host (it also ends by itself when this process exits), and one being restarted.</summary>
    public void Dispose()
    {
        _disposed = true;
        DropHost();
        if (_restart is { } pending)
        {
            _restart = null;
            pending.ContinueWith(static t => t.Result.Host?.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        }
    }

    private void DropHost()
    {
        _host?.Dispose();
        _host = null;
    }

    /// <summary>
    /// One hook call about one request: true with its value, or false when it failed under fallback (a failure
    /// without fallback throws <see cref="SchedulerHookException"/>) or the script is disabled or restarting.
    /// </summary>
    private bool TryCall<T>(Hook hook, ISchedulingState state, RequestState request, Func<BinaryReader, T> read, out T value)
    {
        value = default!;
        if (Instance() is not { } host || !Overrides(hook))
        {
            return false;
        }

        var w = host.Begin(hook);
        ScriptHostProtocol.WriteCluster(w, state.Cluster);
        ScriptHostProtocol.WriteRequest(w, state.View(request));
        return Exchange(host, hook, state, [request], read, out value);
    }

    private bool Exchange<T>(ScriptHostProcess host, Hook hook, ISchedulingState state, RequestState[] requests, Func<BinaryReader, T> read, out T value)
    {
        value = default!;
        (_state, _requests) = (state, requests);
        try
        {
            if (host.Exchange(Answer, out var failure))
            {
                value = host.ReadValue(read);
                return true;
            }

            Fail(FailureOf(HookName(hook), failure!), ScriptRecovery.Continue);
            return false;
        }
        catch (ScriptHostDiedException e)
        {
            Died(HookName(hook), e);
            return false;
        }
        finally
        {
            (_state, _requests) = (null, []);
        }
    }

    /// <summary>The script host's questions, answered from the host's own state (index and argument checked).</summary>
    private int Answer(Query query, int index, int argument)
    {
        var state = _state!;
        if (index < 0 || index >= _requests.Length)
        {
            throw _host!.Violation($"a query about request {index} of {_requests.Length}");
        }

        var request = state.View(_requests[index]);
        var cluster = state.Cluster;
        return query switch
        {
            Query.MatchedBlocks when argument >= 0 && argument < cluster.Prefill.Count => request.MatchedBlocks(argument),
            Query.HasRoom when argument >= 0 && argument < cluster.Decode.Count => cluster.Decode[argument].HasRoom(request) ? 1 : 0,
            Query.DefaultPrefill => cluster.Defaults.ChoosePrefill(request),
            Query.DefaultDecode => cluster.Defaults.ChooseDecode(request),
            _ => throw _host!.Violation($"a query {query} with argument {argument}"),
        };
    }

    /// <summary>
    /// The script host, started and its scheduler made on the first call; null once disabled, and while a restart
    /// is under way (that call is the default policy's, not counted as a failure).
    /// </summary>
    private ScriptHostProcess? Instance()
    {
        if (_host is not null || _disabled)
        {
            return _host;
        }

        if (_restart is { } pending)
        {
            if (!pending.IsCompleted)
            {
                return null;
            }

            _restart = null;
            Adopt(pending.IsCompletedSuccessfully
                ? pending.Result
                : new Started(null, 0, Crashed(TopLevel, pending.Exception?.InnerException?.Message ?? "the restart failed")));
            return _host;
        }

        Adopt(StartHost());
        return _host;
    }

    /// <summary>A started script host becomes the policy's; one whose top level failed disables the script.</summary>
    private void Adopt(Started started)
    {
        if (started.Host is { } host)
        {
            _host = host;
            _overrides = started.Overrides;
            return;
        }

        _disabled = true;
        Fail(started.Failure!, ScriptRecovery.Disabled);
    }

    /// <summary>
    /// Starts a script host and runs the script's top level in it. Touches no state of the policy, so a restart runs
    /// it on a thread of its own while the caller's decisions go on.
    /// </summary>
    private Started StartHost()
    {
        ScriptHostProcess? host = null;
        try
        {
            host = ScriptHostProcess.Start(script, budget);
            host.Begin(Hook.Create);
            // The top level has no request to ask about: any query is a protocol violation.
            if (host.Exchange((query, _, _) => throw host.Violation($"a query {query} at the script's top level"), out var failure))
            {
                return new Started(host, host.ReadValue(r => r.ReadByte()), null);
            }

            host.Dispose();
            return new Started(null, 0, failure!.Kind == FailureKind.NoScheduler
                ? BadDecision(TopLevel, "null", "it must end with an expression that makes the scheduler")
                : FailureOf(TopLevel, failure));
        }
        catch (ScriptHostDiedException e)
        {
            host?.Dispose();
            return new Started(null, 0, DiedFailure(TopLevel, e));
        }
    }

    /// <summary>
    /// The script host is gone: restarted in the background while restarts are left (under fallback), else no more
    /// calls to the script (under fallback, the default policy decides).
    /// </summary>
    private void Died(string hook, ScriptHostDiedException e)
    {
        DropHost();
        var next = ScriptRecovery.Disabled;
        if (fallback && !_disposed && Restarts < MaxRestarts)
        {
            Restarts++;
            _restart = Task.Run(StartHost);
            next = ScriptRecovery.Restarting;
        }
        else
        {
            _disabled = true;
        }

        Fail(DiedFailure(hook, e), next);
    }

    /// <summary>Ends the run, or under fallback counts the call and tells the <see cref="Failed"/> listeners.</summary>
    private void Fail(CallFailure failure, ScriptRecovery next)
    {
        if (!fallback)
        {
            throw new SchedulerHookException(failure.Diagnostic);
        }

        Fallbacks++;
        if (_failures.Count < 20)
        {
            _failures.Add(failure.Diagnostic);
        }

        Failed?.Invoke(new ScriptHookFailure(failure.Hook == TopLevel ? "TopLevel" : failure.Hook, failure.Kind, failure.Detail, failure.Diagnostic, next));
    }

    private const string TopLevel = "the script's top level";

    private static string HookName(Hook hook) => hook == Hook.Create ? TopLevel : hook.ToString();

    /// <summary>An impossible decision: under fallback the default's is taken (the script host lives on).</summary>
    private void Invalid(string hook, object value, string why) => Fail(BadDecision(hook, value as string ?? Convert.ToString(value, CultureInfo.InvariantCulture)!, why), ScriptRecovery.Continue);

    private CallFailure BadDecision(string hook, string value, string why) =>
        new(hook, ScriptFailureKind.Invalid, $"returned {value}: {why}", DiagnosticCodes.ScriptHookBadDecision.Create(HookLocation(hook), hook, value, why));

    private CallFailure FailureOf(string hook, HostFailure f)
    {
        var at = f.Line > 0 ? ScriptLocation.AtLine(script.Path, script.Text, f.Line) : HookLocation(hook);
        if (f.Kind == FailureKind.Threw)
        {
            return new(hook, ScriptFailureKind.Exception, $"threw {f.ExceptionType}: {f.Message}", DiagnosticCodes.ScriptHookThrew.Create(at, hook, f.ExceptionType, f.Message));
        }

        var kind = f.Kind switch
        {
            FailureKind.Memory => ScriptFailureKind.Memory,
            FailureKind.Stack => ScriptFailureKind.Stack,
            _ => ScriptFailureKind.Timeout,
        };
        return new(hook, kind, $"{f.Message} (budget per call: {budget.Describe()})", DiagnosticCodes.ScriptHookOverBudget.Create(at, hook, f.Message, budget.Describe()));
    }

    private CallFailure DiedFailure(string hook, ScriptHostDiedException e) =>
        e.TimedOut
            ? new(hook, ScriptFailureKind.Timeout, $"{e.Message} (budget per call: {budget.Describe()})", DiagnosticCodes.ScriptHookOverBudget.Create(HookLocation(hook), hook, e.Message, budget.Describe()))
            : Crashed(hook, e.Message);

    private CallFailure Crashed(string hook, string why) =>
        new(hook, ScriptFailureKind.Crash, $"the script host died: {why}", DiagnosticCodes.ScriptHostCrashed.Create(HookLocation(hook), hook, why));

    /// <summary>The hook's override in the script (by name), else the script's first line.</summary>
    private SourceSpan HookLocation(string hook)
    {
        var lines = script.Text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Contains("override", StringComparison.Ordinal) && lines[i].Contains(" " + hook + "(", StringComparison.Ordinal))
            {
                return ScriptLocation.AtLine(script.Path, script.Text, i + 1);
            }
        }

        return ScriptLocation.AtLine(script.Path, script.Text, 1);
    }

    /// <summary>A failed call: its hook, kind, what happened, and its diagnostic.</summary>
    private sealed record CallFailure(string Hook, ScriptFailureKind Kind, string Detail, Diagnostic Diagnostic);

    /// <summary>A script host with its scheduler made and the hooks it overrides, or the failure that stopped it.</summary>
    private sealed record Started(ScriptHostProcess? Host, byte Overrides, CallFailure? Failure);
}

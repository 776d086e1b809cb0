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
/// counted in <see cref="Fallbacks"/> (a dead script host is not restarted: the rest of the run is the default's).
/// </summary>
public sealed class ScriptPolicy(CompiledScheduler script, ScriptBudgetOptions budget, bool fallback) : IRoutingPolicy, ISchedulingHooks, IDisposable
{
    private ScriptHostProcess? _host;
    private bool _disabled;
    private byte _overrides;
    private ISchedulingState? _state;
    private RequestState[] _requests = [];

    public string Name => script.Name;

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

            Fail(BadDecision(nameof(Scheduler.ChoosePrefill), p, $"there are {view.PrefillInstances} prefill instances (0 to {view.PrefillInstances - 1}; -1 holds the request)"));
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

            Fail(BadDecision(nameof(Scheduler.ChooseDecode), d, d >= 0 && d < view.DecodeInstances
                ? $"decode instance {d} has no room for the request (return -1 to let it wait)"
                : $"there are {view.DecodeInstances} decode instances (0 to {view.DecodeInstances - 1}, or -1 to wait)"));
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

                Fail(BadDecision(nameof(Scheduler.PrefillPriority), values[bad].ToString(CultureInfo.InvariantCulture), "a priority must be a finite number (NaN and infinities cannot be ordered)"));
            }
        }

        defaults.CopyTo(priorities);
    }

    /// <summary>
    /// The script overrides the hook. The others are the default policy's by definition (the base class's hooks
    /// return the defaults), so the host decides them without a message.
    /// </summary>
    private bool Overrides(Hook hook) => (_overrides & (1 << (int)hook)) != 0;

    /// <summary>The script failed for good (its top level, or its script host died): it is not called again this run.</summary>
    public bool Disabled => _disabled;

    /// <summary>Ends the script host (it also ends by itself when this process exits).</summary>
    public void Dispose()
    {
        _host?.Dispose();
        _host = null;
    }

    /// <summary>
    /// One hook call about one request: true with its value, or false when it failed under fallback (a failure
    /// without fallback throws <see cref="SchedulerHookException"/>) or the script is disabled.
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

            Fail(Failure(HookName(hook), failure!));
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

    /// <summary>The run's script host, started and its scheduler made on the first call; null once disabled.</summary>
    private ScriptHostProcess? Instance()
    {
        if (_host is not null || _disabled)
        {
            return _host;
        }

        const string topLevel = "the script's top level";
        try
        {
            _host = ScriptHostProcess.Start(script, budget);
            _host.Begin(Hook.Create);
            if (_host.Exchange(Answer, out var failure))
            {
                _overrides = _host.ReadValue(r => r.ReadByte());
            }
            else
            {
                _disabled = true;
                Dispose();
                Fail(failure!.Kind == FailureKind.NoScheduler
                    ? BadDecision(topLevel, "null", "it must end with an expression that makes the scheduler")
                    : Failure(topLevel, failure));
            }
        }
        catch (ScriptHostDiedException e)
        {
            Died(topLevel, e);
        }

        return _host;
    }

    /// <summary>The script host is gone: no more calls to it this run (under fallback, the default policy decides).</summary>
    private void Died(string hook, ScriptHostDiedException e)
    {
        _disabled = true;
        Dispose();
        Fail(e.TimedOut
            ? DiagnosticCodes.ScriptHookOverBudget.Create(HookLocation(hook), hook, e.Message, budget.Describe())
            : DiagnosticCodes.ScriptHostCrashed.Create(HookLocation(hook), hook, e.Message));
    }

    /// <summary>Ends the run, or under fallback counts the call.</summary>
    private void Fail(Diagnostic diagnostic)
    {
        if (!fallback)
        {
            throw new SchedulerHookException(diagnostic);
        }

        Fallbacks++;
        if (_failures.Count < 20)
        {
            _failures.Add(diagnostic);
        }
    }

    private static string HookName(Hook hook) => hook == Hook.Create ? "the script's top level" : hook.ToString();

    private Diagnostic BadDecision(string hook, object value, string why) =>
        DiagnosticCodes.ScriptHookBadDecision.Create(HookLocation(hook), hook, value, why);

    private Diagnostic Failure(string hook, HostFailure f)
    {
        var at = f.Line > 0 ? ScriptLocation.AtLine(script.Path, script.Text, f.Line) : HookLocation(hook);
        return f.Kind == FailureKind.Threw
            ? DiagnosticCodes.ScriptHookThrew.Create(at, hook, f.ExceptionType, f.Message)
            : DiagnosticCodes.ScriptHookOverBudget.Create(at, hook, f.Message, budget.Describe());
    }

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
}

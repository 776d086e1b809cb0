using System.Diagnostics;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Text;
using MoePlan.Scheduling;
using MoePlan.Scheduling.Confinement;
using MoePlan.Serving.Proxy;

namespace MoePlan.Scripting;

/// <summary>The budget of one hook call.</summary>
/// <param name="PerCall">Wall time per call.</param>
/// <param name="AllocationBytes">Bytes the call may allocate.</param>
/// <param name="MaxElements">Largest array length or BCL size argument.</param>
public sealed record ScriptBudgetOptions(TimeSpan PerCall, long AllocationBytes, long MaxElements)
{
    /// <summary>
    /// 100 ms, 64 MiB, 16 Mi elements. Assumptions, not measurements: a proxy decision of a real router takes
    /// microseconds, so these leave orders of magnitude of headroom yet stop a runaway script within a blink.
    /// </summary>
    public static readonly ScriptBudgetOptions Default = new(TimeSpan.FromMilliseconds(100), 64L << 20, 16L << 20);

    public string Describe() => $"{PerCall.TotalMilliseconds:0.###} ms, {AllocationBytes >> 20} MiB, {MaxElements:N0} elements";
}

/// <summary>A hook call that was stopped or failed, as its diagnostic (the run ends with it).</summary>
public sealed class SchedulerHookException(Diagnostic diagnostic) : Exception(diagnostic.ToString())
{
    public Diagnostic Diagnostic { get; } = diagnostic;
}

/// <summary>
/// A scheduler script as a routing policy with the admission and queue-order hooks. Each hook call runs
/// within the budget; a call that is stopped, throws, or returns an impossible decision ends the run with a
/// diagnostic at the script's line, or, with <paramref name="fallback"/>, takes the default policy's decision
/// and is counted in <see cref="Fallbacks"/>.
/// </summary>
public sealed class ScriptPolicy(CompiledScheduler script, ScriptBudgetOptions budget, bool fallback) : IRoutingPolicy, ISchedulingHooks
{
    private Scheduler? _scheduler;
    private bool _disabled;

    public string Name => script.Name;

    /// <summary>Unused: the queue order comes from <see cref="Prioritize"/>.</summary>
    public bool WeightedPrefillQueue => true;

    /// <summary>Hook calls whose decision was the default policy's because the script failed.</summary>
    public int Fallbacks { get; private set; }

    public int ChoosePrefill(RequestState request, IClusterView view)
    {
        var state = (ISchedulingState)view;
        var r = state.View(request);
        if (TryCall(nameof(Scheduler.ChoosePrefill), (r, state.Cluster), static (s, a) => s.ChoosePrefill(a.r, a.Cluster), out int p))
        {
            // -1 holds the request at the proxy until a prefill step ends.
            if (p >= -1 && p < view.PrefillInstances)
            {
                return p;
            }

            Fail(BadDecision(nameof(Scheduler.ChoosePrefill), p, $"there are {view.PrefillInstances} prefill instances (0 to {view.PrefillInstances - 1}; -1 holds the request)"));
        }

        return state.Cluster.Defaults.ChoosePrefill(r);
    }

    public int ChooseDecode(RequestState request, IClusterView view)
    {
        var state = (ISchedulingState)view;
        var r = state.View(request);
        if (TryCall(nameof(Scheduler.ChooseDecode), (r, state.Cluster), static (s, a) => s.ChooseDecode(a.r, a.Cluster), out int d))
        {
            if (d == -1 || (d >= 0 && d < view.DecodeInstances && view.DecodeHasRoom(d, request)))
            {
                return d;
            }

            Fail(BadDecision(nameof(Scheduler.ChooseDecode), d, d >= 0 && d < view.DecodeInstances
                ? $"decode instance {d} has no room for the request (return -1 to let it wait)"
                : $"there are {view.DecodeInstances} decode instances (0 to {view.DecodeInstances - 1}, or -1 to wait)"));
        }

        return state.Cluster.Defaults.ChooseDecode(r);
    }

    public bool Admit(RequestState request, ISchedulingState state) =>
        !TryCall(nameof(Scheduler.Admit), (state.View(request), state.Cluster), static (s, a) => s.Admit(a.Item1, a.Cluster), out bool admit) || admit;

    public void Prioritize(int prefill, IReadOnlyList<RequestState> waiting, ISchedulingState state, Span<double> priorities)
    {
        var views = new IRequestView[waiting.Count];
        for (int i = 0; i < views.Length; i++)
        {
            views[i] = state.View(waiting[i]);
        }

        // The script gets a read-only wrapper (a cast to an array or IList cannot write the host's copy), and the
        // host reads only its own array afterwards.
        var queue = new QueueView(prefill, Array.AsReadOnly(views), state.Cluster.NowMilliseconds);
        var values = new double[views.Length];
        // One budget for the whole queue: the ordering is one decision.
        if (TryCall(nameof(Scheduler.PrefillPriority), (views, queue, state.Cluster, values), static (s, a) =>
            {
                for (int i = 0; i < a.views.Length; i++)
                {
                    a.values[i] = s.PrefillPriority(a.views[i], a.queue, a.Cluster);
                }

                return true;
            }, out _))
        {
            int bad = Array.FindIndex(values, v => !double.IsFinite(v));
            if (bad < 0)
            {
                values.CopyTo(priorities);
                return;
            }

            Fail(BadDecision(nameof(Scheduler.PrefillPriority), values[bad].ToString(System.Globalization.CultureInfo.InvariantCulture), "a priority must be a finite number (NaN and infinities cannot be ordered)"));
        }

        for (int i = 0; i < views.Length; i++)
        {
            priorities[i] = state.Cluster.Defaults.PrefillPriority(views[i], queue);
        }
    }

    /// <summary>
    /// One hook call within the budget: true with its value, or false when it failed under fallback (a failure
    /// without fallback throws <see cref="SchedulerHookException"/>) or the script is disabled.
    /// </summary>
    private bool TryCall<TArgs, T>(string hook, TArgs args, Func<Scheduler, TArgs, T> call, out T value)
    {
        value = default!;
        if (Instance() is not { } s)
        {
            return false;
        }

        ScriptBudget.Open(budget.PerCall, budget.AllocationBytes, budget.MaxElements);
        try
        {
            value = call(s, args);
            return true;
        }
        catch (Exception e) when (e is not SchedulerHookException)
        {
            Fail(Failure(hook, e));
            return false;
        }
        finally
        {
            ScriptBudget.Close();
        }
    }

    /// <summary>The run's scheduler, made on the first call; null once the script failed under fallback.</summary>
    private Scheduler? Instance()
    {
        if (_scheduler is not null || _disabled)
        {
            return _scheduler;
        }

        ScriptBudget.Open(budget.PerCall, budget.AllocationBytes, budget.MaxElements);
        try
        {
            _scheduler = script.Create();
            if (_scheduler is null)
            {
                Fail(BadDecision("the script's top level", "null", "it must end with an expression that makes the scheduler"));
            }
        }
        catch (Exception e) when (e is not SchedulerHookException)
        {
            Fail(Failure("the script's top level", e));
        }
        finally
        {
            ScriptBudget.Close();
        }

        return _scheduler;
    }

    /// <summary>Ends the run, or under fallback counts the call (and, once the script is broken for good, stops calling it).</summary>
    private void Fail(Diagnostic diagnostic)
    {
        if (!fallback)
        {
            throw new SchedulerHookException(diagnostic);
        }

        Fallbacks++;
        if (_scheduler is null)
        {
            _disabled = true;
        }
    }

    private Diagnostic BadDecision(string hook, object value, string why) =>
        DiagnosticCodes.ScriptHookBadDecision.Create(HookLocation(hook), hook, value, why);

    private Diagnostic Failure(string hook, Exception e) => e is ScriptBudgetExceededException b
        ? DiagnosticCodes.ScriptHookOverBudget.Create(Where(e) ?? HookLocation(hook), hook, b.Message, budget.Describe())
        : DiagnosticCodes.ScriptHookThrew.Create(Where(e) ?? HookLocation(hook), hook, e.GetType().Name, e.Message);

    /// <summary>The script line the exception left from (the image carries the script's line numbers).</summary>
    private SourceSpan? Where(Exception e)
    {
        foreach (var frame in new StackTrace(e, fNeedFileInfo: true).GetFrames())
        {
            if (frame.GetMethod()?.Module.Assembly == script.Assembly && frame.GetFileLineNumber() > 0)
            {
                return ScriptLocation.AtLine(script.Path, script.Text, frame.GetFileLineNumber());
            }
        }

        return null;
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

    private sealed class QueueView : IPrefillQueueView
    {
        public QueueView(int instance, IReadOnlyList<IRequestView> waiting, double now)
        {
            Instance = instance;
            Waiting = waiting;
            foreach (var r in waiting)
            {
                MaxInputTokens = Math.Max(MaxInputTokens, r.InputTokens);
                // The proxy's own queue (instance -1) holds requests since their APC match.
                MaxWaitedMilliseconds = Math.Max(MaxWaitedMilliseconds, now - r.StageMilliseconds(instance < 0 ? RequestStage.ApcMatched : RequestStage.PrefillWaiting));
            }
        }

        public int Instance { get; }

        public IReadOnlyList<IRequestView> Waiting { get; }

        public int MaxInputTokens { get; }

        public double MaxWaitedMilliseconds { get; }
    }
}

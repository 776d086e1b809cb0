using MoePlan.Serving.Proxy;

namespace MoePlan.Scripting.Tests.Hostile;

/// <summary>
/// Script-visible state cannot be modified by the script: a script that tries to write every view through casts
/// (view-casts.csx) succeeds in none, so its run is the default policy's exactly, request by request.
/// </summary>
public sealed class ViewTests
{
    [Fact]
    public void Casts_on_every_view_write_nothing()
    {
        var load = ScriptHarness.Load(Path.Combine(AppContext.BaseDirectory, "Hostile", "view-casts.csx"));
        Assert.True(load.Script is not null, string.Join("\n", load.Diagnostics));
        var omni = ScriptHarness.RunSmall(new OmniPolicy());
        var script = ScriptHarness.RunSmall(new ScriptPolicy(load.Script, ScriptBudgetOptions.Default, fallback: false));
        Assert.Equal(20, script.Completed.Count);
        Assert.Equal(
            omni.Completed.Select(r => (r.Request.Id, r.PrefillInstance, r.DecodeInstance, r.FirstTokenMilliseconds)),
            script.Completed.Select(r => (r.Request.Id, r.PrefillInstance, r.DecodeInstance, r.FirstTokenMilliseconds)));
    }

    [Fact]
    public void A_cast_of_the_queue_to_an_array_fails_in_the_script()
    {
        // The attack: ((IRequestView[])queue.Waiting)[0] = ... ; the queue is a read-only wrapper, so the
        // cast throws InvalidCastException in the script (MP4021 at its line 6) and the host's queue is untouched.
        const string text = "using MoePlan.Scheduling;\nclass S : Scheduler\n{\n    public override double PrefillPriority(IRequestView r, IPrefillQueueView q, IClusterState c)\n    {\n        ((IRequestView[])q.Waiting)[0] = r;\n        return 0;\n    }\n}\nnew S()\n";
        var load = ScriptHarness.Load(ScriptHarness.WriteTemp("cast.csx", text));
        Assert.True(load.Script is not null, string.Join("\n", load.Diagnostics));
        var stop = Assert.Throws<SchedulerHookException>(() => ScriptHarness.RunSmall(new ScriptPolicy(load.Script, ScriptBudgetOptions.Default, fallback: false)));
        Assert.Equal("MP4021", stop.Diagnostic.Code);
        Assert.Contains("InvalidCastException", stop.Diagnostic.Message, StringComparison.Ordinal);
        Assert.Equal(6, stop.Diagnostic.Span!.Value.Line);
    }
}

// SLO-aware admission: reject a request at arrival when it cannot meet the plan's TTFT target given the
// queue it would join. Estimate: the prefill instance the default routing picks must compute its queued
// tokens plus the request's uncached ones, in steps of at most StepTokenCapacity tokens, each as long as its recent steps.
// Turning hopeless requests away keeps the queues short, so under overload the admitted requests meet the
// SLO (goodput holds) instead of every request waiting past it. No step observed yet: admit.
using MoePlan.Scheduling;

class SloAdmission : Scheduler
{
    public override bool Admit(IRequestView request, IClusterState cluster)
    {
        var target = cluster.Prefill[cluster.Defaults.ChoosePrefill(request)];
        if (double.IsNaN(cluster.TtftSloMilliseconds) || target.RecentStepMilliseconds.Count == 0)
        {
            return true;
        }

        int cached = cluster.ApcAware ? request.MatchedBlocks(target.Index) * cluster.BlockTokens : 0;
        double tokens = target.QueuedTokens + Math.Max(1, request.InputTokens - cached);
        double steps = Math.Ceiling(tokens / target.StepTokenCapacity);
        return steps * target.RecentStepMilliseconds.Average() <= cluster.TtftSloMilliseconds;
    }
}

new SloAdmission()

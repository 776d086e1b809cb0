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
        // -1: every instance is at its caps and the proxy would hold the request; the least-queued one serves it next.
        int choice = cluster.Defaults.ChoosePrefill(request);
        var target = choice >= 0 ? cluster.Prefill[choice] : cluster.Prefill.OrderBy(p => p.QueuedTokens).First();
        if (double.IsNaN(cluster.TtftSloMilliseconds) || target.RecentStepMilliseconds.Count == 0)
        {
            return true;
        }

        // Held at the proxy, it waits for every instance's queue and the proxy's own, shared over the instances.
        double ahead = choice >= 0
            ? target.QueuedTokens
            : (cluster.Prefill.Sum(p => (double)p.QueuedTokens) + cluster.ProxyHeldTokens) / cluster.Prefill.Count;
        int cached = cluster.ApcAware && choice >= 0 ? request.MatchedBlocks(target.Index) * cluster.BlockTokens : 0;
        double tokens = ahead + Math.Max(1, request.InputTokens - cached);
        double steps = Math.Ceiling(tokens / target.StepTokenCapacity);
        return steps * target.RecentStepMilliseconds.Average() <= cluster.TtftSloMilliseconds;
    }
}

new SloAdmission()

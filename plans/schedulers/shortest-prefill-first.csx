// Shortest prefill first: each prefill batch takes the waiting requests with the fewest prompt tokens
// still to compute (prompt minus the blocks the instance has cached). Short prompts stop waiting behind
// long ones, so the mean TTFT drops under load; long prompts wait longer (the p99 may rise).
// Routing and decode keep the default policy's (omni's) rules.
using MoePlan.Scheduling;

class ShortestPrefillFirst : Scheduler
{
    public override double PrefillPriority(IRequestView request, IPrefillQueueView queue, IClusterState cluster)
    {
        // In the proxy's own queue (Instance -1) no instance is chosen yet: the whole prompt counts.
        int cached = queue.Instance >= 0 ? request.MatchedBlocks(queue.Instance) * cluster.BlockTokens : 0;
        return -Math.Max(1, request.InputTokens - cached);
    }
}

new ShortestPrefillFirst()

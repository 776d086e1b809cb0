// Cache affinity with a load threshold: send a request to the prefill instance holding the longest cached
// prefix of its prompt, unless that instance has more than LoadThreshold times the least-loaded instance's
// queued tokens (plus one full batch of slack); then to the least-loaded one. Pure deepest-match routing
// piles a hot prefix onto one instance; the threshold spreads the load while keeping most cache hits.
using MoePlan.Scheduling;

class CacheAffinity : Scheduler
{
    const double LoadThreshold = 1.5;
    const long SlackTokens = 4096;

    public override int ChoosePrefill(IRequestView request, IClusterState cluster)
    {
        int best = 0, bestDepth = -1, least = 0;
        foreach (var p in cluster.Prefill)
        {
            int depth = cluster.ApcAware ? request.MatchedBlocks(p.Index) : 0;
            if (depth > bestDepth || (depth == bestDepth && p.QueuedTokens < cluster.Prefill[best].QueuedTokens))
            {
                best = p.Index;
                bestDepth = depth;
            }

            if (p.QueuedTokens < cluster.Prefill[least].QueuedTokens)
            {
                least = p.Index;
            }
        }

        long leastTokens = cluster.Prefill[least].QueuedTokens;
        return cluster.Prefill[best].QueuedTokens > LoadThreshold * leastTokens + SlackTokens ? least : best;
    }
}

new CacheAffinity()

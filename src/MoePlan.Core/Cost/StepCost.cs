using System.Collections.Immutable;

namespace MoePlan.Core.Cost;

/// <summary>One operator of a step summed over the layers it runs in: its compute-bound and memory-bound
/// times (the roofline takes the larger), its communication time and its fixed floor: the launch gaps of its kernels,
/// or for a collective its per-call latency.</summary>
public sealed record OpCost(string Name, double ComputeMilliseconds, double MemoryMilliseconds, double CommunicationMilliseconds, double LaunchMilliseconds)
{
    public double Milliseconds => Math.Max(ComputeMilliseconds, MemoryMilliseconds) + CommunicationMilliseconds + LaunchMilliseconds;

    public string Bound => CommunicationMilliseconds > 0 || (ComputeMilliseconds == 0 && MemoryMilliseconds == 0)
        ? (LaunchMilliseconds > CommunicationMilliseconds ? "latency" : "network")
        : LaunchMilliseconds > Math.Max(ComputeMilliseconds, MemoryMilliseconds) ? "launch"
        : ComputeMilliseconds >= MemoryMilliseconds ? "compute" : "memory";
}

/// <summary>The time of one prefill or decode step on one rank of an instance, op by op.</summary>
/// <param name="TokensPerRank">Tokens a data-parallel rank computes in the step (decode: sequences x (1 + draft tokens)).</param>
/// <param name="AttentionContext">Mean KV length each computed token attends to.</param>
/// <param name="Imbalance">Busiest rank's MoE load over the mean (static placement imbalance x per-step routing spread).</param>
public sealed record StepCost(
    double TokensPerRank,
    double AttentionContext,
    double Imbalance,
    bool Overlapped,
    ImmutableArray<OpCost> Ops,
    double ComputeMilliseconds,
    double CommunicationMilliseconds,
    double StepMilliseconds);

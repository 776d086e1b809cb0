using System.Collections.Immutable;

namespace MoePlan.Core.Cost;

/// <summary>One operator of a step summed over the layers it runs in: its compute-bound and memory-bound
/// times (the roofline takes the larger), its communication time and its fixed floor: the launch gaps of its kernels,
/// or for a collective its per-call latency.</summary>
public readonly record struct OpCost(string Name, double ComputeMilliseconds, double MemoryMilliseconds, double CommunicationMilliseconds, double LaunchMilliseconds)
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

/// <summary>A step's totals without its op breakdown: what ranking a candidate needs, computed without allocating.</summary>
public readonly record struct StepTotals(
    double TokensPerRank,
    double AttentionContext,
    double Imbalance,
    bool Overlapped,
    double ComputeMilliseconds,
    double CommunicationMilliseconds,
    double StepMilliseconds)
{
    /// <summary>The report form: these totals with the ops that make them.</summary>
    public StepCost WithOps(ImmutableArray<OpCost> ops) =>
        new(TokensPerRank, AttentionContext, Imbalance, Overlapped, ops, ComputeMilliseconds, CommunicationMilliseconds, StepMilliseconds);
}

/// <summary>The ops of one step as <see cref="StepCostModel"/> writes them: reused from step to step, so a step that is
/// only ranked allocates nothing.</summary>
public sealed class OpCostBuffer
{
    private OpCost[] _ops = new OpCost[16];

    public int Count { get; private set; }

    public ReadOnlySpan<OpCost> Ops => _ops.AsSpan(0, Count);

    public void Clear() => Count = 0;

    public void Add(in OpCost op)
    {
        if (Count == _ops.Length)
        {
            Array.Resize(ref _ops, _ops.Length * 2);
        }

        _ops[Count++] = op;
    }

    public ImmutableArray<OpCost> ToImmutable() => [.. Ops];
}

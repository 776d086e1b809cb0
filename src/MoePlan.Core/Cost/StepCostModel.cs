using System.Collections.Immutable;
using MoePlan.Core.Catalog;
using MoePlan.Core.Plan;

namespace MoePlan.Core.Cost;

/// <summary>What one step of one pool computes: the shape of the work, independent of the plan's syntax.</summary>
/// <param name="TokensPerRank">Tokens one data-parallel rank computes in the step (its TP ranks share them).</param>
/// <param name="DataParallel">Data-parallel ranks of the instance: the MoE layers see DataParallel x TokensPerRank tokens.</param>
/// <param name="SequencesPerRank">Sequences those tokens belong to (the LM head runs once per sequence in prefill).</param>
/// <param name="AttentionContext">Mean KV length each computed token attends to.</param>
/// <param name="StaticImbalance">Placement imbalance (max device load / mean) over the load statistics.</param>
/// <param name="DraftTokens">MTP draft tokens per sequence (decode); their verification is in <paramref name="TokensPerRank"/>.</param>
/// <param name="PerfectBalance">Experts perfectly balanced: no placement imbalance and no per-step routing spread.</param>
public readonly record struct StepShape(
    PoolRole Role,
    double TokensPerRank,
    double SequencesPerRank,
    double AttentionContext,
    int TensorParallel,
    int DataParallel,
    int ExpertParallel,
    int Slots,
    double StaticImbalance,
    bool Overlap,
    int DraftTokens,
    bool PerfectBalance = false);

/// <summary>The machine a step runs on: per-rank rates and the fabric.</summary>
/// <param name="ScaleUpDomainRanks">Ranks that share the scale-up fabric (a node, or a supernode).</param>
public readonly record struct StepMachine(
    double PeakFlops,
    double PeakBf16Flops,
    double HbmBytesPerSecond,
    double ScaleUpBytesPerSecond,
    double ScaleOutBytesPerSecond,
    int ScaleUpDomainRanks,
    EfficiencyFactors Efficiency);

/// <summary>
/// Per-step roofline of one rank (docs/cost-model.md): every op is bounded by compute at its precision or by
/// HBM traffic, with the family's efficiency factors; MoE all-to-all crosses the scale-up fabric and, beyond
/// one domain, the scale-out NIC; two-batch overlap hides part of the shorter of compute and communication.
/// </summary>
public static class StepCostModel
{
    public static StepCost Evaluate(ModelArchitecture a, ParameterBreakdown p, PrecisionPlan precision, StepShape s, StepMachine m)
    {
        var e = m.Efficiency;
        var T = s.TokensPerRank;
        var tp = s.TensorParallel;
        var ops = ImmutableArray.CreateBuilder<OpCost>(12);
        double Bytes(NumericFormat f) => MemoryModel.BytesPerElement(f);
        double PeakFor(NumericFormat f) => f == NumericFormat.Bf16 ? m.PeakBf16Flops : m.PeakFlops;
        double Compute(double flops, NumericFormat f, double rows) => flops / (PeakFor(f) * e.GemmAt(rows)) * 1e3;
        double Memory(double bytes) => bytes / (m.HbmBytesPerSecond * e.MemoryEfficiency) * 1e3;

        // Attention projections: 2 FLOPs per weight per token in both the prefill and the absorbed decode form
        // (absorption reorders kv_b's two halves, it does not add weights). TP splits the head-sharded weights.
        var attentionWeights = ((double)p.AttentionHeadShardedParametersPerLayer / tp) + p.AttentionReplicatedParametersPerLayer;
        ops.Add(new OpCost("attention projections",
            a.Layers * Compute(2 * T * attentionWeights, precision.Attention.Value, T),
            a.Layers * Memory(attentionWeights * Bytes(precision.Attention.Value)), 0));

        // Attention core: scores and weighted values over the context, BF16.
        var (coreFlopsPerToken, kvBytesPerToken) = AttentionCore(a, s.Role, s.AttentionContext, precision.KvCache.Value, tp);
        ops.Add(new OpCost("attention core",
            a.Layers * T * coreFlopsPerToken / (m.PeakBf16Flops * e.AttentionEfficiency) * 1e3,
            a.Layers * Memory(T * kvBytesPerToken), 0));

        // Norms, residual adds and activation reads/writes: 8 passes over bf16 hidden states per layer.
        ops.Add(new OpCost("elementwise", 0, a.Layers * Memory(8.0 * T * a.HiddenSize * 2), 0));

        if (a.FirstDenseLayers > 0)
        {
            var dense = (double)p.DenseFfnParametersPerLayer / tp;
            ops.Add(new OpCost("dense FFN",
                a.FirstDenseLayers * Compute(2 * T * dense, precision.Dense.Value, T),
                a.FirstDenseLayers * Memory(dense * Bytes(precision.Dense.Value)), 0));
        }

        // The MoE layers see dp x T tokens over dp x tp ranks, in ep groups of moeTp = dp x tp / ep ranks that split
        // each local expert's weights (tensor-parallel experts when ep < ranks). With DP attention (tp 1, ep = dp)
        // a rank's expert rows are its own T x top-k; with TP attention the TP ranks' tokens are the same ones,
        // so each EP rank gets T x top-k / tp of them.
        var moeLayers = a.MoeLayers + (s.DraftTokens > 0 ? a.MtpLayers : 0);
        var moeTp = (double)s.DataParallel * tp / s.ExpertParallel;
        var meanRowsPerEpGroup = (double)s.DataParallel * T * a.TopK / s.ExpertParallel;
        var imbalance = s.PerfectBalance ? 1 : s.StaticImbalance * e.BatchRoutingVariation * RoutingSpread(meanRowsPerEpGroup, s.ExpertParallel);
        if (moeLayers > 0)
        {
            ops.Add(new OpCost("router",
                moeLayers * Compute(2 * T * p.RouterParametersPerLayer, NumericFormat.Bf16, T),
                moeLayers * Memory(p.RouterParametersPerLayer * 2.0), 0));

            // The busiest EP group computes imbalance x its mean rows, spread over its local experts; each of its
            // moeTp ranks holds 1/moeTp of every local expert.
            var localExperts = (double)s.Slots / s.ExpertParallel;
            var rows = meanRowsPerEpGroup * imbalance;
            var rowsPerExpert = rows / localExperts;
            var touched = localExperts * (1 - Math.Pow(1 - (1 / localExperts), Math.Max(rows, 0)));
            ops.Add(new OpCost("routed experts",
                moeLayers * Compute(2 * rows * p.ExpertParameters / moeTp, precision.Experts.Value, rowsPerExpert),
                moeLayers * Memory(touched * p.ExpertParameters / moeTp * Bytes(precision.Experts.Value)), 0));
            if (p.SharedExpertParametersPerLayer > 0)
            {
                var shared = (double)p.SharedExpertParametersPerLayer / tp;
                ops.Add(new OpCost("shared experts",
                    moeLayers * Compute(2 * T * shared, precision.Experts.Value, T),
                    moeLayers * Memory(shared * Bytes(precision.Experts.Value)), 0));
            }
        }

        // LM head: once per sequence in prefill (only the last position's logits are needed), every token in decode.
        var headRows = s.Role == PoolRole.Prefill ? s.SequencesPerRank : T;
        var head = (double)p.LmHeadParameters / tp;
        ops.Add(new OpCost("LM head", Compute(2 * headRows * head, NumericFormat.Bf16, headRows), Memory(head * 2), 0));

        var computeMs = ops.Sum(o => Math.Max(o.ComputeMilliseconds, o.MemoryMilliseconds));
        var overheadMs = (a.Layers + (s.DraftTokens > 0 ? a.MtpLayers : 0)) * e.LayerOverheadMicroseconds / 1e3;
        ops.Add(new OpCost("launch and sync", overheadMs, 0, 0));
        computeMs += overheadMs;

        // TP all-reduce of the attention output (and dense FFN output) over the scale-up fabric: not overlapped.
        if (tp > 1)
        {
            var ringBytes = 2.0 * (tp - 1) / tp * T * a.HiddenSize * 2;
            var allReduceMs = (a.Layers + a.FirstDenseLayers) *
                              ((ringBytes / (m.ScaleUpBytesPerSecond * e.ScaleUpEfficiency) * 1e3) + (e.CollectiveLatencyMicroseconds / 1e3));
            ops.Add(new OpCost("TP all-reduce", 0, 0, allReduceMs));
            computeMs += allReduceMs;
        }

        var communicationMs = 0.0;
        if (moeLayers > 0 && s.ExpertParallel > 1)
        {
            var (intraCopies, remoteCopies) = AllToAllCopies(a, s.Role, s.ExpertParallel, m.ScaleUpDomainRanks);
            double Collective(NumericFormat payload)
            {
                // Each rank dispatches its share of the DP rank's tokens: T / tp (all of T with DP attention).
                var bytesPerCopy = T / tp * imbalance * a.HiddenSize * Bytes(payload);
                var intra = intraCopies * bytesPerCopy / (m.ScaleUpBytesPerSecond * e.ScaleUpEfficiency);
                var remote = remoteCopies * bytesPerCopy / (m.ScaleOutBytesPerSecond * e.ScaleOutEfficiency);
                return moeLayers * ((Math.Max(intra, remote) * 1e3) + (e.CollectiveLatencyMicroseconds / 1e3));
            }

            var dispatch = Collective(precision.Dispatch.Value);
            var combine = Collective(precision.Combine.Value);
            ops.Add(new OpCost("all-to-all dispatch", 0, 0, dispatch));
            ops.Add(new OpCost("all-to-all combine", 0, 0, combine));
            communicationMs = dispatch + combine;
        }

        var step = s.Overlap
            ? Math.Max(computeMs, communicationMs) + ((1 - e.OverlapEfficiency) * Math.Min(computeMs, communicationMs))
            : computeMs + communicationMs;
        return new StepCost(T, s.AttentionContext, imbalance, s.Overlap, ops.ToImmutable(), computeMs, communicationMs, step);
    }

    /// <summary>
    /// Per-step spread of routing: with c expert copies per rank on average, the busiest of n ranks gets about
    /// c + sqrt(2 ln n) x sqrt(c) (Poisson counts, Gaussian extreme value), so the factor is 1 + sqrt(2 ln n / c).
    /// </summary>
    public static double RoutingSpread(double copiesPerRank, int ranks) =>
        ranks <= 1 || copiesPerRank <= 0 ? 1 : 1 + Math.Sqrt(2 * Math.Log(ranks) / copiesPerRank);

    /// <summary>
    /// Copies of one token's hidden state sent over each fabric per dispatch. Prefill uses DeepEP's
    /// high-throughput kernels, which send a token once per destination domain over the scale-out NIC and
    /// fan out inside it; node-limited routing (DeepSeek: top_k groups) caps the domains a token reaches.
    /// Decode's low-latency kernels send every copy straight to its rank.
    /// </summary>
    public static (double Intra, double Remote) AllToAllCopies(ModelArchitecture a, PoolRole role, int expertParallel, int domainRanks)
    {
        var k = (double)a.TopK;
        if (expertParallel <= domainRanks)
        {
            return (k * (expertParallel - 1) / expertParallel, 0);
        }

        var domains = (double)expertParallel / domainRanks;
        var localShare = 1 / domains;
        if (role == PoolRole.Decode)
        {
            return (k * localShare, k * (1 - localShare));
        }

        var touched = domains * (1 - Math.Pow(1 - localShare, k));
        if (a.ExpertGroups > 1 && a.TopKGroups < a.ExpertGroups)
        {
            touched = Math.Min(touched, a.TopKGroups);
        }

        return (k, touched * (1 - localShare));
    }

    private static (double Flops, double KvBytes) AttentionCore(ModelArchitecture a, PoolRole role, double context, NumericFormat kv, int tp)
    {
        var kvBytes = MemoryModel.BytesPerElement(kv);
        switch (a.Attention)
        {
            case MlaAttention mla when role == PoolRole.Decode:
                // Absorbed: every head attends over the shared 576-wide latent (512 values).
                return (2.0 * mla.Heads / tp * ((mla.KvLoraRank + mla.QkRopeHeadDim) + mla.KvLoraRank) * context,
                        context * (mla.KvLoraRank + mla.QkRopeHeadDim) * kvBytes);
            case MlaAttention mla:
                return (2.0 * mla.Heads / tp * ((mla.QkNopeHeadDim + mla.QkRopeHeadDim) + mla.VHeadDim) * context, 0);
            case GroupedQueryAttention gqa:
                var kvHeadsPerRank = Math.Max(1, gqa.KeyValueHeads / Math.Min(tp, gqa.KeyValueHeads));
                return (4.0 * gqa.Heads / tp * gqa.HeadDim * context,
                        role == PoolRole.Decode ? 2.0 * kvHeadsPerRank * gqa.HeadDim * context * kvBytes : 0);
            default:
                return (0, 0);
        }
    }
}

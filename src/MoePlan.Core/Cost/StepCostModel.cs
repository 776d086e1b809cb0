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
/// <param name="ChunkTokensPerRank">A mixed step (aggregated serving, chunked prefill): the prompt tokens among
/// <paramref name="TokensPerRank"/>; the rest are the decode batch's. Their attention takes the prefill form.</param>
/// <param name="ChunkContext">Mean KV length each prompt token of the chunk attends to.</param>
/// <param name="ChunkSequencesPerRank">Prompts the chunk completes per step (each samples its first token in the LM head).</param>
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
    bool PerfectBalance = false,
    double ChunkTokensPerRank = 0,
    double ChunkContext = 0,
    double ChunkSequencesPerRank = 0);

/// <summary>The machine a step runs on: per-rank rates and the fabric.</summary>
/// <param name="PeakFlops">Dense rate at the experts' precision.</param>
/// <param name="ScaleUpDomainRanks">Ranks that share the scale-up fabric (a node, or a supernode).</param>
public readonly record struct StepMachine(
    double PeakFlops,
    double PeakBf16Flops,
    double HbmBytesPerSecond,
    double ScaleUpBytesPerSecond,
    double ScaleOutBytesPerSecond,
    int ScaleUpDomainRanks,
    EfficiencyFactors Efficiency)
{
    /// <summary>Dense 8-bit rate (FP8, else INT8) when it differs from the experts' precision: FP4 experts with FP8
    /// attention run each at its own rate. 0 when unknown: <see cref="PeakFlops"/> stands in.</summary>
    public double PeakEightBitFlops { get; init; }
}

/// <summary>
/// Per-step roofline of one rank (docs/cost-model.md): every op is bounded by compute at its precision or by
/// HBM traffic, with the family's efficiency factors; MoE all-to-all crosses the scale-up fabric and, beyond
/// one domain, the scale-out NIC; two-batch overlap hides part of the shorter of compute and communication.
/// </summary>
public static class StepCostModel
{
    // Kernels one layer launches per op (DeepSeek-style engines: SGLang/vLLM with DeepGEMM and FlashMLA): each pays
    // the family's kernel gap whatever its size, so at small batches they make the floor of a layer.
    private const int MlaProjectionKernels = 6; // q_a, q_b, kv_a, the two absorbed bmm's, o_proj
    private const int GqaProjectionKernels = 2; // fused qkv, o_proj
    private const int AttentionCoreKernels = 2; // attention, split-KV combine
    private const int ElementwiseKernels = 4; // two fused residual RMSNorms, latent/q norms, RoPE
    private const int FfnKernels = 3; // gate-up GEMM, activation and quantisation, down GEMM
    private const int RouterKernels = 2; // gate GEMM, top-k
    private const int LmHeadKernels = 2; // GEMM, sampling

    public static StepCost Evaluate(ModelArchitecture a, ParameterBreakdown p, PrecisionPlan precision, StepShape s, StepMachine m)
    {
        var ops = new OpCostBuffer();
        return Totals(a, p, precision, s, m, ops).WithOps(ops.ToImmutable());
    }

    /// <summary>The step's totals; its ops are written into <paramref name="ops"/> (cleared first). Allocates nothing.</summary>
    public static StepTotals Totals(ModelArchitecture a, ParameterBreakdown p, PrecisionPlan precision, StepShape s, StepMachine m, OpCostBuffer ops)
    {
        ArgumentNullException.ThrowIfNull(ops);
        ops.Clear();
        var e = m.Efficiency;
        var tp = s.TensorParallel;

        // Two-batch overlap splits the step's tokens into two microbatches that run one after the other through
        // every layer: each reads the weights and launches the kernels again, and each pays the collectives' floors.
        var microbatches = s.Overlap ? 2 : 1;
        var T = s.TokensPerRank / microbatches;
        var sequences = s.SequencesPerRank / microbatches;
        double Bytes(NumericFormat f) => MemoryModel.BytesPerElement(f);
        double PeakFor(NumericFormat f) => f == NumericFormat.Bf16 ? m.PeakBf16Flops
            : !f.IsFourBit() && precision.Experts.Value.IsFourBit() && m.PeakEightBitFlops > 0 ? m.PeakEightBitFlops
            : m.PeakFlops;
        double Compute(double flops, NumericFormat f, double rows) => flops / (PeakFor(f) * e.GemmAt(rows)) * 1e3;
        double Memory(double bytes) => bytes / (m.HbmBytesPerSecond * e.MemoryEfficiency) * 1e3;
        double Launches(double kernels) => kernels * e.KernelGapMicroseconds / 1e3;
        void Add(string name, double compute, double memory, double kernels) =>
            ops.Add(new OpCost(name, microbatches * compute, microbatches * memory, 0, microbatches * Launches(kernels)));

        // The MTP layer (when drafting) is one more full layer: attention, elementwise and MoE.
        var mtpLayers = s.DraftTokens > 0 ? a.MtpLayers : 0;
        var attentionLayers = a.Layers + mtpLayers;
        var moeLayers = a.MoeLayers + mtpLayers;

        // Attention projections: 2 FLOPs per weight per token in both the prefill and the absorbed decode form
        // (absorption reorders kv_b's two halves, it does not add weights). TP splits the head-sharded weights.
        var attentionWeights = ((double)p.AttentionHeadShardedParametersPerLayer / tp) + p.AttentionReplicatedParametersPerLayer;
        var projectionKernels = a.Attention is MlaAttention ? MlaProjectionKernels : GqaProjectionKernels;
        Add("attention projections",
            attentionLayers * Compute(2 * T * attentionWeights, precision.Attention.Value, T),
            attentionLayers * Memory(attentionWeights * Bytes(precision.Attention.Value)), attentionLayers * projectionKernels);

        // Attention core: scores and weighted values over the context, BF16. A mixed step's prompt chunk attends in the
        // prefill form over its own context, the decode batch in its own form: one kernel launch set serves both.
        var chunk = s.ChunkTokensPerRank / microbatches;
        var (coreFlopsPerToken, kvBytesPerToken) = AttentionCore(a, s.Role, s.AttentionContext, precision.KvCache.Value, tp);
        var (chunkFlopsPerToken, chunkKvBytesPerToken) = chunk > 0 ? AttentionCore(a, PoolRole.Prefill, s.ChunkContext, precision.KvCache.Value, tp) : (0, 0);
        Add("attention core",
            attentionLayers * (((T - chunk) * coreFlopsPerToken) + (chunk * chunkFlopsPerToken)) / (m.PeakBf16Flops * e.AttentionEfficiency) * 1e3,
            attentionLayers * Memory(((T - chunk) * kvBytesPerToken) + (chunk * chunkKvBytesPerToken)), attentionLayers * AttentionCoreKernels);

        // Norms, residual adds and activation reads/writes: 8 passes over bf16 hidden states per layer.
        Add("elementwise", 0, attentionLayers * Memory(8.0 * T * a.HiddenSize * 2), attentionLayers * ElementwiseKernels);

        if (mtpLayers > 0)
        {
            // The MTP module's projection of [embedding; hidden] (2h -> h) before its layer.
            var projection = 2.0 * a.HiddenSize * a.HiddenSize;
            Add("MTP projection", mtpLayers * Compute(2 * T * projection, precision.Attention.Value, T),
                mtpLayers * Memory(projection * Bytes(precision.Attention.Value)), mtpLayers);
        }

        if (a.FirstDenseLayers > 0)
        {
            var dense = (double)p.DenseFfnParametersPerLayer / tp;
            Add("dense FFN",
                a.FirstDenseLayers * Compute(2 * T * dense, precision.Dense.Value, T),
                a.FirstDenseLayers * Memory(dense * Bytes(precision.Dense.Value)), a.FirstDenseLayers * FfnKernels);
        }

        // The MoE layers see dp x T tokens over dp x tp ranks, in ep groups of moeTp = dp x tp / ep ranks that split
        // each local expert's weights (tensor-parallel experts when ep < ranks). With DP attention (tp 1, ep = dp)
        // a rank's expert rows are its own T x top-k; with TP attention the TP ranks' tokens are the same ones,
        // so each EP rank gets T x top-k / tp of them.
        var moeTp = (double)s.DataParallel * tp / s.ExpertParallel;
        var meanRowsPerEpGroup = (double)s.DataParallel * T * a.TopK / s.ExpertParallel;
        var imbalance = s.PerfectBalance ? 1 : s.StaticImbalance * e.BatchRoutingVariation * RoutingSpread(meanRowsPerEpGroup, s.ExpertParallel);
        if (moeLayers > 0)
        {
            Add("router",
                moeLayers * Compute(2 * T * p.RouterParametersPerLayer, NumericFormat.Bf16, T),
                moeLayers * Memory(p.RouterParametersPerLayer * 2.0), moeLayers * RouterKernels);

            // The busiest EP group computes imbalance x its mean rows, spread over its local experts; each of its
            // moeTp ranks holds 1/moeTp of every local expert. Only the experts the rows touch are read.
            var localExperts = (double)s.Slots / s.ExpertParallel;
            var rows = meanRowsPerEpGroup * imbalance;
            var rowsPerExpert = rows / localExperts;
            var touched = localExperts * (1 - Math.Pow(1 - (1 / localExperts), Math.Max(rows, 0)));
            Add("routed experts",
                moeLayers * Compute(2 * rows * p.ExpertParameters / moeTp, precision.Experts.Value, rowsPerExpert),
                moeLayers * Memory(touched * p.ExpertParameters / moeTp * Bytes(precision.Experts.Value)), moeLayers * FfnKernels);
            if (p.SharedExpertParametersPerLayer > 0)
            {
                var shared = (double)p.SharedExpertParametersPerLayer / tp;
                Add("shared experts",
                    moeLayers * Compute(2 * T * shared, precision.Experts.Value, T),
                    moeLayers * Memory(shared * Bytes(precision.Experts.Value)), moeLayers * FfnKernels);
            }
        }

        // LM head: once per sequence in prefill (only the last position's logits are needed), every token in decode,
        // and once more for the MTP layer's draft.
        var headRows = s.Role == PoolRole.Prefill ? sequences : T - chunk + (s.ChunkSequencesPerRank / microbatches);
        var headPasses = 1 + mtpLayers;
        var head = (double)p.LmHeadParameters / tp;
        Add("LM head", headPasses * Compute(2 * headRows * head, NumericFormat.Bf16, headRows), headPasses * Memory(head * 2), headPasses * LmHeadKernels);

        var computeMs = 0.0;
        var overlappableMs = 0.0;
        var moeShare = attentionLayers == 0 ? 0 : (double)moeLayers / attentionLayers;
        foreach (var op in ops.Ops)
        {
            computeMs += op.Milliseconds;

            // Two-batch overlap hides communication behind the other microbatch's MoE layers only: the dense layers
            // and the LM head have no all-to-all to overlap with.
            overlappableMs += op.Name switch
            {
                "router" or "routed experts" or "shared experts" => op.Milliseconds,
                "dense FFN" or "LM head" or "MTP projection" => 0,
                _ => op.Milliseconds * moeShare,
            };
        }

        // TP all-reduce of the attention output (and dense FFN output) over the scale-up fabric: not overlapped. Its
        // floor per call is the in-domain all-to-all floor at tp ranks (a collective kernel over the same fabric).
        if (tp > 1)
        {
            var ringBytes = 2.0 * (tp - 1) / tp * T * a.HiddenSize * 2;
            var floorMs = e.AllToAll.FloorAt(tp, overScaleUp: true).DispatchMicroseconds / 1e3;
            var calls = microbatches * (a.Layers + a.FirstDenseLayers);
            var allReduce = new OpCost("TP all-reduce", 0, 0, calls * ringBytes / (m.ScaleUpBytesPerSecond * e.ScaleUpEfficiency) * 1e3, calls * floorMs);
            ops.Add(allReduce);
            computeMs += allReduce.Milliseconds;
        }

        var communicationMs = 0.0;
        if (moeLayers > 0 && s.ExpertParallel > 1)
        {
            var overScaleUp = s.ExpertParallel <= m.ScaleUpDomainRanks;
            var (intraCopies, remoteCopies) = AllToAllCopies(a, s.Role, s.ExpertParallel, m.ScaleUpDomainRanks);
            var (dispatchFloor, combineFloor) = e.AllToAll.FloorAt(s.ExpertParallel, overScaleUp);
            OpCost Collective(string name, NumericFormat payload, double floorMicroseconds)
            {
                // Each rank dispatches its share of the DP rank's tokens: T / tp (all of T with DP attention).
                var bytesPerCopy = T / tp * imbalance * a.HiddenSize * Bytes(payload);
                var intra = intraCopies * bytesPerCopy / (m.ScaleUpBytesPerSecond * e.ScaleUpEfficiency);
                var remote = remoteCopies * bytesPerCopy / (m.ScaleOutBytesPerSecond * e.ScaleOutEfficiency);
                var calls = microbatches * moeLayers;
                return new OpCost(name, 0, 0, calls * Math.Max(intra, remote) * 1e3, calls * floorMicroseconds / 1e3);
            }

            var dispatch = Collective("all-to-all dispatch", precision.Dispatch.Value, dispatchFloor);
            var combine = Collective("all-to-all combine", precision.Combine.Value, combineFloor);
            ops.Add(dispatch);
            ops.Add(combine);
            communicationMs = dispatch.Milliseconds + combine.Milliseconds;
        }

        var hiddenMs = s.Overlap ? e.OverlapEfficiency * Math.Min(overlappableMs, communicationMs) : 0;
        var step = computeMs + communicationMs - hiddenMs;
        return new StepTotals(s.TokensPerRank, s.AttentionContext, imbalance, s.Overlap, computeMs, communicationMs, step);
    }

    /// <summary>Copies of one token sent over each fabric by the low-latency (decode) kernels: every copy straight to its rank.</summary>
    public static (double Intra, double Remote) LowLatencyCopies(int topK, int expertParallel, int domainRanks)
    {
        double k = topK;
        if (expertParallel <= domainRanks)
        {
            return (k * (expertParallel - 1) / expertParallel, 0);
        }

        var localShare = (double)domainRanks / expertParallel;
        return (k * localShare, k * (1 - localShare));
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

        if (role == PoolRole.Decode)
        {
            return LowLatencyCopies(a.TopK, expertParallel, domainRanks);
        }

        var domains = (double)expertParallel / domainRanks;
        var localShare = 1 / domains;

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

using MoePlan.Core.Catalog;

namespace MoePlan.Core.Plan;

/// <summary>Bytes one rank (a GPU, or one die of a multi-die package) of a pool needs, by part.</summary>
public sealed record MemoryFootprint(
    double WeightBytes,
    double KvCacheBytes,
    double ActivationBytes,
    double CommunicationBufferBytes,
    double CapacityBytes,
    double UsableBytes)
{
    /// <summary>Share of HBM left to the runtime, CUDA/CANN context and fragmentation. vLLM's default
    /// <c>--gpu-memory-utilization 0.9</c> reserves 10%; moeplan reserves the same.</summary>
    public const double ReservedFraction = 0.10;

    public double TotalBytes => WeightBytes + KvCacheBytes + ActivationBytes + CommunicationBufferBytes;

    public bool Fits => TotalBytes <= UsableBytes;
}

/// <summary>
/// The per-rank memory model (docs/cost-model.md gives the derivation):
/// weights at their precision after EP/TP sharding; KV cache for batch x context with MLA's compressed
/// latent; one layer's activations; all-to-all buffers; a reserved share of HBM.
/// </summary>
public static class MemoryModel
{
    /// <summary>Bytes of one element with its share of the block scales: NVFP4 = 4 bits + one 1-byte E4M3 scale per 16
    /// (NVIDIA, "Introducing NVFP4", 2025; the per-tensor FP32 scale is negligible); MXFP4 = 4 bits + one 1-byte E8M0
    /// scale per 32 (OCP Microscaling Formats specification v1.0, section 5).</summary>
    public static double BytesPerElement(NumericFormat format) => format switch
    {
        NumericFormat.Bf16 => 2,
        NumericFormat.Nvfp4 => 0.5 + (1.0 / 16),
        NumericFormat.Mxfp4 => 0.5 + (1.0 / 32),
        _ => 1,
    };

    /// <summary>KV cache bytes of one token in one rank, over all layers (MTP layers included when drafting).</summary>
    public static double KvBytesPerToken(ModelArchitecture a, NumericFormat kv, int tensorParallel, bool withMtp)
    {
        var layers = a.Layers + (withMtp ? a.MtpLayers : 0);
        return a.Attention switch
        {
            // MLA caches the compressed latent and the shared rope key: one per token, whole on every TP rank.
            MlaAttention mla => (double)(mla.KvLoraRank + mla.QkRopeHeadDim) * layers * BytesPerElement(kv),

            // GQA caches K and V per KV head; TP splits KV heads until each rank has one, then replicates.
            GroupedQueryAttention gqa => 2.0 * gqa.HeadDim * layers * BytesPerElement(kv)
                                         * Math.Max(1, gqa.KeyValueHeads / Math.Min(tensorParallel, gqa.KeyValueHeads)),
            _ => 0,
        };
    }

    /// <summary>Tokens one data-parallel rank holds in one step (prefill: batch tokens; decode: sequences x tokens per step;
    /// serve: the chunked-prefill budget, which the decode batch and the prompt chunk share).</summary>
    public static double TokensPerDataParallelRank(PoolPlan pool, HardwareEntry hardware)
    {
        var devices = (double)pool.Parallel.Ranks / hardware.DiesPerPackage;
        var perInstance = pool.Role != PoolRole.Decode
            ? pool.MaxBatchTokensPerDevice!.Value.Value * devices
            : pool.MaxBatchPerDevice!.Value.Value * devices * (1 + (pool.Mtp?.DraftTokens.Value ?? 0));
        return perInstance / pool.Parallel.DataParallel.Value;
    }

    /// <summary>Sequences one data-parallel rank keeps KV for (decode); prefill keeps the KV of its batch tokens.</summary>
    public static double SequencesPerDataParallelRank(PoolPlan pool, HardwareEntry hardware) =>
        pool.MaxBatchPerDevice is { } batch
            ? batch.Value * ((double)pool.Parallel.Ranks / hardware.DiesPerPackage) / pool.Parallel.DataParallel.Value
            : 0;

    public static MemoryFootprint Compute(DeploymentPlan plan, PoolPlan pool)
    {
        var a = plan.Model.Entry.Architecture;
        var p = ParameterCounter.Count(a);
        var precision = plan.Precision;
        var hardware = plan.Hardware.Value;
        var tp = pool.Parallel.TensorParallel.Value;
        var ep = pool.Parallel.ExpertParallel.Value;
        var slots = a.RoutedExperts + plan.Placement.RedundantExperts.Value;
        var attentionBytes = BytesPerElement(precision.Attention.Value);
        var expertBytes = BytesPerElement(precision.Experts.Value);
        var denseBytes = BytesPerElement(precision.Dense.Value);
        const double Bf16 = 2;

        var attentionPerLayer = (((double)p.AttentionHeadShardedParametersPerLayer / tp) + p.AttentionReplicatedParametersPerLayer) * attentionBytes;
        var routedPerLayer = (double)slots / ep * p.ExpertParameters * expertBytes;
        var sharedPerLayer = (double)p.SharedExpertParametersPerLayer / tp * expertBytes;
        var smallPerLayer = (p.RouterParametersPerLayer + p.NormParametersPerLayer) * Bf16;

        // Embedding and LM head stay bf16 in the published FP8/INT8 checkpoints; TP splits the vocabulary.
        var weights = (a.Layers * (attentionPerLayer + smallPerLayer))
                      + (a.FirstDenseLayers * (double)p.DenseFfnParametersPerLayer / tp * denseBytes)
                      + (a.MoeLayers * (routedPerLayer + sharedPerLayer))
                      + ((double)(p.EmbeddingParameters + p.LmHeadParameters) / tp * Bf16);

        var drafting = pool.Mtp is not null && a.MtpLayers > 0;
        if (drafting)
        {
            // An MTP module is one more MoE layer (sharded like the others) plus eh_proj and norms.
            var moeLayer = (a.MoeLayers > 0 ? 1 : 0) * (a.RoutedExperts * p.ExpertParameters + p.SharedExpertParametersPerLayer);
            var rest = (p.MtpModuleParameters / (double)a.MtpLayers) - p.AttentionParametersPerLayer - moeLayer;
            weights += a.MtpLayers * (attentionPerLayer + routedPerLayer + sharedPerLayer + (rest * Bf16));
        }

        var kvPerToken = KvBytesPerToken(a, precision.KvCache.Value, tp, drafting);
        var tokens = TokensPerDataParallelRank(pool, hardware);
        var kv = pool.Decodes
            ? SequencesPerDataParallelRank(pool, hardware) * pool.ContextTokens!.Value.Value * kvPerToken
            : tokens * kvPerToken;

        // One layer's live tensors (inference keeps no autograd state): residual, norm output, attention
        // output and MoE output (4 x hidden, bf16); the queries and attention outputs of this rank's heads;
        // the gate/up outputs of the routed-expert copies this rank receives with balanced routing.
        var (qHead, vHead) = a.Attention switch
        {
            MlaAttention mla => (mla.QkNopeHeadDim + mla.QkRopeHeadDim, mla.VHeadDim),
            GroupedQueryAttention gqa => (gqa.HeadDim, gqa.HeadDim),
            _ => (0, 0),
        };
        var activationPerToken = ((4.0 * a.HiddenSize) + ((double)a.Attention.Heads / tp * (qHead + vHead))
                                  + (2.0 * a.TopK * a.MoeIntermediateSize)) * Bf16;
        var activations = tokens * activationPerToken;

        // All-to-all: receive buffers for the top-k copies of this rank's tokens, dispatch and combine.
        var buffers = tokens * a.TopK * a.HiddenSize
                      * (BytesPerElement(precision.Dispatch.Value) + BytesPerElement(precision.Combine.Value));

        var capacity = (double)(hardware.HbmBytesPerPackage ?? 0) / hardware.DiesPerPackage;
        return new MemoryFootprint(weights, kv, activations, buffers, capacity, capacity * (1 - MemoryFootprint.ReservedFraction));
    }
}

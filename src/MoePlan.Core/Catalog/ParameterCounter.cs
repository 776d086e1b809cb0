namespace MoePlan.Core.Catalog;

/// <summary>
/// Parameter counts of a model, derived from its architecture fields (weights only; no buffers such as
/// rotary caches). "Per layer" figures are for one decoder layer of the main model.
/// </summary>
/// <param name="EmbeddingParameters">Input embedding table: vocab x hidden.</param>
/// <param name="LmHeadParameters">Output projection: vocab x hidden, or 0 when tied to the embedding.</param>
/// <param name="AttentionHeadShardedParametersPerLayer">
/// The attention weights a tensor-parallel split divides by heads. MLA: q_b_proj (or q_proj when q_lora_rank
/// is 0), kv_b_proj, o_proj. GQA: q/k/v/o projections and their biases.
/// </param>
/// <param name="AttentionReplicatedParametersPerLayer">
/// The attention weights every tensor-parallel rank keeps whole. MLA: q_a_proj, q_a_layernorm,
/// kv_a_proj_with_mqa, kv_a_layernorm. GQA: the q/k norms (head_dim each).
/// </param>
/// <param name="DenseFfnParametersPerLayer">One dense SwiGLU FFN (gate, up, down): 3 x hidden x intermediate.</param>
/// <param name="ExpertParameters">ONE routed expert (SwiGLU): 3 x hidden x moe_intermediate.</param>
/// <param name="SharedExpertParametersPerLayer">All shared experts of one MoE layer, with their sigmoid gate (hidden x 1) if any.</param>
/// <param name="RouterParametersPerLayer">Router of one MoE layer: experts x hidden, plus one bias per expert with sigmoid (noaux_tc) scoring.</param>
/// <param name="NormParametersPerLayer">The RMS norms around attention and FFN: 2 x hidden (4 x hidden with sandwich norm).</param>
/// <param name="MtpModuleParameters">
/// All multi-token-prediction modules (DeepSeek-V3 style): each is one MoE decoder layer, enorm and hnorm,
/// eh_proj (2 x hidden x hidden) and a final norm; the embedding and head are shared with the main model.
/// </param>
/// <param name="MainModelParameters">Every weight of the main model (embedding, head, all layers, final norm), without MTP.</param>
/// <param name="ActiveParameters">
/// Weights one token touches in the main model: embedding, LM head, attention and norms of every layer, the
/// dense FFN layers, and per MoE layer top_k routed experts + shared experts + router, plus the final norm.
/// The whole embedding table is counted (conventions differ: some publishers leave it out).
/// </param>
public sealed record ParameterBreakdown(
    long EmbeddingParameters,
    long LmHeadParameters,
    long AttentionHeadShardedParametersPerLayer,
    long AttentionReplicatedParametersPerLayer,
    long DenseFfnParametersPerLayer,
    long ExpertParameters,
    long SharedExpertParametersPerLayer,
    long RouterParametersPerLayer,
    long NormParametersPerLayer,
    long MtpModuleParameters,
    long MainModelParameters,
    long ActiveParameters)
{
    /// <summary>All attention weights of one layer.</summary>
    public long AttentionParametersPerLayer => AttentionHeadShardedParametersPerLayer + AttentionReplicatedParametersPerLayer;

    /// <summary>Main model plus MTP modules: what the published checkpoint holds.</summary>
    public long TotalParameters => MainModelParameters + MtpModuleParameters;
}

/// <summary>Derives <see cref="ParameterBreakdown"/> from first principles (see each field's definition).</summary>
public static class ParameterCounter
{
    public static ParameterBreakdown Count(ModelArchitecture a)
    {
        ArgumentNullException.ThrowIfNull(a);
        checked
        {
            long hidden = a.HiddenSize;
            var embedding = (long)a.VocabSize * hidden;
            var lmHead = a.TieWordEmbeddings ? 0 : embedding;

            var (sharded, replicated) = a.Attention switch
            {
                MlaAttention mla => Mla(hidden, mla),
                GroupedQueryAttention gqa => Gqa(hidden, gqa),
                _ => throw new ArgumentException($"Unknown attention kind {a.Attention.GetType().Name}.", nameof(a)),
            };
            var attention = sharded + replicated;

            var norms = (a.SandwichNorm ? 4 : 2) * hidden;
            var denseFfn = SwiGlu(hidden, a.DenseIntermediateSize);
            var expert = SwiGlu(hidden, a.MoeIntermediateSize);
            var shared = a.SharedExperts * SwiGlu(hidden, a.SharedExpertIntermediateSize)
                + (a.SharedExperts > 0 && a.SharedExpertGate ? hidden : 0);
            var router = (long)a.RoutedExperts * hidden
                + (a.ScoringFunction == "sigmoid" ? a.RoutedExperts : 0);
            var finalNorm = hidden;

            var layerCommon = attention + norms;
            var moeLayerAll = layerCommon + a.RoutedExperts * expert + shared + router;
            var moeLayerActive = layerCommon + a.TopK * expert + shared + router;
            var denseLayer = layerCommon + denseFfn;

            var main = embedding + lmHead + a.FirstDenseLayers * denseLayer + a.MoeLayers * moeLayerAll + finalNorm;
            var active = embedding + lmHead + a.FirstDenseLayers * denseLayer + a.MoeLayers * moeLayerActive + finalNorm;

            // One MTP module: a MoE decoder layer, enorm + hnorm, eh_proj (2h -> h), final (shared_head) norm.
            var mtpModule = moeLayerAll + 2 * hidden + 2 * hidden * hidden + hidden;
            var mtp = a.MtpLayers * mtpModule;

            return new ParameterBreakdown(
                embedding,
                lmHead,
                sharded,
                replicated,
                denseFfn,
                expert,
                shared,
                router,
                norms,
                mtp,
                main,
                active);
        }
    }

    private static long SwiGlu(long hidden, long intermediate) => checked(3 * hidden * intermediate);

    private static (long Sharded, long Replicated) Mla(long hidden, MlaAttention m)
    {
        checked
        {
            long heads = m.Heads;
            long qkHead = m.QkNopeHeadDim + m.QkRopeHeadDim;
            long replicated = 0;
            long sharded;
            if (m.QLoraRank > 0)
            {
                replicated += hidden * m.QLoraRank + m.QLoraRank;     // q_a_proj + q_a_layernorm
                sharded = (long)m.QLoraRank * heads * qkHead;          // q_b_proj
            }
            else
            {
                sharded = hidden * heads * qkHead;                     // q_proj
            }

            replicated += hidden * (m.KvLoraRank + m.QkRopeHeadDim) + m.KvLoraRank; // kv_a_proj_with_mqa + kv_a_layernorm
            sharded += (long)m.KvLoraRank * heads * (m.QkNopeHeadDim + m.VHeadDim);  // kv_b_proj
            sharded += heads * m.VHeadDim * hidden;                                    // o_proj
            return (sharded, replicated);
        }
    }

    private static (long Sharded, long Replicated) Gqa(long hidden, GroupedQueryAttention g)
    {
        checked
        {
            long q = (long)g.Heads * g.HeadDim;
            long kv = (long)g.KeyValueHeads * g.HeadDim;
            var sharded = hidden * q + 2 * hidden * kv + q * hidden;   // q, k, v, o
            if (g.QkvBias)
            {
                sharded += q + 2 * kv;
            }

            long replicated = g.QkNorm ? 2L * g.HeadDim : 0;             // q_norm, k_norm
            return (sharded, replicated);
        }
    }
}

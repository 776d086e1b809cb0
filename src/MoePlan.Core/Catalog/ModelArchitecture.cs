using System.Collections.Immutable;

namespace MoePlan.Core.Catalog;

/// <summary>Attention block of one decoder layer.</summary>
public abstract record AttentionArchitecture(int Heads);

/// <summary>DeepSeek multi-head latent attention (config.json: q_lora_rank, kv_lora_rank, qk_nope/rope_head_dim, v_head_dim).</summary>
/// <param name="QLoraRank">0 when queries are not low-rank (q_lora_rank null).</param>
public sealed record MlaAttention(int Heads, int QLoraRank, int KvLoraRank, int QkNopeHeadDim, int QkRopeHeadDim, int VHeadDim)
    : AttentionArchitecture(Heads);

/// <summary>Grouped-query attention; multi-head attention is the case KeyValueHeads == Heads.</summary>
public sealed record GroupedQueryAttention(int Heads, int KeyValueHeads, int HeadDim, bool QkvBias, bool QkNorm)
    : AttentionArchitecture(Heads);

/// <summary>
/// The architecture fields of a decoder-only MoE model, named as in HuggingFace config.json.
/// Every MoE layer has <see cref="RoutedExperts"/> routed experts (top-<see cref="TopK"/>) and
/// <see cref="SharedExperts"/> shared experts; the first <see cref="FirstDenseLayers"/> layers use a dense FFN.
/// </summary>
public sealed record ModelArchitecture(
    int Layers,
    int HiddenSize,
    int DenseIntermediateSize,
    int MoeIntermediateSize,
    int RoutedExperts,
    int SharedExperts,
    int SharedExpertIntermediateSize,
    int TopK,
    int FirstDenseLayers,
    int ExpertGroups,
    int TopKGroups,
    AttentionArchitecture Attention,
    int VocabSize,
    int MtpLayers,
    bool TieWordEmbeddings,
    double RoutedScalingFactor,
    string ScoringFunction)
{
    public int MoeLayers => Layers - FirstDenseLayers;

    /// <summary>
    /// Depth-scaled sandwich norm (openPangu config.json <c>sandwich_norm</c>): each layer has four RMS norms
    /// (before and after attention, before and after the FFN) instead of two.
    /// </summary>
    public bool SandwichNorm { get; init; }

    /// <summary>
    /// The shared experts' output is scaled by a sigmoid gate (a hidden x 1 projection), as in Qwen1.5-MoE
    /// (qwen2_moe <c>shared_expert_gate</c>).
    /// </summary>
    public bool SharedExpertGate { get; init; }

    /// <summary>
    /// The longest sequence (prompt + output tokens) the model is configured for (config.json
    /// <c>max_position_embeddings</c>); null when the catalog or config gives none.
    /// </summary>
    public int? MaxPositionEmbeddings { get; init; }
}

/// <summary>A published parameter count with where it was published ("[2nd]" marks second-hand sources).</summary>
public sealed record PublishedParameters(double TotalBillions, double ActiveBillions, string Source);

/// <summary>A model of the embedded catalog (or read from a config.json).</summary>
/// <param name="NativeWeightPrecision">The precision the published checkpoint is stored in (bf16, fp8, int8).</param>
public sealed record ModelEntry(
    string Name,
    string DisplayName,
    ImmutableArray<string> Aliases,
    string? HuggingFaceId,
    string NativeWeightPrecision,
    ModelArchitecture Architecture,
    PublishedParameters? Published,
    string Source);

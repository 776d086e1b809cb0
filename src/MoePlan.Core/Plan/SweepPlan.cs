using System.Collections.Immutable;
using MoePlan.Core.Text;

namespace MoePlan.Core.Plan;

/// <summary>
/// A plan's <c>sweep { ... }</c> block, bound: the dimensions <c>moeplan search</c> varies around the plan and the
/// device budget. <c>check</c> validates it; <c>compile</c>, <c>cost</c> and <c>run</c> ignore it (docs/search.md).
/// </summary>
/// <param name="Devices">Cap on the devices a candidate may use (<c>devices N</c>, whole nodes); null = the plan's cluster.</param>
/// <param name="Dimensions">The varied dimensions in the order written.</param>
public sealed record SweepPlan(SourceSpan Span, Sourced<int>? Devices, ImmutableArray<DimensionValues> Dimensions);

/// <summary>A free choice of a deployment that <c>moeplan search</c> can vary.</summary>
public enum SearchDimension
{
    PrefillInstances,
    PrefillDataParallel,
    PrefillTensorParallel,
    PrefillExpertParallel,
    PrefillMaxBatchTokens,
    DecodeInstances,
    DecodeDataParallel,
    DecodeTensorParallel,
    DecodeExpertParallel,
    DecodeMaxBatch,
    RedundantExperts,
    DecodeMtp,
    PrefillOverlap,
    DecodeOverlap,
    ProxyMode,
    ProxyPolicy,

    /// <summary>Disaggregated (0: prefill and decode pools) or aggregated (1: one serve pool) serving.</summary>
    ServingMode,
}

/// <summary>The values of one varied dimension: a parsed <c>--vary NAME=VALUES</c> or a setting of a plan's <c>sweep</c> block.</summary>
/// <param name="Span">Where a sweep block set it; null for <c>--vary</c>.</param>
public sealed record DimensionValues(SearchDimension Dimension, string Name, IReadOnlyList<int> Values, SourceSpan? Span = null);

/// <summary>The names of the sweep dimensions, as a <c>sweep</c> block and <c>--vary</c> write them (docs/search.md).</summary>
public static class SweepDimensions
{
    /// <summary>EP value meaning "the same as dp" (<c>decode.ep=dp</c>).</summary>
    public const int SameAsDataParallel = -1;

    public static readonly IReadOnlyDictionary<string, SearchDimension> Names = new Dictionary<string, SearchDimension>(StringComparer.Ordinal)
    {
        ["prefill.instances"] = SearchDimension.PrefillInstances,
        ["prefill.dp"] = SearchDimension.PrefillDataParallel,
        ["prefill.tp"] = SearchDimension.PrefillTensorParallel,
        ["prefill.ep"] = SearchDimension.PrefillExpertParallel,
        ["prefill.max_batch_tokens"] = SearchDimension.PrefillMaxBatchTokens,
        ["decode.instances"] = SearchDimension.DecodeInstances,
        ["decode.dp"] = SearchDimension.DecodeDataParallel,
        ["decode.tp"] = SearchDimension.DecodeTensorParallel,
        ["decode.ep"] = SearchDimension.DecodeExpertParallel,
        ["decode.max_batch"] = SearchDimension.DecodeMaxBatch,
        ["placement.redundant_experts"] = SearchDimension.RedundantExperts,
        ["decode.mtp"] = SearchDimension.DecodeMtp,
        ["prefill.overlap"] = SearchDimension.PrefillOverlap,
        ["decode.overlap"] = SearchDimension.DecodeOverlap,
        ["proxy.mode"] = SearchDimension.ProxyMode,
        ["proxy.policy"] = SearchDimension.ProxyPolicy,
        ["mode"] = SearchDimension.ServingMode,
    };
}

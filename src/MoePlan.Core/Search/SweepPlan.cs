using System.Collections.Immutable;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;

namespace MoePlan.Core.Search;

/// <summary>
/// A plan's <c>sweep { ... }</c> block, bound: the dimensions <c>moeplan search</c> varies around the plan and the
/// device budget. <c>check</c> validates it; <c>compile</c>, <c>cost</c> and <c>run</c> ignore it (docs/search.md).
/// </summary>
/// <param name="Devices">Cap on the devices a candidate may use (<c>devices N</c>, whole nodes); null = the plan's cluster.</param>
/// <param name="Dimensions">The varied dimensions in the order written.</param>
public sealed record SweepPlan(SourceSpan Span, Sourced<int>? Devices, ImmutableArray<DimensionValues> Dimensions);

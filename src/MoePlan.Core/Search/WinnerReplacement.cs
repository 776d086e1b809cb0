using System.Collections.Immutable;
using MoePlan.Core.Cost;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Text;

namespace MoePlan.Core.Search;

/// <summary>A top candidate re-costed after its own placement.</summary>
/// <param name="Searched">The candidate as the search costed it (the base plan's imbalances).</param>
/// <param name="Replaced">The same candidate costed at the imbalances of its own placement (its EP, its redundant experts);
/// equal to <paramref name="Searched"/> when the placement could not run (see <paramref name="Diagnostics"/>).</param>
/// <param name="Cost">The placement + cost result of the candidate's plan, as <c>moeplan cost</c> computes it.</param>
public sealed record ReplacedCandidate(SearchCandidate Searched, SearchCandidate Replaced, PlanCostResult Cost, ImmutableArray<Diagnostic> Diagnostics)
{
    public double PrefillImbalance => Cost.Report is null ? double.NaN : Cost.PrefillImbalance;

    public double DecodeImbalance => Cost.Report is null ? double.NaN : Cost.DecodeImbalance;
}

/// <summary>
/// The search costs every candidate at the base plan's placement imbalance (a placement takes milliseconds, a
/// candidate must take microseconds). The few winners are then placed for their own EP size and redundant-expert
/// count and re-costed, and the top K re-ranked on those figures (docs/search.md).
/// </summary>
public static class WinnerReplacement
{
    /// <param name="options">The base plan's cost options (measured trace lengths, efficiency); its imbalances are dropped so placement runs.</param>
    public static ReplacedCandidate Replace(SearchCandidate candidate, ISourceResolver resolver, CostOptions options)
    {
        var cost = PlanCostEvaluation.Evaluate(candidate.Plan, resolver, options with { PrefillImbalance = null, DecodeImbalance = null });
        var replaced = cost.Report is { } report ? DesignSpaceSearch.Figures(candidate.Index, candidate.Settings, candidate.Plan, report.Figures) : candidate;
        return new ReplacedCandidate(candidate, replaced, cost, cost.Diagnostics);
    }

    /// <summary>Re-places every candidate and ranks them on the re-costed figures: those still meeting the SLOs first,
    /// by output tokens/s per rank, then cheaper, then lower TTFT, then earlier in the enumeration.</summary>
    public static IReadOnlyList<ReplacedCandidate> ReplaceAndRank(IReadOnlyList<SearchCandidate> top, ISourceResolver resolver, CostOptions options) =>
    [
        .. top.Select(c => Replace(c, resolver, options))
            .OrderByDescending(r => r.Replaced.MeetsSlos)
            .ThenByDescending(r => r.Replaced.OutputTokensPerSecondPerRank)
            .ThenBy(r => r.Replaced.UsdPerMillionOutputTokens ?? 0)
            .ThenBy(r => r.Replaced.TtftMilliseconds)
            .ThenBy(r => r.Replaced.Index),
    ];
}

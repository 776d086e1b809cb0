using MoePlan.Core.Placement;
using MoePlan.Emulation.Moe;

namespace MoePlan.Emulation.Functional;

/// <summary>One MoE layer of a functional run: the emulated step against the float64 reference.</summary>
/// <param name="MoeRelError">||emulated - reference|| / ||reference|| over the layer's output.</param>
/// <param name="MoeThreeSigmaRel">3 sigma of the statistical error model, relative to ||reference||.</param>
/// <param name="MoeWithinBound">Every element within its worst-case bound and ||e|| within 3 sigma.</param>
/// <param name="Utilization">Expert FLOPs over devices x peak x step time.</param>
/// <param name="Attention">The MLA layer's errors; null when the model's attention is not MLA.</param>
/// <param name="RoutingLoads">Tokens the batch routed to each expert: the loads the layer's placement was made from.</param>
/// <param name="Placement">Where the experts lived (device -> expert ids), as the placement algorithm returned it.</param>
public sealed record FunctionalLayerReport(
    int Layer,
    double MoeRelError,
    double MoeThreeSigmaRel,
    bool MoeWithinBound,
    int RoutingFlips,
    int RoutingMismatches,
    double DispatchUs,
    double ExpertsUs,
    double CombineUs,
    double Utilization,
    long BytesMoved,
    MlaResult? Attention,
    IReadOnlyList<double> RoutingLoads,
    LayerPlacement Placement)
{
    public bool Passed => MoeWithinBound && RoutingMismatches == 0
        && (Attention is null || (Attention.PrefillRelError <= Attention.Tolerance && Attention.DecodeRelError <= Attention.Tolerance));

    public double MaxRelError => Math.Max(MoeRelError, Attention is null ? 0 : Math.Max(Attention.PrefillRelError, Attention.DecodeRelError));
}

/// <summary>
/// What <see cref="FunctionalCheck.Run"/> found: the scaled-down model, how the plan's EP was folded onto the emulated
/// devices, notes that say what was scaled or assumed, and one report per layer run.
/// </summary>
/// <param name="Fold">Plan ranks per emulated device.</param>
/// <param name="PlacementAlgorithm">The algorithm that placed the experts (the plan's, unless a note says why not).</param>
public sealed record FunctionalReport(
    MoeLayerConfig Config,
    MlaConfig? Mla,
    int PlanLayers,
    int PlanEp,
    int Devices,
    int Fold,
    int DevicesPerNode,
    int Redundant,
    int Tokens,
    string PlacementAlgorithm,
    IReadOnlyList<string> Notes,
    IReadOnlyList<FunctionalLayerReport> Layers)
{
    public bool Passed => Layers.All(l => l.Passed);

    public double MaxRelError => Layers.Max(l => l.MaxRelError);
}

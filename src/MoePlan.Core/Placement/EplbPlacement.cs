using System.Collections.Immutable;
using MoePlan.Core.Diagnostics;

namespace MoePlan.Core.Placement;

/// <summary>
/// DeepSeek's EPLB (deepseek-ai/EPLB, eplb.py), implemented from its description and reproducing its tie-breaking:
/// stable descending sorts, the first index among equal maxima or minima.
/// <list type="number">
/// <item>Hierarchical: sum load per expert group, pack groups onto nodes (heaviest first, each to the lightest node with room);</item>
/// <item>inside each node, add replicas one at a time to the expert with the highest load / replicas;</item>
/// <item>pack the node's replicas onto its devices with the same balanced packing on load / replicas.</item>
/// </list>
/// The global policy is the same with one group and one node. Two guards the reference lacks, because moeplan's
/// placements must never hold two copies of an expert on one device: replication caps an expert at the devices it can
/// spread over (the node's devices, or all devices) and at the problem's replica cap; packing skips devices that already
/// hold the expert (falling back to a repair swap in the rare case every device with room holds it). Neither changes
/// the result when the reference's result has no such duplicate (as in its shipped example).
/// </summary>
public abstract class EplbPlacement : IPlacementAlgorithm
{
    private protected EplbPlacement()
    {
    }

    public abstract string Name { get; }

    public abstract string Summary { get; }

    private protected abstract bool Hierarchical { get; }

    public PlacementResult Place(PlacementProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        var diagnostics = ImmutableArray.CreateBuilder<Diagnostic>();
        if (problem.PhysicalExperts % problem.Devices != 0)
        {
            return PlacementResult.Failed(DiagnosticCodes.PlacementEvenOnly.Create(null, Name, problem.PhysicalExperts, problem.Devices));
        }

        if (problem.AllowUneven)
        {
            diagnostics.Add(DiagnosticCodes.PlacementIgnoresUneven.Create(null, Name));
        }

        var groups = problem.ExpertGroups;
        var nodes = problem.Nodes;
        if (Hierarchical && groups % nodes != 0)
        {
            diagnostics.Add(DiagnosticCodes.PlacementHierarchicalFallback.Create(null, groups, nodes));
        }

        if (!Hierarchical || groups % nodes != 0)
        {
            groups = 1;
            nodes = 1;
        }

        var replicaCap = Math.Min(problem.MaxReplicasPerExpert, problem.Devices / nodes);
        if ((long)replicaCap * (problem.Experts / nodes) < problem.PhysicalExperts / nodes)
        {
            diagnostics.Add(DiagnosticCodes.PlacementHierarchicalNoRoom.Create(null, problem.DevicesPerNode, problem.PhysicalExperts / nodes, problem.Experts / nodes));
            groups = 1;
            nodes = 1;
            replicaCap = Math.Min(problem.MaxReplicasPerExpert, problem.Devices);
        }

        var capBinds = false;
        var layouts = new List<LayerLayout>();
        for (var layer = 0; layer < problem.Loads.LayerCount; layer++)
        {
            var weights = problem.Loads.Layer(layer).ToArray();
            var phy2log = Rebalance(weights, problem.PhysicalExperts, groups, nodes, problem.Devices, replicaCap, ref capBinds);
            var layout = new LayerLayout(problem.Devices);
            var perDevice = problem.PhysicalExperts / problem.Devices;
            for (var p = 0; p < phy2log.Length; p++)
            {
                layout.Items[p / perDevice].Add(phy2log[p]);
            }

            var counts = new int[problem.Experts];
            foreach (var e in phy2log)
            {
                counts[e]++;
            }

            layout.RepairDuplicates(e => weights[e] / counts[e], perDevice);
            layouts.Add(layout);
        }

        if (capBinds && replicaCap < problem.MaxReplicasPerExpert)
        {
            diagnostics.Add(DiagnosticCodes.PlacementCapIgnored.Create(null, Name, replicaCap));
        }

        return new PlacementResult(LayerLayout.Assemble(Name, problem, layouts, sortSlots: false), diagnostics.ToImmutable());
    }

    /// <summary>
    /// One layer of <c>rebalance_experts_hierarchical</c>: returns phy2log, the logical expert of each physical slot;
    /// slot p lives on device p / (physical / devices).
    /// </summary>
    internal static int[] Rebalance(double[] weight, int physical, int groups, int nodes, int devices, int replicaCap, ref bool capBinds)
    {
        var experts = weight.Length;
        var groupSize = experts / groups;
        var groupsPerNode = groups / nodes;
        var perDevice = physical / devices;

        // Step 1: pack groups onto nodes.
        var tokensPerGroup = new double[groups];
        for (var e = 0; e < experts; e++)
        {
            tokensPerGroup[e / groupSize] += weight[e];
        }

        var (groupPack, groupRank) = BalancedPacking(tokensPerGroup, nodes, labels: null);
        var log2mlog = new int[experts];
        var mlog2log = new int[experts];
        for (var e = 0; e < experts; e++)
        {
            var g = e / groupSize;
            log2mlog[e] = (((groupPack[g] * groupsPerNode) + groupRank[g]) * groupSize) + (e % groupSize);
            mlog2log[log2mlog[e]] = e;
        }

        // Steps 2 and 3, node by node.
        var expertsPerNode = experts / nodes;
        var physicalPerNode = physical / nodes;
        var result = new int[physical];
        for (var node = 0; node < nodes; node++)
        {
            var tokensPerMlog = new double[expertsPerNode];
            for (var j = 0; j < expertsPerNode; j++)
            {
                tokensPerMlog[j] = weight[mlog2log[(node * expertsPerNode) + j]];
            }

            var (phy2mlog, mlogCount) = ReplicateExperts(tokensPerMlog, physicalPerNode, replicaCap, ref capBinds);
            var tokensPerPhy = phy2mlog.Select(m => tokensPerMlog[m] / mlogCount[m]).ToArray();
            var (pack, rank) = BalancedPacking(tokensPerPhy, devices / nodes, phy2mlog);
            for (var k = 0; k < physicalPerNode; k++)
            {
                var pphy = (pack[k] * perDevice) + rank[k];
                result[(node * physicalPerNode) + pphy] = mlog2log[phy2mlog[k] + (node * expertsPerNode)];
            }
        }

        return result;
    }

    /// <summary>
    /// <c>replicate_experts</c>: slots 0..n-1 hold experts 0..n-1, each further slot the expert with the highest
    /// load / replicas (first index on ties), skipping experts at the replica cap.
    /// </summary>
    internal static (int[] Phy2Log, int[] Counts) ReplicateExperts(double[] weight, int physical, int replicaCap, ref bool capBinds)
    {
        var n = weight.Length;
        var phy2log = new int[physical];
        var counts = new int[n];
        for (var e = 0; e < n; e++)
        {
            phy2log[e] = e;
            counts[e] = 1;
        }

        for (var p = n; p < physical; p++)
        {
            var best = -1;
            var bestAny = -1;
            for (var e = 0; e < n; e++)
            {
                var value = weight[e] / counts[e];
                if (bestAny < 0 || value > weight[bestAny] / counts[bestAny])
                {
                    bestAny = e;
                }

                if (counts[e] < replicaCap && (best < 0 || value > weight[best] / counts[best]))
                {
                    best = e;
                }
            }

            if (best != bestAny)
            {
                capBinds = true;
            }

            phy2log[p] = best;
            counts[best]++;
        }

        return (phy2log, counts);
    }

    /// <summary>
    /// <c>balanced_packing</c>: items heaviest first (stable), each to the lightest pack (first index on ties) that has
    /// room and, when labels are given, no item with the same label.
    /// </summary>
    internal static (int[] Pack, int[] Rank) BalancedPacking(double[] weight, int packs, int[]? labels)
    {
        var n = weight.Length;
        var perPack = n / packs;
        var pack = new int[n];
        var rank = new int[n];
        if (perPack == 1)
        {
            for (var i = 0; i < n; i++)
            {
                pack[i] = i;
            }

            return (pack, rank);
        }

        var order = Enumerable.Range(0, n).OrderByDescending(i => weight[i]).ToArray();
        var packWeight = new double[packs];
        var packItems = new int[packs];
        var packLabels = new List<int>[packs];
        for (var p = 0; p < packs; p++)
        {
            packLabels[p] = [];
        }

        foreach (var item in order)
        {
            var chosen = -1;
            var fallback = -1;
            for (var p = 0; p < packs; p++)
            {
                if (packItems[p] >= perPack)
                {
                    continue;
                }

                if (fallback < 0 || packWeight[p] < packWeight[fallback])
                {
                    fallback = p;
                }

                if ((labels is null || !packLabels[p].Contains(labels[item])) && (chosen < 0 || packWeight[p] < packWeight[chosen]))
                {
                    chosen = p;
                }
            }

            if (chosen < 0)
            {
                chosen = fallback;
            }

            pack[item] = chosen;
            rank[item] = packItems[chosen];
            packWeight[chosen] += weight[item];
            packItems[chosen]++;
            if (labels is not null)
            {
                packLabels[chosen].Add(labels[item]);
            }
        }

        return (pack, rank);
    }
}

/// <summary>EPLB's hierarchical policy: groups to nodes, replication and packing inside each node.</summary>
public sealed class EplbHierarchicalPlacement : EplbPlacement
{
    public const string AlgorithmName = "eplb-hierarchical";

    public override string Name => AlgorithmName;

    public override string Summary => "DeepSeek EPLB, hierarchical policy: expert groups packed onto nodes, replicas and packing within each node";

    private protected override bool Hierarchical => true;
}

/// <summary>EPLB's global policy: replicate over all devices, then pack.</summary>
public sealed class EplbGlobalPlacement : EplbPlacement
{
    public const string AlgorithmName = "eplb-global";

    public override string Name => AlgorithmName;

    public override string Summary => "DeepSeek EPLB, global policy: replicate the heaviest load/replica, balanced packing over all devices";

    private protected override bool Hierarchical => false;
}

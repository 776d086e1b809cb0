namespace MoePlan.Core.Placement;

/// <summary>
/// Omni Placement's offline, layer-wise pattern generation (Omni-Infer <c>omni/accelerators/placement</c>), per layer:
/// <list type="number">
/// <item>every expert gets one instance; the redundant slots go one at a time to the expert with the highest
/// load / instances (a max-heap; first expert id on ties), skipping experts at <c>max_redundant_per_expert</c>
/// (the problem's <see cref="PlacementProblem.MaxReplicasPerExpert"/>);</item>
/// <item>instances are sorted by load / instances, heaviest first, and each goes to the least-loaded device that has
/// capacity and no instance of the same expert; equal loads are broken by an order that interleaves devices across
/// hosts (slot 0 of every node, then slot 1, ...).</item>
/// </list>
/// Device capacity is the problem's <see cref="PlacementProblem.SlotsPerDevice"/>: exactly that many per device when even;
/// in uneven mode it is the per-rank cap (base experts + <c>max_redundant_per_rank</c>) and devices end up holding
/// different numbers of experts.
/// </summary>
public sealed class OmniPlacement : IPlacementAlgorithm
{
    public const string AlgorithmName = "omni";

    public string Name => AlgorithmName;

    public string Summary => "Omni Placement: capped max-heap replica allocation, heaviest instance to the least-loaded device without a copy";

    public PlacementResult Place(PlacementProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        var layouts = new List<LayerLayout>();
        var interleave = new int[problem.Devices];
        for (var d = 0; d < problem.Devices; d++)
        {
            interleave[d] = ((d % problem.DevicesPerNode) * problem.Nodes) + problem.NodeOf(d);
        }

        for (var layer = 0; layer < problem.Loads.LayerCount; layer++)
        {
            var weights = problem.Loads.Layer(layer).ToArray();
            var counts = AllocateReplicas(weights, problem.PhysicalExperts, problem.MaxReplicasPerExpert);
            var instances = new List<int>();
            for (var e = 0; e < weights.Length; e++)
            {
                for (var k = 0; k < counts[e]; k++)
                {
                    instances.Add(e);
                }
            }

            var ordered = instances.OrderByDescending(e => weights[e] / counts[e]).ToList();
            var layout = new LayerLayout(problem.Devices);
            var load = new double[problem.Devices];
            foreach (var expert in ordered)
            {
                var best = -1;
                var fallback = -1;
                for (var d = 0; d < problem.Devices; d++)
                {
                    if (layout.Items[d].Count >= problem.SlotsPerDevice)
                    {
                        continue;
                    }

                    if (Better(d, fallback))
                    {
                        fallback = d;
                    }

                    if (!layout.Items[d].Contains(expert) && Better(d, best))
                    {
                        best = d;
                    }
                }

                var chosen = best >= 0 ? best : fallback;
                layout.Items[chosen].Add(expert);
                load[chosen] += weights[expert] / counts[expert];
            }

            layout.RepairDuplicates(e => weights[e] / counts[e], problem.SlotsPerDevice);
            layouts.Add(layout);

            bool Better(int d, int current) =>
                current < 0 || load[d] < load[current] || (load[d] == load[current] && interleave[d] < interleave[current]);
        }

        return new PlacementResult(LayerLayout.Assemble(Name, problem, layouts, sortSlots: true), []);
    }

    /// <summary>Instances per expert: one each, then the redundant slots by a capped max-heap on load / instances.</summary>
    internal static int[] AllocateReplicas(double[] weights, int physical, int cap)
    {
        var counts = Enumerable.Repeat(1, weights.Length).ToArray();
        var heap = new PriorityQueue<int, (double NegativeLoad, int Expert)>();
        for (var e = 0; e < weights.Length; e++)
        {
            if (cap > 1)
            {
                heap.Enqueue(e, (-weights[e], e));
            }
        }

        for (var slot = weights.Length; slot < physical && heap.Count > 0; slot++)
        {
            var e = heap.Dequeue();
            counts[e]++;
            if (counts[e] < cap)
            {
                heap.Enqueue(e, (-weights[e] / counts[e], e));
            }
        }

        return counts;
    }
}

namespace MoePlan.Core.Placement;

/// <summary>
/// moeplan's own placement (the default). Per layer, the primary objective is the imbalance (max device load / mean),
/// the secondary one the cross-node dispatch share of <see cref="PlacementMetrics"/>:
/// <list type="number">
/// <item>replica counts: one copy each, then every redundant slot to the expert with the highest load / copies
/// (capped), which minimises the heaviest single copy;</item>
/// <item>greedy packing: copies heaviest first, each to the least-loaded device with room and no copy of the expert;
/// equal loads prefer a node without a copy, then devices interleaved across nodes;</item>
/// <item>local search on the most loaded device, until no move helps: swaps of a copy with a lighter copy on any
/// other device, moves into free slots (uneven mode), and joint replica-count moves that take a slot from an expert
/// with several copies and give it to another expert (one more copy of a hot expert on the busiest device, or one copy
/// fewer there), repacking and recounting together; each accepted step lowers the maximum or the number of devices at it;</item>
/// <item>topology: swaps that put copies of one expert on distinct nodes (so more source nodes find a local copy),
/// accepted only while no device exceeds the balanced maximum by more than <see cref="TopologyTolerance"/>, then the
/// local search again with swaps that keep the node spread.</item>
/// </list>
/// A robust problem (<see cref="PlacementProblem.Scenarios"/>: several load sets) is solved as above on their mean, then
/// <see cref="RobustLayerRefiner"/> lowers the expected or worst-case busiest rank over the sets.
/// </summary>
public sealed class MoePlanPlacement : IPlacementAlgorithm
{
    public const string AlgorithmName = "moeplan";

    public string Name => AlgorithmName;

    public string Summary => "moeplan: joint replica counts and packing, greedy then local search, node-aware (default)";

    /// <summary>How much the topology step may raise the layer's maximum device load (relative; 0.001 = 0.1%).</summary>
    public double TopologyTolerance { get; init; } = 0.001;

    /// <summary>Whether to run the topology step at all.</summary>
    public bool TopologyAware { get; init; } = true;

    public PlacementResult Place(PlacementProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);

        // Layers are independent: solved in parallel (each into its own slot, so the result does not depend on the
        // order threads finish in). A DeepSeek-sized decode pool is most of what `check` spends its time on.
        var layouts = new LayerLayout[problem.Loads.LayerCount];
        Parallel.For(0, layouts.Length, layer =>
        {
            var solver = new MoePlanLayerSolver(problem, problem.Loads.Layer(layer).ToArray());
            var layout = solver.Solve(TopologyAware && problem.Nodes > 1 ? TopologyTolerance : null);
            if (problem.Scenarios.Length > 1)
            {
                var weights = problem.Scenarios.Select(s => s.Layer(layer).ToArray()).Where(w => w.Sum() > 0).ToList();
                if (weights.Count > 1)
                {
                    new RobustLayerRefiner(layout, weights, problem.SlotsPerDevice, problem.Objective).Refine();
                }
            }

            layouts[layer] = layout;
        });

        return new PlacementResult(LayerLayout.Assemble(Name, problem, layouts, sortSlots: true), []);
    }
}

/// <summary>The state and steps of <see cref="MoePlanPlacement"/> for one layer.</summary>
internal sealed class MoePlanLayerSolver
{
    private readonly double[] _weight;
    private readonly int _experts;
    private readonly int _devices;
    private readonly int _devicesPerNode;
    private readonly int _nodes;
    private readonly int _capacity;
    private readonly int _maxReplicas;
    private readonly double _epsilon;
    private readonly int[] _interleave;

    private readonly int[] _count;
    private readonly double[] _replicaLoad;
    private readonly int[][] _items;
    private readonly int[] _size;
    private readonly double[] _load;
    private readonly bool[] _holds;
    private readonly int[] _nodeHosts;
    private readonly int[] _order;

    public MoePlanLayerSolver(PlacementProblem problem, double[] weight)
    {
        _weight = weight;
        _experts = weight.Length;
        _devices = problem.Devices;
        _devicesPerNode = problem.DevicesPerNode;
        _nodes = problem.Nodes;
        _capacity = problem.SlotsPerDevice;
        _maxReplicas = problem.MaxReplicasPerExpert;
        _epsilon = 1e-9 * weight.Sum() / _devices;
        _interleave = new int[_devices];
        for (var d = 0; d < _devices; d++)
        {
            _interleave[d] = ((d % _devicesPerNode) * _nodes) + (d / _devicesPerNode);
        }

        _count = OmniPlacement.AllocateReplicas(weight, problem.PhysicalExperts, _maxReplicas);
        _replicaLoad = new double[_experts];
        for (var e = 0; e < _experts; e++)
        {
            _replicaLoad[e] = weight[e] / _count[e];
        }

        _items = new int[_devices][];
        for (var d = 0; d < _devices; d++)
        {
            _items[d] = new int[_capacity];
        }

        _size = new int[_devices];
        _load = new double[_devices];
        _holds = new bool[_devices * _experts];
        _nodeHosts = new int[_nodes * _experts];
        _order = new int[_devices];
    }

    public LayerLayout Solve(double? topologyTolerance)
    {
        GreedyPack();
        Balance(keepSpread: false);
        if (topologyTolerance is { } tolerance)
        {
            SpreadOverNodes(tolerance);
            Balance(keepSpread: true);
        }

        return ToLayout();
    }

    private int NodeOf(int device) => device / _devicesPerNode;

    private bool Holds(int device, int expert) => _holds[(device * _experts) + expert];

    private int NodeHosts(int node, int expert) => _nodeHosts[(node * _experts) + expert];

    private void Add(int device, int expert)
    {
        _items[device][_size[device]++] = expert;
        _holds[(device * _experts) + expert] = true;
        _nodeHosts[(NodeOf(device) * _experts) + expert]++;
        _load[device] += _replicaLoad[expert];
    }

    private void RemoveAt(int device, int slot)
    {
        var expert = _items[device][slot];
        _items[device][slot] = _items[device][--_size[device]];
        _holds[(device * _experts) + expert] = false;
        _nodeHosts[(NodeOf(device) * _experts) + expert]--;
        _load[device] -= _replicaLoad[expert];
    }

    private void ReplaceAt(int device, int slot, int expert)
    {
        var old = _items[device][slot];
        _holds[(device * _experts) + old] = false;
        _nodeHosts[(NodeOf(device) * _experts) + old]--;
        _items[device][slot] = expert;
        _holds[(device * _experts) + expert] = true;
        _nodeHosts[(NodeOf(device) * _experts) + expert]++;
        _load[device] += _replicaLoad[expert] - _replicaLoad[old];
    }

    private void RecomputeLoads()
    {
        for (var d = 0; d < _devices; d++)
        {
            var sum = 0.0;
            for (var s = 0; s < _size[d]; s++)
            {
                sum += _replicaLoad[_items[d][s]];
            }

            _load[d] = sum;
        }
    }

    private int MostLoaded()
    {
        var a = 0;
        for (var d = 1; d < _devices; d++)
        {
            if (_load[d] > _load[a])
            {
                a = d;
            }
        }

        return a;
    }

    private void GreedyPack()
    {
        var copies = new List<int>();
        for (var e = 0; e < _experts; e++)
        {
            for (var k = 0; k < _count[e]; k++)
            {
                copies.Add(e);
            }
        }

        var duplicates = false;
        foreach (var e in copies.OrderByDescending(e => _replicaLoad[e]))
        {
            var best = -1;
            var fallback = -1;
            for (var d = 0; d < _devices; d++)
            {
                if (_size[d] >= _capacity)
                {
                    continue;
                }

                if (fallback < 0 || _load[d] < _load[fallback])
                {
                    fallback = d;
                }

                if (!Holds(d, e) && (best < 0 || Prefer(d, best, e)))
                {
                    best = d;
                }
            }

            duplicates |= best < 0;
            if (best < 0)
            {
                // Every device with room holds the expert: place a duplicate and repair below.
                _items[fallback][_size[fallback]++] = e;
                _load[fallback] += _replicaLoad[e];
            }
            else
            {
                Add(best, e);
            }
        }

        if (duplicates)
        {
            var layout = ToLayout();
            layout.RepairDuplicates(e => _replicaLoad[e], _capacity);
            Array.Clear(_size);
            Array.Clear(_load);
            Array.Clear(_holds);
            Array.Clear(_nodeHosts);
            for (var d = 0; d < _devices; d++)
            {
                foreach (var e in layout.Items[d])
                {
                    Add(d, e);
                }
            }
        }
    }

    private bool Prefer(int d, int current, int expert)
    {
        if (_load[d] != _load[current])
        {
            return _load[d] < _load[current];
        }

        var fresh = NodeHosts(NodeOf(d), expert) == 0;
        var currentFresh = NodeHosts(NodeOf(current), expert) == 0;
        return fresh != currentFresh ? fresh : _interleave[d] < _interleave[current];
    }

    /// <summary>Change of the node spread sum(load_e x nodes holding e) when one copy of e leaves device 'from' for device 'to'.</summary>
    private double SpreadGain(int expert, int from, int to)
    {
        var nodeFrom = NodeOf(from);
        var nodeTo = NodeOf(to);
        if (nodeFrom == nodeTo)
        {
            return 0;
        }

        var gained = NodeHosts(nodeTo, expert) == 0 ? 1 : 0;
        var lost = NodeHosts(nodeFrom, expert) == 1 ? 1 : 0;
        return _weight[expert] * (gained - lost);
    }

    /// <summary>Local search on the most loaded device; see the class summary.</summary>
    private void Balance(bool keepSpread)
    {
        var limit = (20 * _devices * _capacity) + 1000;
        for (var iteration = 0; iteration < limit; iteration++)
        {
            var a = MostLoaded();
            if (TryExchange(a, keepSpread))
            {
                continue;
            }

            if (!keepSpread && TryReplicaShift(a))
            {
                continue;
            }

            return;
        }
    }

    private bool TryExchange(int a, bool keepSpread)
    {
        var la = _load[a];
        var threshold = la - _epsilon;
        var bestValue = threshold;
        (int B, int SlotA, int SlotB) best = (-1, -1, -1);
        // Lightest devices first: a swap with b leaves max(la - delta, lb + delta) >= (la + lb) / 2, so once that bound
        // reaches the best value found, no heavier device can do better.
        for (var d = 0; d < _devices; d++)
        {
            _order[d] = d;
        }

        Array.Sort(_order, (x, y) => _load[x] != _load[y] ? _load[x].CompareTo(_load[y]) : x.CompareTo(y));
        foreach (var b in _order)
        {
            var lb = _load[b];
            if ((la + lb) / 2 >= bestValue)
            {
                break;
            }

            if (b == a)
            {
                continue;
            }

            for (var sa = 0; sa < _size[a]; sa++)
            {
                var i = _items[a][sa];
                if (Holds(b, i))
                {
                    continue;
                }

                var ri = _replicaLoad[i];
                var gainI = keepSpread ? SpreadGain(i, a, b) : 0;
                if (_size[b] < _capacity && (!keepSpread || gainI >= 0))
                {
                    var value = Math.Max(la - ri, lb + ri);
                    if (value < bestValue)
                    {
                        bestValue = value;
                        best = (b, sa, -1);
                    }
                }

                for (var sb = 0; sb < _size[b]; sb++)
                {
                    var j = _items[b][sb];
                    var delta = ri - _replicaLoad[j];
                    if (delta <= 0 || Holds(a, j))
                    {
                        continue;
                    }

                    var value = Math.Max(la - delta, lb + delta);
                    if (value < bestValue && (!keepSpread || gainI + SpreadGain(j, b, a) >= 0))
                    {
                        bestValue = value;
                        best = (b, sa, sb);
                    }
                }
            }
        }

        if (best.B < 0)
        {
            return false;
        }

        var moving = _items[a][best.SlotA];
        if (best.SlotB < 0)
        {
            RemoveAt(a, best.SlotA);
            Add(best.B, moving);
        }
        else
        {
            var back = _items[best.B][best.SlotB];
            ReplaceAt(a, best.SlotA, back);
            ReplaceAt(best.B, best.SlotB, moving);
        }

        return true;
    }

    /// <summary>
    /// Joint replica-count moves around the most loaded device a; every device whose load rises must stay below a's load:
    /// (1) give an expert x on a one more copy, on a device b in place of a copy of an expert y that has several;
    /// (2) take a copy of an expert x (with several) off a and put a new copy of an expert y there.
    /// </summary>
    private bool TryReplicaShift(int a)
    {
        var threshold = _load[a] - _epsilon;
        var hosts = new List<int>[_experts];
        for (var e = 0; e < _experts; e++)
        {
            hosts[e] = [];
        }

        for (var d = 0; d < _devices; d++)
        {
            for (var s = 0; s < _size[d]; s++)
            {
                hosts[_items[d][s]].Add(d);
            }
        }

        var bestValue = threshold;
        (int Kind, int X, int Y, int B, int Slot) best = (0, -1, -1, -1, -1);

        for (var sa = 0; sa < _size[a]; sa++)
        {
            var x = _items[a][sa];
            var rx = _replicaLoad[x];

            // (1) One more copy of x, replacing a copy of y on b.
            if (_count[x] < _maxReplicas)
            {
                var rxNew = _weight[x] / (_count[x] + 1);
                var dx = rx - rxNew;
                for (var b = 0; b < _devices; b++)
                {
                    if (b == a || Holds(b, x))
                    {
                        continue;
                    }

                    for (var sb = 0; sb < _size[b]; sb++)
                    {
                        var y = _items[b][sb];
                        if (_count[y] < 2)
                        {
                            continue;
                        }

                        var dy = (_weight[y] / (_count[y] - 1)) - _replicaLoad[y];
                        var value = _load[b] - _replicaLoad[y] + rxNew;
                        var la = _load[a] - dx + (Holds(a, y) ? dy : 0);
                        value = Math.Max(value, la);
                        if (value >= bestValue)
                        {
                            continue;
                        }

                        foreach (var h in hosts[y])
                        {
                            if (h != b && h != a)
                            {
                                value = Math.Max(value, _load[h] + dy - (Holds(h, x) ? dx : 0));
                            }
                        }

                        if (value < bestValue)
                        {
                            bestValue = value;
                            best = (1, x, y, b, sb);
                        }
                    }
                }
            }

            // (2) One copy fewer of x, its slot on a going to a new copy of y.
            if (_count[x] >= 2)
            {
                var dx = (_weight[x] / (_count[x] - 1)) - rx;
                var hostsMax = double.MinValue;
                for (var y = 0; y < _experts; y++)
                {
                    if (y == x || Holds(a, y) || _count[y] >= _maxReplicas)
                    {
                        continue;
                    }

                    var ryNew = _weight[y] / (_count[y] + 1);
                    var dy = _replicaLoad[y] - ryNew;
                    var value = _load[a] - rx + ryNew;
                    if (value >= bestValue)
                    {
                        continue;
                    }

                    hostsMax = double.MinValue;
                    foreach (var h in hosts[x])
                    {
                        if (h != a)
                        {
                            hostsMax = Math.Max(hostsMax, _load[h] + dx - (Holds(h, y) ? dy : 0));
                        }
                    }

                    value = Math.Max(value, hostsMax);
                    if (value < bestValue)
                    {
                        bestValue = value;
                        best = (2, x, y, a, sa);
                    }
                }
            }
        }

        if (best.Kind == 0)
        {
            return false;
        }

        if (best.Kind == 1)
        {
            _count[best.X]++;
            _count[best.Y]--;
            ReplaceAt(best.B, best.Slot, best.X);
        }
        else
        {
            _count[best.X]--;
            _count[best.Y]++;
            ReplaceAt(a, best.Slot, best.Y);
        }

        _replicaLoad[best.X] = _weight[best.X] / _count[best.X];
        _replicaLoad[best.Y] = _weight[best.Y] / _count[best.Y];
        RecomputeLoads();
        return true;
    }

    /// <summary>
    /// Swaps (or moves, when a device has room) that put a copy of a replicated expert on a node without one, as long
    /// as the node spread grows and no device exceeds the current maximum times (1 + tolerance).
    /// </summary>
    private void SpreadOverNodes(double tolerance)
    {
        var ceiling = _load[MostLoaded()] * (1 + tolerance);
        var limit = _devices * _capacity;
        for (var iteration = 0; iteration < limit; iteration++)
        {
            var bestGain = _epsilon;
            var bestPeak = double.MaxValue;
            (int A, int SlotA, int B, int SlotB) best = (-1, -1, -1, -1);
            for (var a = 0; a < _devices; a++)
            {
                var nodeA = NodeOf(a);
                for (var sa = 0; sa < _size[a]; sa++)
                {
                    var e = _items[a][sa];
                    if (NodeHosts(nodeA, e) < 2)
                    {
                        continue;
                    }

                    var re = _replicaLoad[e];
                    for (var b = 0; b < _devices; b++)
                    {
                        if (NodeHosts(NodeOf(b), e) != 0)
                        {
                            continue;
                        }

                        if (_size[b] < _capacity)
                        {
                            Consider(a, sa, b, -1, _weight[e], _load[a] - re, _load[b] + re);
                        }

                        for (var sb = 0; sb < _size[b]; sb++)
                        {
                            var j = _items[b][sb];
                            if (Holds(a, j))
                            {
                                continue;
                            }

                            var delta = re - _replicaLoad[j];
                            Consider(a, sa, b, sb, _weight[e] + SpreadGain(j, b, a), _load[a] - delta, _load[b] + delta);
                        }
                    }
                }
            }

            if (best.A < 0)
            {
                return;
            }

            var moving = _items[best.A][best.SlotA];
            if (best.SlotB < 0)
            {
                RemoveAt(best.A, best.SlotA);
                Add(best.B, moving);
            }
            else
            {
                var back = _items[best.B][best.SlotB];
                ReplaceAt(best.A, best.SlotA, back);
                ReplaceAt(best.B, best.SlotB, moving);
            }

            void Consider(int a, int sa, int b, int sb, double gain, double newA, double newB)
            {
                var peak = Math.Max(newA, newB);
                if (peak > ceiling || gain < bestGain || (gain == bestGain && peak >= bestPeak))
                {
                    return;
                }

                bestGain = gain;
                bestPeak = peak;
                best = (a, sa, b, sb);
            }
        }
    }

    private LayerLayout ToLayout()
    {
        var layout = new LayerLayout(_devices);
        for (var d = 0; d < _devices; d++)
        {
            for (var s = 0; s < _size[d]; s++)
            {
                layout.Items[d].Add(_items[d][s]);
            }
        }

        return layout;
    }
}

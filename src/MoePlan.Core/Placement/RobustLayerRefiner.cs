namespace MoePlan.Core.Placement;

/// <summary>What a robust placement minimises over its load scenarios, per layer.</summary>
public enum RobustObjective
{
    /// <summary>The mean over the scenarios of the busiest rank's load (each scenario's layer normalised to total 1).</summary>
    Expected,

    /// <summary>The largest over the scenarios of the busiest rank's load; ties broken by the mean.</summary>
    WorstCase,
}

/// <summary>
/// The robust step of <see cref="MoePlanPlacement"/>: given a layout solved on the scenarios' mean and the scenarios'
/// loads of one layer (each normalised to total 1, so every rank's mean load is 1 / ranks in every scenario), local
/// search that lowers the <see cref="RobustObjective"/>. Moves: swap a copy on a rank that is the busiest in some
/// scenario with a copy elsewhere (two copies of one expert never share a rank), or, in uneven mode, move it into a free
/// slot. Replica counts stay as the mean solve chose them. Each accepted move lowers the objective by more than a
/// relative 1e-12, so the search ends.
/// </summary>
internal sealed class RobustLayerRefiner
{
    private readonly double[][] _replicaLoad;
    private readonly List<int>[] _items;
    private readonly int _capacity;
    private readonly RobustObjective _objective;
    private readonly int _devices;
    private readonly int _scenarios;
    private readonly double[][] _load;

    public RobustLayerRefiner(LayerLayout layout, IReadOnlyList<double[]> scenarioWeights, int capacity, RobustObjective objective)
    {
        _items = layout.Items;
        _devices = layout.Devices;
        _capacity = capacity;
        _objective = objective;
        _scenarios = scenarioWeights.Count;
        var experts = scenarioWeights[0].Length;
        var copies = new int[experts];
        foreach (var device in _items)
        {
            foreach (var e in device)
            {
                copies[e]++;
            }
        }

        _replicaLoad = scenarioWeights.Select(w => w.Select((x, e) => copies[e] > 0 ? x / copies[e] : 0).ToArray()).ToArray();
        _load = new double[_scenarios][];
        for (var s = 0; s < _scenarios; s++)
        {
            _load[s] = new double[_devices];
            for (var d = 0; d < _devices; d++)
            {
                foreach (var e in _items[d])
                {
                    _load[s][d] += _replicaLoad[s][e];
                }
            }
        }
    }

    /// <summary>The objective's value as (primary, tie-break).</summary>
    public (double Primary, double Secondary) Value()
    {
        var max = _load.Select(l => l.Max()).ToArray();
        return Score(max);
    }

    public void Refine()
    {
        var limit = (20 * _devices * _capacity) + 1000;
        for (var iteration = 0; iteration < limit && Step(); iteration++)
        {
        }
    }

    private (double, double) Score(double[] maxPerScenario) => _objective == RobustObjective.Expected
        ? (maxPerScenario.Sum(), 0)
        : (maxPerScenario.Max(), maxPerScenario.Sum());

    private static bool Better((double P, double S) candidate, (double P, double S) current)
    {
        var tolerance = 1e-12 * Math.Max(1e-300, Math.Abs(current.P));
        if (candidate.P < current.P - tolerance)
        {
            return true;
        }

        return candidate.P <= current.P + tolerance && candidate.S < current.S - (1e-12 * Math.Abs(current.S));
    }

    /// <summary>Finds and applies the best move from a rank that is the busiest in some scenario; false when none helps.</summary>
    private bool Step()
    {
        // The three busiest ranks per scenario: a move changes two ranks, so the third is the rest's maximum.
        var top = new (int Device, double Load)[_scenarios][];
        var sources = new SortedSet<int>();
        for (var s = 0; s < _scenarios; s++)
        {
            top[s] = Enumerable.Range(0, _devices).Select(d => (d, _load[s][d])).OrderByDescending(x => x.Item2).ThenBy(x => x.d).Take(3).ToArray();
            sources.Add(top[s][0].Device);
        }

        var current = Score(top.Select(t => t[0].Load).ToArray());
        var best = current;
        (int A, int SlotA, int B, int SlotB) move = (-1, -1, -1, -1);
        var newMax = new double[_scenarios];
        foreach (var a in sources)
        {
            for (var b = 0; b < _devices; b++)
            {
                if (b == a)
                {
                    continue;
                }

                for (var sa = 0; sa < _items[a].Count; sa++)
                {
                    var i = _items[a][sa];
                    if (_items[b].Contains(i))
                    {
                        continue;
                    }

                    // slotB == -1: move i into a free slot of b (uneven layouts only).
                    for (var sb = _items[b].Count < _capacity ? -1 : 0; sb < _items[b].Count; sb++)
                    {
                        var j = sb < 0 ? -1 : _items[b][sb];
                        if (j >= 0 && _items[a].Contains(j))
                        {
                            continue;
                        }

                        for (var s = 0; s < _scenarios; s++)
                        {
                            var delta = _replicaLoad[s][i] - (j >= 0 ? _replicaLoad[s][j] : 0);
                            var rest = 0.0;
                            foreach (var (d, l) in top[s])
                            {
                                if (d != a && d != b)
                                {
                                    rest = l;
                                    break;
                                }
                            }

                            newMax[s] = Math.Max(rest, Math.Max(_load[s][a] - delta, _load[s][b] + delta));
                        }

                        var score = Score(newMax);
                        if (Better(score, best))
                        {
                            best = score;
                            move = (a, sa, b, sb);
                        }
                    }
                }
            }
        }

        if (move.A < 0)
        {
            return false;
        }

        var expertA = _items[move.A][move.SlotA];
        var expertB = move.SlotB >= 0 ? _items[move.B][move.SlotB] : -1;
        for (var s = 0; s < _scenarios; s++)
        {
            var delta = _replicaLoad[s][expertA] - (expertB >= 0 ? _replicaLoad[s][expertB] : 0);
            _load[s][move.A] -= delta;
            _load[s][move.B] += delta;
        }

        if (expertB >= 0)
        {
            _items[move.A][move.SlotA] = expertB;
            _items[move.B][move.SlotB] = expertA;
        }
        else
        {
            _items[move.A].RemoveAt(move.SlotA);
            _items[move.B].Add(expertA);
        }

        return true;
    }
}

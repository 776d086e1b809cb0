using System.Collections.Immutable;

namespace MoePlan.Core.Placement;

/// <summary>
/// Tokens routed to each logical expert of each MoE layer over some recording window (or a synthetic stand-in):
/// an immutable layers x experts table of finite, non-negative numbers with the model's layer ids.
/// </summary>
public sealed class ExpertLoads
{
    private readonly double[][] _loads;

    private ExpertLoads(ImmutableArray<int> layerIds, int expertCount, double[][] loads)
    {
        LayerIds = layerIds;
        ExpertCount = expertCount;
        _loads = loads;
    }

    /// <summary>The model's layer id of each row (for SGLang files, row i is model layer i, dense layers included).</summary>
    public ImmutableArray<int> LayerIds { get; }

    public int LayerCount => LayerIds.Length;

    public int ExpertCount { get; }

    public double this[int layerIndex, int expert] => _loads[layerIndex][expert];

    /// <summary>The loads of row <paramref name="layerIndex"/> (an index into <see cref="LayerIds"/>, not a layer id).</summary>
    public ReadOnlySpan<double> Layer(int layerIndex) => _loads[layerIndex];

    public double LayerTotal(int layerIndex) => _loads[layerIndex].Sum();

    /// <summary>Whether both tables hold the same layer ids and the same numbers (bit for bit).</summary>
    public bool SameAs(ExpertLoads other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (ReferenceEquals(this, other))
        {
            return true;
        }

        if (ExpertCount != other.ExpertCount || !LayerIds.SequenceEqual(other.LayerIds))
        {
            return false;
        }

        for (var i = 0; i < _loads.Length; i++)
        {
            if (!_loads[i].AsSpan().SequenceEqual(other._loads[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Builds a table from rows (copied). Throws on programming errors (ragged rows, negative or non-finite values,
    /// duplicate ids); user input goes through <see cref="ExpertLoadReader"/>, which reports these as diagnostics.
    /// </summary>
    public static ExpertLoads Create(IReadOnlyList<int> layerIds, IReadOnlyList<IReadOnlyList<double>> loads)
    {
        ArgumentNullException.ThrowIfNull(layerIds);
        ArgumentNullException.ThrowIfNull(loads);
        if (layerIds.Count != loads.Count)
        {
            throw new ArgumentException($"{layerIds.Count} layer ids for {loads.Count} rows", nameof(layerIds));
        }

        if (loads.Count == 0 || loads[0].Count == 0)
        {
            throw new ArgumentException("expert loads need at least one layer and one expert", nameof(loads));
        }

        if (layerIds.Distinct().Count() != layerIds.Count)
        {
            throw new ArgumentException("layer ids must be distinct", nameof(layerIds));
        }

        var experts = loads[0].Count;
        var rows = new double[loads.Count][];
        for (var i = 0; i < loads.Count; i++)
        {
            if (loads[i].Count != experts)
            {
                throw new ArgumentException($"row {i} has {loads[i].Count} experts, row 0 has {experts}", nameof(loads));
            }

            rows[i] = loads[i].ToArray();
            foreach (var value in rows[i])
            {
                if (!double.IsFinite(value) || value < 0)
                {
                    throw new ArgumentException($"row {i} has the load {value}; loads must be finite and non-negative", nameof(loads));
                }
            }
        }

        return new ExpertLoads(layerIds.ToImmutableArray(), experts, rows);
    }

    /// <summary>Rows 0..n-1 get layer ids 0..n-1.</summary>
    public static ExpertLoads Create(IReadOnlyList<IReadOnlyList<double>> loads) =>
        Create(Enumerable.Range(0, loads.Count).ToArray(), loads);

    /// <summary>Drops layers whose loads are all zero (SGLang files record dense layers as zero rows). Returns null if nothing is left.</summary>
    public ExpertLoads? WithoutEmptyLayers()
    {
        var keep = Enumerable.Range(0, LayerCount).Where(i => LayerTotal(i) > 0).ToArray();
        if (keep.Length == LayerCount)
        {
            return this;
        }

        return keep.Length == 0
            ? null
            : new ExpertLoads(keep.Select(i => LayerIds[i]).ToImmutableArray(), ExpertCount, keep.Select(i => _loads[i]).ToArray());
    }

    /// <summary>The busiest expert's load divided by the layer's mean expert load (1 for an all-zero layer).</summary>
    public double PeakToMean(int layerIndex)
    {
        var row = _loads[layerIndex];
        var mean = row.Sum() / row.Length;
        return mean > 0 ? row.Max() / mean : 1.0;
    }

    /// <summary>Each layer scaled to total 1 (all-zero layers stay zero): every token count weighs the same.</summary>
    public ExpertLoads Normalized()
    {
        var rows = new double[LayerCount][];
        for (var i = 0; i < LayerCount; i++)
        {
            var total = LayerTotal(i);
            rows[i] = _loads[i].Select(v => total > 0 ? v / total : 0).ToArray();
        }

        return new ExpertLoads(LayerIds, ExpertCount, rows);
    }

    /// <summary>
    /// The mean of several load sets of the same layers and experts, each normalised first (<see cref="Normalized"/>) so
    /// every set counts once whatever its token count.
    /// </summary>
    public static ExpertLoads MeanOfNormalized(IReadOnlyList<ExpertLoads> sets)
    {
        ArgumentNullException.ThrowIfNull(sets);
        if (sets.Count == 0 || sets.Any(s => s.ExpertCount != sets[0].ExpertCount || !s.LayerIds.SequenceEqual(sets[0].LayerIds)))
        {
            throw new ArgumentException("the sets must be one or more, with the same layer ids and expert count", nameof(sets));
        }

        var normalized = sets.Select(s => s.Normalized()).ToList();
        var first = sets[0];
        var rows = new double[first.LayerCount][];
        for (var i = 0; i < first.LayerCount; i++)
        {
            rows[i] = new double[first.ExpertCount];
            foreach (var set in normalized)
            {
                for (var e = 0; e < first.ExpertCount; e++)
                {
                    rows[i][e] += set._loads[i][e] / normalized.Count;
                }
            }
        }

        return new ExpertLoads(first.LayerIds, first.ExpertCount, rows);
    }
}

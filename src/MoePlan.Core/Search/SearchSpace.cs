using System.Collections;
using System.Globalization;
using MoePlan.Core.Binding;
using MoePlan.Core.Plan;

namespace MoePlan.Core.Search;

/// <summary>The values of every dimension of one candidate. Booleans are 0/1; an EP of <see cref="SweepDimensions.SameAsDataParallel"/> means "= dp".</summary>
/// <param name="ProxyParallel">Proxy mode: parallel (true) or sequential.</param>
/// <param name="ProxyPolicy">Index into <see cref="RoutingPolicyCatalog.BuiltNames"/>; -1 for the base plan's script policy.</param>
/// <param name="Aggregated">One serve pool of the decode settings' shape, whose chunked-prefill budget is the prefill
/// max_batch_tokens (docs/search.md); else prefill and decode pools.</param>
public readonly record struct CandidateSettings(
    int PrefillInstances,
    int PrefillDataParallel,
    int PrefillTensorParallel,
    int PrefillExpertParallel,
    int PrefillMaxBatchTokens,
    int DecodeInstances,
    int DecodeDataParallel,
    int DecodeTensorParallel,
    int DecodeExpertParallel,
    int DecodeMaxBatch,
    int RedundantExperts,
    bool DecodeMtp,
    bool PrefillOverlap,
    bool DecodeOverlap,
    bool ProxyParallel,
    int ProxyPolicy,
    bool Aggregated = false)
{
    public int Get(SearchDimension d) => d switch
    {
        SearchDimension.PrefillInstances => PrefillInstances,
        SearchDimension.PrefillDataParallel => PrefillDataParallel,
        SearchDimension.PrefillTensorParallel => PrefillTensorParallel,
        SearchDimension.PrefillExpertParallel => PrefillExpertParallel,
        SearchDimension.PrefillMaxBatchTokens => PrefillMaxBatchTokens,
        SearchDimension.DecodeInstances => DecodeInstances,
        SearchDimension.DecodeDataParallel => DecodeDataParallel,
        SearchDimension.DecodeTensorParallel => DecodeTensorParallel,
        SearchDimension.DecodeExpertParallel => DecodeExpertParallel,
        SearchDimension.DecodeMaxBatch => DecodeMaxBatch,
        SearchDimension.RedundantExperts => RedundantExperts,
        SearchDimension.DecodeMtp => DecodeMtp ? 1 : 0,
        SearchDimension.PrefillOverlap => PrefillOverlap ? 1 : 0,
        SearchDimension.DecodeOverlap => DecodeOverlap ? 1 : 0,
        SearchDimension.ProxyMode => ProxyParallel ? 1 : 0,
        SearchDimension.ProxyPolicy => ProxyPolicy,
        SearchDimension.ServingMode => Aggregated ? 1 : 0,
        _ => throw new ArgumentOutOfRangeException(nameof(d)),
    };

    /// <summary>The settings of a plan as written.</summary>
    public static CandidateSettings Of(DeploymentPlan plan) => new(
        plan.Prefill.Instances.Value,
        plan.Prefill.Parallel.DataParallel.Value,
        plan.Prefill.Parallel.TensorParallel.Value,
        plan.Prefill.Parallel.ExpertParallel.Value,
        plan.Prefill.MaxBatchTokensPerDevice?.Value ?? 0,
        plan.Decode.Instances.Value,
        plan.Decode.Parallel.DataParallel.Value,
        plan.Decode.Parallel.TensorParallel.Value,
        plan.Decode.Parallel.ExpertParallel.Value,
        plan.Decode.MaxBatchPerDevice?.Value ?? 0,
        plan.Placement.RedundantExperts.Value,
        plan.Decode.Mtp is not null,
        plan.Prefill.MicrobatchOverlap.Value,
        plan.Decode.MicrobatchOverlap.Value,
        plan.Proxy.Mode.Value == ProxyMode.Parallel,
        RoutingPolicyCatalog.BuiltNames.IndexOf(plan.Proxy.Policy.Value),
        plan.IsAggregated);

    /// <summary>The proxy policy's name ("script" for the base plan's script).</summary>
    public string ProxyPolicyName => ProxyPolicy >= 0 ? RoutingPolicyCatalog.BuiltNames[ProxyPolicy] : RoutingPolicyCatalog.ScriptName;
}

/// <summary>
/// The candidates around a base plan: the cartesian product of the varied dimensions (the others keep the base
/// plan's value), enumerated lazily in a fixed order (the last dimension varies fastest). Fixed: the cluster
/// (optionally capped to fewer devices), SLOs, workload, model, hardware, precision, proxy.
/// </summary>
public sealed class SearchSpace : IEnumerable<CandidateSettings>
{


    private const int DimensionCount = 17;
    private readonly int[][] _values;

    private SearchSpace(DeploymentPlan basePlan, ClusterPlan cluster, int[][] values, IReadOnlyList<DimensionValues> varied)
    {
        BasePlan = basePlan;
        Cluster = cluster;
        this._values = values;
        Varied = varied;
        long count = 1;
        foreach (var v in values)
        {
            count = checked(count * v.Length);
        }

        Count = count;
    }

    public DeploymentPlan BasePlan { get; }

    /// <summary>The cluster every candidate must fit (the base plan's, or capped by <c>--devices</c>).</summary>
    public ClusterPlan Cluster { get; }

    public IReadOnlyList<DimensionValues> Varied { get; }

    /// <summary>Number of candidates (the product of the dimension sizes).</summary>
    public long Count { get; }

    /// <summary>
    /// The dimensions to vary: the plan's <c>sweep</c> block, with each <c>--vary</c> replacing the sweep's values of
    /// its dimension or adding a dimension (docs/search.md).
    /// </summary>
    public static List<DimensionValues> WithOverrides(SweepPlan? sweep, IReadOnlyList<DimensionValues> vary)
    {
        var merged = new List<DimensionValues>();
        foreach (var d in sweep?.Dimensions ?? [])
        {
            if (!vary.Any(v => v.Dimension == d.Dimension))
            {
                merged.Add(d);
            }
        }

        merged.AddRange(vary);
        return merged;
    }

    /// <summary>Builds the space; returns null with a message when a choice cannot be applied to this plan.</summary>
    /// <param name="maxDevices">Cap the cluster to this many devices (whole nodes); null keeps the plan's cluster.</param>
    public static SearchSpace? Create(DeploymentPlan basePlan, IReadOnlyList<DimensionValues> varied, int? maxDevices, out string error)
    {
        error = "";
        var baseSettings = CandidateSettings.Of(basePlan);
        var values = new int[DimensionCount][];
        for (var d = 0; d < DimensionCount; d++)
        {
            values[d] = [baseSettings.Get((SearchDimension)d)];
        }

        foreach (var v in varied)
        {
            if (values[(int)v.Dimension].Length != 1 || varied.Count(o => o.Dimension == v.Dimension) > 1)
            {
                error = $"'{v.Name}' is given more than once";
                return null;
            }

            if (v.Dimension == SearchDimension.DecodeMtp && v.Values.Contains(1) && basePlan.Decode.Mtp is null)
            {
                error = "'decode.mtp' cannot be on: the base plan has no `mtp { draft_tokens N acceptance X }` block to take the draft length and acceptance from";
                return null;
            }

            values[(int)v.Dimension] = [.. v.Values.Distinct()];
        }

        var cluster = basePlan.Cluster;
        if (maxDevices is { } cap)
        {
            var perNode = cluster.DevicesPerNode.Value;
            if (cap <= 0 || cap % perNode != 0)
            {
                error = $"--devices {cap} is not a positive multiple of the plan's {perNode} devices per node";
                return null;
            }

            if (cap > cluster.Devices)
            {
                error = $"--devices {cap} is more than the plan's cluster of {cluster.Devices} devices";
                return null;
            }

            cluster = cluster with { Nodes = new Sourced<int>(cap / perNode, cluster.Nodes.Span) };
        }

        try
        {
            return new SearchSpace(basePlan, cluster, values, varied);
        }
        catch (OverflowException)
        {
            error = "the search space has more than 2^63 candidates";
            return null;
        }
    }

    /// <summary>Parses <c>NAME=VALUES</c>: <c>a,b,c</c>, <c>a..b</c>, <c>a..b*2</c> (doubling), <c>a..b step s</c>, the sweep block's
    /// <c>a to b [step s | doubling]</c>, <c>on,off</c>, for EP <c>dp</c> / <c>=dp</c>, proxy modes and policies (<see cref="SweepValues"/>).</summary>
    public static DimensionValues? ParseVary(string text, out string error)
    {
        error = "";
        var eq = text.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
        {
            error = $"--vary '{text}': expected NAME=VALUES, e.g. decode.dp=8,16,32 or prefill.instances=1..4";
            return null;
        }

        var name = text[..eq].Trim();
        var spec = text[(eq + 1)..].Trim();
        if (!SweepDimensions.Names.TryGetValue(name, out var dimension))
        {
            error = $"--vary: unknown name '{name}'; expected one of {string.Join(", ", SweepDimensions.Names.Keys)}";
            return null;
        }

        var parsed = SweepValues.Parse(dimension, name, SweepValues.SplitWords(spec), out var wrong);
        if (parsed is null)
        {
            error = "--vary " + wrong!.Message;
        }

        return parsed;
    }

    /// <summary>The concrete plan of a candidate (EP "= dp" resolved). Spans stay at the base plan's settings.</summary>
    public DeploymentPlan PlanOf(in CandidateSettings s)
    {
        var b = BasePlan;
        if (s.Aggregated)
        {
            // One serve pool: the decode settings' shape, the prefill tokens per step as its chunked-prefill budget.
            var serve = Pool(b.Decode, s.DecodeInstances, s.DecodeDataParallel, s.DecodeTensorParallel, s.DecodeExpertParallel, s.DecodeOverlap) with
            {
                Role = PoolRole.Serve,
                MaxBatchTokensPerDevice = Set(b.Prefill.MaxBatchTokensPerDevice, s.PrefillMaxBatchTokens, b.Prefill.Span),
                MaxBatchPerDevice = Set(b.Decode.MaxBatchPerDevice, s.DecodeMaxBatch, b.Decode.Span),
                Mtp = s.DecodeMtp ? b.Decode.Mtp : null,
            };
            return b.WithServing(serve) with
            {
                Cluster = Cluster,
                Placement = b.Placement with { RedundantExperts = Set(b.Placement.RedundantExperts, s.RedundantExperts) },
                Proxy = Proxy(b.Proxy, s),
                Sweep = null,
            };
        }

        var prefill = Pool(b.Prefill, s.PrefillInstances, s.PrefillDataParallel, s.PrefillTensorParallel, s.PrefillExpertParallel, s.PrefillOverlap)
            with
        {
            // From an aggregated base, the serve pool's settings split into the two pools.
            Role = PoolRole.Prefill,
            MaxBatchTokensPerDevice = Set(b.Prefill.MaxBatchTokensPerDevice, s.PrefillMaxBatchTokens, b.Prefill.Span),
            MaxBatchPerDevice = null,
            ContextTokens = null,
            Mtp = null,
        };
        var decode = Pool(b.Decode, s.DecodeInstances, s.DecodeDataParallel, s.DecodeTensorParallel, s.DecodeExpertParallel, s.DecodeOverlap)
            with
        {
            Role = PoolRole.Decode,
            MaxBatchTokensPerDevice = null,
            MaxBatchPerDevice = Set(b.Decode.MaxBatchPerDevice, s.DecodeMaxBatch, b.Decode.Span),
            Mtp = s.DecodeMtp ? b.Decode.Mtp : null,
        };
        return b with
        {
            Cluster = Cluster,
            Prefill = prefill,
            Decode = decode,
            Placement = b.Placement with { RedundantExperts = Set(b.Placement.RedundantExperts, s.RedundantExperts) },
            Proxy = Proxy(b.Proxy, s),
            Sweep = null,
        };
    }

    /// <summary>The candidate with EP "= dp" replaced by the dp value.</summary>
    public static CandidateSettings Resolve(in CandidateSettings s) => s with
    {
        PrefillExpertParallel = s.PrefillExpertParallel == SweepDimensions.SameAsDataParallel ? s.PrefillDataParallel : s.PrefillExpertParallel,
        DecodeExpertParallel = s.DecodeExpertParallel == SweepDimensions.SameAsDataParallel ? s.DecodeDataParallel : s.DecodeExpertParallel,
    };

    private static PoolPlan Pool(PoolPlan pool, int instances, int dp, int tp, int ep, bool overlap)
    {
        var p = pool.Parallel;
        return pool with
        {
            Instances = Set(pool.Instances, instances),
            Parallel = p with
            {
                DataParallel = Set(p.DataParallel, dp),
                TensorParallel = Set(p.TensorParallel, tp),
                ExpertParallel = Set(p.ExpertParallel, ep == SweepDimensions.SameAsDataParallel ? dp : ep),
            },
            MicrobatchOverlap = pool.MicrobatchOverlap.Value == overlap ? pool.MicrobatchOverlap : new Sourced<bool>(overlap, pool.MicrobatchOverlap.Span),
        };
    }

    private static ProxyPlan Proxy(ProxyPlan proxy, in CandidateSettings s)
    {
        var mode = s.ProxyParallel ? ProxyMode.Parallel : ProxyMode.Sequential;
        var result = proxy.Mode.Value == mode ? proxy : proxy with { Mode = new Sourced<ProxyMode>(mode, proxy.Mode.Span) };
        if (s.ProxyPolicy >= 0 && !string.Equals(RoutingPolicyCatalog.BuiltNames[s.ProxyPolicy], proxy.Policy.Value, StringComparison.Ordinal))
        {
            result = result with { Policy = new Sourced<string>(RoutingPolicyCatalog.BuiltNames[s.ProxyPolicy], proxy.Policy.Span), ScriptPath = null };
        }

        return result;
    }

    private static Sourced<int> Set(Sourced<int> old, int value) => old.Value == value ? old : new Sourced<int>(value, old.Span);

    private static Sourced<int>? Set(Sourced<int>? old, int value, Text.SourceSpan fallback) =>
        old is { } o ? Set(o, value) : value == 0 ? null : new Sourced<int>(value, fallback);

    public Enumerator GetEnumerator() => new(_values);

    IEnumerator<CandidateSettings> IEnumerable<CandidateSettings>.GetEnumerator() => GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>An odometer over the dimension values; nothing is materialised.</summary>
    public struct Enumerator : IEnumerator<CandidateSettings>
    {
        private readonly int[][] _values;
        private readonly int[] _index;
        private bool _started;

        internal Enumerator(int[][] values)
        {
            this._values = values;
            _index = new int[values.Length];
            _started = false;
            Current = default;
        }

        public CandidateSettings Current { get; private set; }

        readonly object IEnumerator.Current => Current;

        public bool MoveNext()
        {
            if (!_started)
            {
                _started = true;
            }
            else
            {
                var d = _values.Length - 1;
                while (d >= 0)
                {
                    if (++_index[d] < _values[d].Length)
                    {
                        break;
                    }

                    _index[d] = 0;
                    d--;
                }

                if (d < 0)
                {
                    return false;
                }
            }

            var (vs, ix) = (_values, _index);
            int V(int d) => vs[d][ix[d]];
            Current = new CandidateSettings(V(0), V(1), V(2), V(3), V(4), V(5), V(6), V(7), V(8), V(9), V(10), V(11) != 0, V(12) != 0, V(13) != 0,
                V(14) != 0, V(15), V(16) != 0);
            return true;
        }

        public void Reset()
        {
            Array.Clear(_index);
            _started = false;
        }

        public readonly void Dispose()
        {
        }
    }
}

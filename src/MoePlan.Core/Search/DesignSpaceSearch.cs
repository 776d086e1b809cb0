using MoePlan.Core.Cost;
using MoePlan.Core.Plan;
using MoePlan.Core.Verification;

namespace MoePlan.Core.Search;

/// <summary>Deployment-level figures of one evaluated candidate (docs/search.md).</summary>
/// <param name="Index">Position in the enumeration order (0-based); ties rank by it.</param>
/// <param name="Ranks">Ranks the candidate uses (prefill + decode instances x dp x tp); a rank is a device or a die.</param>
/// <param name="OutputTokensPerSecondPerRank">Output tokens per second the deployment sustains at the capacity of its
/// slower pool (prefill or decode), divided by all its ranks.</param>
/// <param name="UsdPerMillionOutputTokens">All ranks' price over that output; null when the plan has no price.</param>
public sealed record SearchCandidate(
    long Index,
    CandidateSettings Settings,
    DeploymentPlan Plan,
    CostFigures Report,
    int Ranks,
    double OutputTokensPerSecondPerRank,
    double? UsdPerMillionOutputTokens,
    double GoodputRequestsPerSecondPerRank)
{
    public double TtftMilliseconds => Report.Prefill.TtftMilliseconds;

    public double TpotMilliseconds => Report.Decode.TpotMilliseconds;

    public bool MeetsSlos => Report.TtftMeetsSlo && Report.TpotMeetsSlo;

    /// <summary>Physical devices (packages): ranks over dies per package.</summary>
    public int Devices => Ranks / Report.DiesPerPackage;
}

/// <summary>What a search found. Only the frontiers and the top K are kept, whatever the size of the space.</summary>
public sealed record SearchResult(
    long Enumerated,
    long Valid,
    long Evaluated,
    double PrefillImbalance,
    double DecodeImbalance,
    IReadOnlyList<SearchCandidate> Top,
    IReadOnlyList<SearchCandidate> ThroughputTpotFrontier,
    IReadOnlyList<SearchCandidate> CostTtftFrontier,
    IReadOnlyList<SearchRejection> Rejections);

/// <summary>Why the verifier rejected candidates: a diagnostic code, how many candidates had it as their first error, and one message.</summary>
public sealed record SearchRejection(string Code, long Candidates, string Example)
{
    /// <summary>The <c>rejections</c> array of search's and init's JSON: code, candidates, example.</summary>
    public static void WriteJsonArray(System.Text.Json.Utf8JsonWriter w, IEnumerable<SearchRejection> rejections)
    {
        w.WriteStartArray("rejections");
        foreach (var rejection in rejections)
        {
            w.WriteStartObject();
            w.WriteString("code", rejection.Code);
            w.WriteNumber("candidates", rejection.Candidates);
            w.WriteString("example", rejection.Example);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }
}

/// <summary>
/// Enumerates a <see cref="SearchSpace"/>, drops candidates the verifier rejects, costs the others with
/// <see cref="PlanCostModel"/> at fixed placement imbalances, and keeps two Pareto frontiers
/// (output tokens/s per rank up, TPOT down; USD per million output tokens down, TTFT down) and the top K
/// candidates meeting the SLOs by output tokens/s per rank.
/// </summary>
public static class DesignSpaceSearch
{
    /// <param name="imbalances">Placement imbalances for every candidate (the base plan's placement result).</param>
    /// <param name="progress">Called every <paramref name="progressEvery"/> candidates with the number enumerated so far.</param>
    public static SearchResult Run(SearchSpace space, CostOptions imbalances, int topK, Action<long>? progress = null, long progressEvery = 65536)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(topK, 1);
        var throughputFrontier = new ParetoFrontier(c => c.OutputTokensPerSecondPerRank, c => -c.TpotMilliseconds);
        var costFrontier = new ParetoFrontier(c => -(c.UsdPerMillionOutputTokens ?? 0), c => -c.TtftMilliseconds);
        var top = new PriorityQueue<SearchCandidate, SearchCandidate>(topK + 1, TopOrder.Instance);
        long enumerated = 0, valid = 0, evaluated = 0;
        var rejections = new Dictionary<string, (long Count, string Example)>(StringComparer.Ordinal);
        void Reject(Diagnostics.Diagnostic d) =>
            rejections[d.Code] = rejections.TryGetValue(d.Code, out var r) ? (r.Count + 1, r.Example) : (1, d.Message);
        foreach (var settings in space)
        {
            enumerated++;
            if (progress is not null && enumerated % progressEvery == 0)
            {
                progress(enumerated);
            }

            var candidate = Evaluate(space, settings, enumerated - 1, imbalances, Reject);
            if (candidate is null)
            {
                continue;
            }

            valid++;
            if (!double.IsFinite(candidate.OutputTokensPerSecondPerRank) || !double.IsFinite(candidate.TpotMilliseconds) || !double.IsFinite(candidate.TtftMilliseconds))
            {
                continue;
            }

            evaluated++;
            throughputFrontier.Add(candidate);
            if (candidate.UsdPerMillionOutputTokens is { } usd && double.IsFinite(usd))
            {
                costFrontier.Add(candidate);
            }

            if (candidate.MeetsSlos)
            {
                top.Enqueue(candidate, candidate);
                if (top.Count > topK)
                {
                    top.Dequeue();
                }
            }
        }

        progress?.Invoke(enumerated);
        var ranked = new List<SearchCandidate>(top.Count);
        while (top.Count > 0)
        {
            ranked.Add(top.Dequeue());
        }

        ranked.Reverse();
        return new SearchResult(enumerated, valid, evaluated, imbalances.PrefillImbalance ?? PlanCostModel.DefaultStaticImbalance,
            imbalances.DecodeImbalance ?? PlanCostModel.DefaultStaticImbalance, ranked,
            [.. throughputFrontier.Points.OrderByDescending(c => c.OutputTokensPerSecondPerRank).ThenBy(c => c.Index)],
            [.. costFrontier.Points.OrderBy(c => c.UsdPerMillionOutputTokens).ThenBy(c => c.Index)],
            [.. rejections.Select(r => new SearchRejection(r.Key, r.Value.Count, r.Value.Example)).OrderByDescending(r => r.Candidates).ThenBy(r => r.Code, StringComparer.Ordinal)]);
    }

    /// <summary>Verifies and costs one candidate; null when the verifier reports an error.</summary>
    /// <param name="rejected">Called with the first error when the verifier rejects the candidate.</param>
    public static SearchCandidate? Evaluate(SearchSpace space, in CandidateSettings settings, long index, CostOptions imbalances,
        Action<Diagnostics.Diagnostic>? rejected = null)
    {
        var plan = space.PlanOf(settings);
        foreach (var d in PlanVerifier.Verify(plan))
        {
            if (d.IsError)
            {
                rejected?.Invoke(d);
                return null;
            }
        }

        return Figures(index, SearchSpace.Resolve(settings), plan, (_evaluator ??= new CostEvaluator()).Evaluate(plan, imbalances));
    }

    // The inner loop's cost evaluations reuse one evaluator per thread: they allocate nothing.
    [ThreadStatic]
    private static CostEvaluator? _evaluator;

    /// <summary>The deployment-level figures of a costed candidate plan.</summary>
    public static SearchCandidate Figures(long index, in CandidateSettings settings, DeploymentPlan plan, in CostFigures report)
    {
        // Aggregated: the serve pool is both, counted once.
        var decodeRanks = plan.Decode.Instances.Value * plan.Decode.Parallel.Ranks;
        var ranks = plan.Pools.Sum(p => p.Instances.Value * p.Parallel.Ranks);

        // The deployment serves at the capacity of its slower pool: decode's output rate, scaled down when prefill limits.
        var decodeOutput = decodeRanks * report.Decode.OutputTokensPerSecondPerRank;
        var limit = Math.Min(1, report.PrefillCapacityRequestsPerSecond / report.DecodeCapacityRequestsPerSecond);
        var outputPerSecond = decodeOutput * limit;
        double? usd = plan.PriceUsdPerDeviceHour is { } price
            ? price.Value / report.DiesPerPackage / 3600 * ranks / outputPerSecond * 1e6
            : null;
        return new SearchCandidate(index, settings, plan, report, ranks, outputPerSecond / ranks, usd,
            report.GoodputRequestsPerSecond / ranks);
    }

    /// <summary>Smallest first: the queue's head is the weakest of the kept top K.</summary>
    private sealed class TopOrder : IComparer<SearchCandidate>
    {
        public static readonly TopOrder Instance = new();

        public int Compare(SearchCandidate? x, SearchCandidate? y)
        {
            var c = x!.OutputTokensPerSecondPerRank.CompareTo(y!.OutputTokensPerSecondPerRank);
            if (c != 0)
            {
                return c;
            }

            // Cheaper is better; then the earlier candidate.
            c = (y.UsdPerMillionOutputTokens ?? 0).CompareTo(x.UsdPerMillionOutputTokens ?? 0);
            return c != 0 ? c : y.Index.CompareTo(x.Index);
        }
    }
}

/// <summary>
/// Points no other point dominates on two objectives, both maximised. A point equal on both objectives to a kept
/// one is dropped (the first found stays), so the frontier holds one candidate per distinct objective pair.
/// </summary>
public sealed class ParetoFrontier(Func<SearchCandidate, double> first, Func<SearchCandidate, double> second)
{
    private readonly List<SearchCandidate> _points = [];

    public IReadOnlyList<SearchCandidate> Points => _points;

    /// <summary>True when <paramref name="a"/> is at least as good as <paramref name="b"/> on both objectives.</summary>
    public bool WeaklyDominates(SearchCandidate a, SearchCandidate b) => first(a) >= first(b) && second(a) >= second(b);

    public bool Add(SearchCandidate candidate)
    {
        foreach (var p in _points)
        {
            if (WeaklyDominates(p, candidate))
            {
                return false;
            }
        }

        _points.RemoveAll(p => WeaklyDominates(candidate, p));
        _points.Add(candidate);
        return true;
    }
}

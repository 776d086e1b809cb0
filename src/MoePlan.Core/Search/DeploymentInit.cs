using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using MoePlan.Core.Catalog;
using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Formatting;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;

namespace MoePlan.Core.Search;

/// <summary>How a candidate serves: prefill and decode in their own pools, or one pool doing both.</summary>
public enum CandidateKind
{
    /// <summary>Prefill and decode pools, the KV handed from one to the other.</summary>
    Disaggregated,

    /// <summary>One <c>serve</c> pool whose steps mix decode tokens and chunks of prompts.</summary>
    Aggregated,
}

/// <summary>What <c>moeplan init</c> is asked (docs/init.md).</summary>
/// <param name="Model">A catalog model name, or the full path of a HuggingFace config.json when <paramref name="ModelIsConfig"/>.</param>
/// <param name="DevicesPerNode">Overrides the catalog's node size; required when the catalog has none.</param>
/// <param name="PlanPath">Where the plan is (to be) written, full path: the config path in the plan is relative to its folder.</param>
/// <param name="Top">Shapes meeting the SLOs to list.</param>
/// <param name="Command">The command line, quoted in the written plan's header.</param>
public sealed record InitRequest(
    string Model,
    bool ModelIsConfig,
    string Hardware,
    int Devices,
    int? DevicesPerNode,
    string Engine,
    int InputTokens,
    int OutputTokens,
    double? TtftMilliseconds,
    double? TpotMilliseconds,
    double? RatePerSecond,
    double? PriceUsdPerDeviceHour,
    int Top,
    string PlanPath,
    string Command)
{
    /// <summary>The kinds of candidate to search (<c>--kind</c>); both by default.</summary>
    public IReadOnlyList<CandidateKind> Kinds { get; init; } = [CandidateKind.Disaggregated, CandidateKind.Aggregated];
}

/// <summary>One ranked deployment shape: its best batch sizes, placed for its own EP and costed.</summary>
/// <param name="Misses">Why it misses the targets (empty when it meets them): TTFT, TPOT, capacity below the rate.</param>
public sealed record InitCandidate(CandidateKind Kind, ReplacedCandidate Figures, int Devices, IReadOnlyList<string> Misses)
{
    public SearchCandidate Costed => Figures.Replaced;

    public bool MeetsTargets => Misses.Count == 0;

    /// <summary>The candidate's pools: prefill and decode, or the one serve pool (its settings are both prefill's and decode's).</summary>
    public IReadOnlyList<InitPool> Pools
    {
        get
        {
            var s = Costed.Settings;
            return Kind == CandidateKind.Disaggregated
                ? [new("prefill", s.PrefillInstances, s.PrefillDataParallel, s.PrefillTensorParallel, s.PrefillExpertParallel, s.PrefillMaxBatchTokens, null),
                    new("decode", s.DecodeInstances, s.DecodeDataParallel, s.DecodeTensorParallel, s.DecodeExpertParallel, null, s.DecodeMaxBatch)]
                : [new("serve", s.PrefillInstances, s.PrefillDataParallel, s.PrefillTensorParallel, s.PrefillExpertParallel, s.PrefillMaxBatchTokens, s.DecodeMaxBatch)];
        }
    }

    /// <summary>Output tokens per second per device (package) at the capacity of the slower pool.</summary>
    public double OutputTokensPerSecondPerDevice => Costed.OutputTokensPerSecondPerRank * Costed.Ranks / Devices;

    /// <summary>Requests per second the deployment sustains: its slower pool's capacity.</summary>
    public double CapacityRequestsPerSecond => Math.Min(Costed.Report.PrefillCapacityRequestsPerSecond, Costed.Report.DecodeCapacityRequestsPerSecond);
}

/// <summary>One pool of a candidate: instances and per-instance parallelism; tokens per step per device (prefill, serve) and
/// sequences per device (decode, serve).</summary>
public sealed record InitPool(string Name, int Instances, int DataParallel, int TensorParallel, int ExpertParallel, int? MaxBatchTokensPerDevice, int? MaxBatchPerDevice);

/// <summary>What <c>moeplan init</c> found and wrote.</summary>
/// <param name="Enumerated">Candidates (shape x batch sizes) costed or rejected.</param>
/// <param name="Valid">Candidates the verifier accepted.</param>
/// <param name="Shapes">Distinct shapes among the valid candidates.</param>
/// <param name="AggregatedShapes">Of those, the aggregated ones.</param>
/// <param name="ShapesMeetingTargets">Of those, shapes whose best batch sizes meet the SLOs and the rate (at the base imbalance).</param>
/// <param name="Ranked">Shown shapes, best first: those meeting the targets, then the fastest that miss them.</param>
/// <param name="PlanText">The chosen (first) shape as a canonical, commented plan.</param>
/// <param name="PlanDiagnostics">What compiling <paramref name="PlanText"/> reported (warnings at most).</param>
public sealed record InitResult(
    InitRequest Request,
    ModelEntry Model,
    HardwareEntry Hardware,
    int DevicesPerNode,
    long Enumerated,
    long Valid,
    int Shapes,
    int AggregatedShapes,
    int ShapesMeetingTargets,
    IReadOnlyList<InitCandidate> Ranked,
    IReadOnlyList<SearchRejection> Rejections,
    string PlanText,
    ImmutableArray<Diagnostic> PlanDiagnostics)
{
    public InitCandidate Chosen => Ranked[0];
}

/// <summary>
/// <c>moeplan init</c>: from a model, a device count and targets to a ranked list of deployment shapes and the best as a
/// plan. Enumerates disaggregated shapes (prefill and decode instance counts and sizes) and aggregated ones (serve instances)
/// that use every device, attention TP 1 to 8 with experts over every rank of an instance, each with a few batch sizes;
/// costs them as <c>moeplan search</c> does (<see cref="DesignSpaceSearch.Evaluate"/>; a serve pool's ranks counted once),
/// keeps the best batch sizes per shape, re-places the shown shapes (as <see cref="WinnerReplacement"/> does) and writes
/// the first as a plan that is then compiled to show it checks.
/// </summary>
public static class DeploymentInit
{
    /// <summary>Decode batch sizes tried per shape (sequences per device).</summary>
    public static readonly ImmutableArray<int> DecodeBatches = [8, 16, 32, 64, 128, 256];

    /// <summary>Prefill step sizes tried per shape (tokens per device): smaller steps cut TTFT, larger ones raise throughput.</summary>
    public static readonly ImmutableArray<int> PrefillBatchTokens = [2048, 4096, 8192, 16384];

    /// <summary>Attention tensor-parallel sizes tried (within a node).</summary>
    public static readonly ImmutableArray<int> TensorParallelSizes = [1, 2, 4, 8];

    /// <summary>Shapes missing the targets shown after those meeting them (the fastest), so the output says why they lose.</summary>
    public const int ShownMisses = 3;

    /// <summary>Synthetic requests the written plan's workload has (for <c>moeplan run</c>).</summary>
    public const int WorkloadRequests = 2000;

    /// <summary>Runs init. Returns null with the diagnostics when the arguments are bad or no shape passes the verifier.</summary>
    /// <param name="resolver">Reads the model's config.json (when given one) and resolves the plan's paths.</param>
    public static InitResult? Run(InitRequest request, ISourceResolver resolver, out ImmutableArray<Diagnostic> diagnostics)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(resolver);
        diagnostics = [];
        if (Arguments(request) is { Length: > 0 } bad)
        {
            diagnostics = bad;
            return null;
        }

        var model = Model(request, resolver, out var modelDiagnostics);
        var hardware = EmbeddedCatalog.Instance.FindHardware(request.Hardware);
        var problems = ImmutableArray.CreateBuilder<Diagnostic>();
        problems.AddRange(modelDiagnostics.Where(d => d.IsError));
        if (hardware is null)
        {
            var names = EmbeddedCatalog.Instance.Hardware.Select(h => h.Name).ToList();
            problems.Add(DiagnosticCodes.InitUnknownHardware.Create(null, request.Hardware, Suggestions.DidYouMean(request.Hardware, names)));
        }

        var perNode = request.DevicesPerNode ?? hardware?.DevicesPerNode;
        if (hardware is not null && perNode is null)
        {
            problems.Add(DiagnosticCodes.InitDevicesPerNodeMissing.Create(null, hardware.Name));
        }
        else if (perNode is { } n && request.Devices % n != 0)
        {
            problems.Add(DiagnosticCodes.InitDevicesNotWholeNodes.Create(null, I(request.Devices), I(n)));
        }

        var total = (long)request.InputTokens + request.OutputTokens;
        if (total > int.MaxValue)
        {
            problems.Add(DiagnosticCodes.InitInvalidArgument.Create(null, "--input + --output", total.ToString(CultureInfo.InvariantCulture), "must fit a decode context (at most 2147483647 tokens)"));
        }
        else if (model?.Architecture.MaxPositionEmbeddings is { } context && total > context)
        {
            problems.Add(DiagnosticCodes.InitContextExceeded.Create(null, I(request.InputTokens), I(request.OutputTokens), total.ToString(CultureInfo.InvariantCulture), model.Name, I(context)));
        }

        if (problems.Count > 0 || model is null || hardware is null || perNode is null)
        {
            diagnostics = problems.ToImmutable();
            return null;
        }

        return Search(request, model, hardware, perNode.Value, resolver, out diagnostics);
    }

    private static InitResult? Search(InitRequest request, ModelEntry model, HardwareEntry hardware, int perNode, ISourceResolver resolver, out ImmutableArray<Diagnostic> diagnostics)
    {
        var dies = hardware.DiesPerPackage;
        var ranks = request.Devices * dies;
        var routed = model.Architecture.RoutedExperts;
        var kinds = request.Kinds;
        var disaggregated = kinds.Contains(CandidateKind.Disaggregated) ? Shapes(ranks, perNode * dies, routed).ToList() : [];
        var aggregated = kinds.Contains(CandidateKind.Aggregated) ? AggregatedShapes(ranks, perNode * dies, routed).ToList() : [];
        var name = NameOf(request, model, hardware);
        if (disaggregated.Count == 0 && aggregated.Count == 0)
        {
            var noShape = $"a disaggregated deployment needs at least 2 ranks, {I(request.Devices)} {hardware.Name} have {I(ranks)}";
            diagnostics = [DiagnosticCodes.InitNoFeasibleShape.Create(null, model.Name, I(request.Devices), hardware.Name, noShape)];
            return null;
        }

        var scoped = new InMemoryPlanResolver(resolver, request.PlanPath);
        var options = new CostOptions(PlanCostModel.DefaultStaticImbalance, PlanCostModel.DefaultStaticImbalance);
        var rejections = new Dictionary<string, (long Count, string Example)>(StringComparer.Ordinal);
        void Reject(Diagnostic d) => rejections[d.Code] = rejections.TryGetValue(d.Code, out var r) ? (r.Count + 1, r.Example) : (1, d.Message);
        var best = new Dictionary<(CandidateKind Kind, Shape Shape), SearchCandidate>();
        long index = 0, valid = 0;
        void Keep(CandidateKind kind, Shape shape, SearchCandidate? candidate)
        {
            if (candidate is null || !double.IsFinite(candidate.OutputTokensPerSecondPerRank) || !double.IsFinite(candidate.TtftMilliseconds)
                || !double.IsFinite(candidate.TpotMilliseconds))
            {
                return;
            }

            valid++;
            if (!best.TryGetValue((kind, shape), out var kept) || Better(request, candidate, kept))
            {
                best[(kind, shape)] = candidate;
            }
        }

        // Each kind's base plan binds the request once; every candidate of that kind is a variation of it.
        foreach (var kind in new[] { CandidateKind.Disaggregated, CandidateKind.Aggregated })
        {
            var shapes = kind == CandidateKind.Disaggregated ? disaggregated : aggregated;
            if (shapes.Count == 0)
            {
                continue;
            }

            var baseText = PlanText(request, model, hardware, perNode, name, kind, Settings(kind, shapes[0], DecodeBatches[0], PrefillBatchTokens[0]), [], request.RatePerSecond ?? 1);
            var compiled = PlanCompiler.CompileText(request.PlanPath, scoped.With(baseText), scoped, throughVerification: true);
            if (compiled.Bound is not { } bound || SearchSpace.Create(bound, [], null, out _) is not { } space)
            {
                diagnostics = [.. compiled.Diagnostics.Where(d => d.IsError)];
                return null;
            }

            var baseSettings = CandidateSettings.Of(bound);
            foreach (var shape in shapes)
            {
                foreach (var tokens in PrefillBatchTokens)
                {
                    foreach (var batch in DecodeBatches)
                    {
                        var settings = Settings(kind, shape, batch, tokens) with
                        {
                            DecodeMtp = baseSettings.DecodeMtp,
                            ProxyParallel = baseSettings.ProxyParallel,
                            ProxyPolicy = baseSettings.ProxyPolicy,
                        };
                        Keep(kind, shape, kind == CandidateKind.Disaggregated
                            ? DesignSpaceSearch.Evaluate(space, settings, index++, options, Reject)
                            : EvaluateAggregated(bound, settings, index++, options, Reject));
                    }
                }
            }
        }

        var rejected = rejections.Select(r => new SearchRejection(r.Key, r.Value.Count, r.Value.Example))
            .OrderByDescending(r => r.Candidates).ThenBy(r => r.Code, StringComparer.Ordinal).ToList();
        if (best.Count == 0)
        {
            var why = string.Join("; ", rejected.Take(2).Select(r => $"{r.Code} for {r.Candidates} candidates, e.g. {r.Example}"));
            diagnostics = [DiagnosticCodes.InitNoFeasibleShape.Create(null, model.Name, I(request.Devices), hardware.Name, why)];
            return null;
        }

        // The shown shapes: the best meeting the targets, then the fastest missing them; re-placed and re-ranked.
        var ordered = best.Values.OrderBy(c => c, new CandidateOrder(request)).ToList();
        var meeting = ordered.Where(c => Misses(request, c).Count == 0).ToList();
        var shown = meeting.Take(request.Top).Concat(ordered.Where(c => Misses(request, c).Count > 0).Take(Math.Max(ShownMisses, request.Top - meeting.Count)));
        var ranked = shown
            .Select(c => Replace(c, scoped))
            .Select(r => new InitCandidate(KindOf(r.Replaced.Plan), r, request.Devices, Misses(request, r.Replaced)))
            .OrderBy(c => c.Costed, new CandidateOrder(request))
            .ToList();

        var chosen = ranked[0];
        var counts = (best.Keys.Count(k => k.Kind == CandidateKind.Disaggregated), best.Keys.Count(k => k.Kind == CandidateKind.Aggregated));
        var text = PlanText(request, model, hardware, perNode, name, chosen.Kind, chosen.Costed.Settings,
            Header(request, model, hardware, chosen, counts, meeting.Count), request.RatePerSecond ?? DefaultArrivals(chosen));
        var check = PlanCompiler.CompileText(request.PlanPath, scoped.With(text), scoped);
        diagnostics = check.Diagnostics;
        if (check.HasErrors)
        {
            // A shape the verifier accepted must compile; if placement or cost rejects it, say so rather than write it.
            return null;
        }

        return new InitResult(request, model, hardware, perNode, index, valid, best.Count, counts.Item2, meeting.Count, ranked, rejected, text, check.Diagnostics);
    }

    private static CandidateKind KindOf(DeploymentPlan plan) => plan.IsAggregated ? CandidateKind.Aggregated : CandidateKind.Disaggregated;

    /// <summary>
    /// An aggregated candidate: the base plan's serve pool with the candidate's instances, parallelism and batch sizes (its
    /// prefill and decode settings are the same pool's), verified and costed. Null when the verifier rejects it.
    /// </summary>
    private static SearchCandidate? EvaluateAggregated(DeploymentPlan bound, CandidateSettings s, long index, CostOptions options, Action<Diagnostic> rejected)
    {
        var serve = bound.Serving ?? throw new ArgumentException("the base plan is not aggregated", nameof(bound));
        var span = serve.Span;
        var pool = serve with
        {
            Instances = new Sourced<int>(s.PrefillInstances, serve.Instances.Span),
            Parallel = serve.Parallel with
            {
                DataParallel = new Sourced<int>(s.PrefillDataParallel, serve.Parallel.DataParallel.Span),
                TensorParallel = new Sourced<int>(s.PrefillTensorParallel, serve.Parallel.TensorParallel.Span),
                ExpertParallel = new Sourced<int>(s.PrefillExpertParallel, serve.Parallel.ExpertParallel.Span),
            },
            MaxBatchPerDevice = new Sourced<int>(s.DecodeMaxBatch, serve.MaxBatchPerDevice?.Span ?? span),
            MaxBatchTokensPerDevice = new Sourced<int>(s.PrefillMaxBatchTokens, serve.MaxBatchTokensPerDevice?.Span ?? span),
        };
        var plan = bound.WithServing(pool) with
        {
            Placement = bound.Placement with { RedundantExperts = new Sourced<int>(s.RedundantExperts, bound.Placement.RedundantExperts.Span) },
            Sweep = null,
        };
        if (Verification.PlanVerifier.Verify(plan).FirstOrDefault(d => d.IsError) is { } error)
        {
            rejected(error);
            return null;
        }

        return Figures(index, s, plan, (_evaluator ??= new CostEvaluator()).Evaluate(plan, options));
    }

    // One evaluator per thread: the candidates' cost evaluations allocate nothing.
    [ThreadStatic]
    private static CostEvaluator? _evaluator;

    /// <summary>The deployment-level figures of a costed candidate: as <see cref="DesignSpaceSearch.Figures"/> for prefill and decode
    /// pools; for one serve pool, its ranks counted once, serving at the smaller of its prompt and output capacities.</summary>
    public static SearchCandidate Figures(long index, in CandidateSettings settings, DeploymentPlan plan, in CostFigures report)
    {
        if (!plan.IsAggregated)
        {
            return DesignSpaceSearch.Figures(index, settings, plan, report);
        }

        var ranks = plan.Prefill.Instances.Value * plan.Prefill.Parallel.Ranks;
        var limit = Math.Min(1, report.PrefillCapacityRequestsPerSecond / report.DecodeCapacityRequestsPerSecond);
        var outputPerSecond = ranks * report.Decode.OutputTokensPerSecondPerRank * limit;
        double? usd = plan.PriceUsdPerDeviceHour is { } price ? price.Value / report.DiesPerPackage / 3600 * ranks / outputPerSecond * 1e6 : null;
        return new SearchCandidate(index, settings, plan, report, ranks, outputPerSecond / ranks, usd, report.GoodputRequestsPerSecond / ranks);
    }

    /// <summary>A shown candidate placed for its own EP and redundant experts and re-costed (<see cref="WinnerReplacement.Replace"/>
    /// for either kind).</summary>
    private static ReplacedCandidate Replace(SearchCandidate candidate, ISourceResolver resolver)
    {
        var cost = PlanCostEvaluation.Evaluate(candidate.Plan, resolver, CostOptions.Default);
        var replaced = cost.Report is { } report ? Figures(candidate.Index, candidate.Settings, candidate.Plan, report.Figures) : candidate;
        return new ReplacedCandidate(candidate, replaced, cost, cost.Diagnostics);
    }

    /// <summary>The misses of a costed candidate against the request's targets, as short phrases.</summary>
    public static IReadOnlyList<string> Misses(InitRequest request, SearchCandidate c)
    {
        var misses = new List<string>();
        if (request.TtftMilliseconds is { } ttft && c.TtftMilliseconds > ttft)
        {
            misses.Add($"TTFT {Ms(c.TtftMilliseconds)} ms > {Ms(ttft)} ms");
        }

        if (request.TpotMilliseconds is { } tpot && c.TpotMilliseconds > tpot)
        {
            misses.Add($"TPOT {Ms(c.TpotMilliseconds)} ms > {Ms(tpot)} ms");
        }

        var capacity = Math.Min(c.Report.PrefillCapacityRequestsPerSecond, c.Report.DecodeCapacityRequestsPerSecond);
        if (request.RatePerSecond is { } rate && capacity < rate)
        {
            misses.Add($"capacity {NumberText.Format(capacity, "0.##")} req/s < rate {NumberText.Format(rate, "0.##")} req/s");
        }

        return misses;
    }

    private static bool Better(InitRequest request, SearchCandidate a, SearchCandidate b) => new CandidateOrder(request).Compare(a, b) < 0;

    /// <summary>Best first: meeting the targets, then output tokens/s per rank (higher), cheaper, lower TTFT, earlier.</summary>
    private sealed class CandidateOrder(InitRequest request) : IComparer<SearchCandidate>
    {
        public int Compare(SearchCandidate? x, SearchCandidate? y)
        {
            var c = (Misses(request, x!).Count == 0).CompareTo(Misses(request, y!).Count == 0);
            if (c != 0)
            {
                return -c;
            }

            c = y!.OutputTokensPerSecondPerRank.CompareTo(x!.OutputTokensPerSecondPerRank);
            if (c != 0)
            {
                return c;
            }

            c = (x.UsdPerMillionOutputTokens ?? 0).CompareTo(y.UsdPerMillionOutputTokens ?? 0);
            if (c != 0)
            {
                return c;
            }

            c = x.TtftMilliseconds.CompareTo(y.TtftMilliseconds);
            return c != 0 ? c : x.Index.CompareTo(y.Index);
        }
    }

    /// <summary>A deployment shape: instances and per-instance dp x tp of each pool (EP = dp x tp), and the redundant experts
    /// that make the routed experts divide by both pools' EP.</summary>
    public readonly record struct Shape(int PrefillInstances, int PrefillDataParallel, int PrefillTensorParallel,
        int DecodeInstances, int DecodeDataParallel, int DecodeTensorParallel, int RedundantExperts);

    /// <summary>
    /// Disaggregated shapes using exactly <paramref name="ranks"/> ranks: instance sizes that are powers of two up to a node, or
    /// whole nodes; TP 1 to 8 within a node; prefill instances first, in a fixed order (the enumeration is deterministic).
    /// </summary>
    public static IEnumerable<Shape> Shapes(int ranks, int ranksPerNode, int routedExperts)
    {
        var sizes = new SortedSet<int>();
        for (var s = 1; s <= ranksPerNode && s < ranks; s *= 2)
        {
            sizes.Add(s);
        }

        for (var s = ranksPerNode; s < ranks; s += ranksPerNode)
        {
            sizes.Add(s);
        }

        foreach (var prefillSize in sizes)
        {
            for (var prefillInstances = 1; prefillInstances * prefillSize < ranks; prefillInstances++)
            {
                var rest = ranks - (prefillInstances * prefillSize);
                foreach (var decodeSize in sizes.Where(s => rest % s == 0))
                {
                    foreach (var prefillTp in TensorParallelSizes.Where(t => t <= ranksPerNode && prefillSize % t == 0))
                    {
                        foreach (var decodeTp in TensorParallelSizes.Where(t => t <= ranksPerNode && decodeSize % t == 0))
                        {
                            var redundant = RedundantExperts(routedExperts, prefillSize, decodeSize);
                            yield return new Shape(prefillInstances, prefillSize / prefillTp, prefillTp, rest / decodeSize, decodeSize / decodeTp, decodeTp,
                                redundant ?? 0);
                        }
                    }
                }
            }
        }
    }

    /// <summary>Aggregated shapes using exactly <paramref name="ranks"/> ranks: I serve instances of S ranks (S a power of two up to a
    /// node or whole nodes, I x S = ranks), TP 1 to 8 within a node. Stored as <see cref="Shape"/> with the serve pool in the prefill
    /// fields and no decode pool.</summary>
    public static IEnumerable<Shape> AggregatedShapes(int ranks, int ranksPerNode, int routedExperts)
    {
        var sizes = new SortedSet<int>();
        for (var s = 1; s <= ranksPerNode && s <= ranks; s *= 2)
        {
            sizes.Add(s);
        }

        for (var s = ranksPerNode; s <= ranks; s += ranksPerNode)
        {
            sizes.Add(s);
        }

        foreach (var size in sizes.Where(s => ranks % s == 0))
        {
            foreach (var tp in TensorParallelSizes.Where(t => t <= ranksPerNode && size % t == 0))
            {
                yield return new Shape(ranks / size, size / tp, tp, 0, 0, 0, RedundantExperts(routedExperts, size, size) ?? 0);
            }
        }
    }

    /// <summary>The fewest redundant experts (up to a quarter of the routed experts) that make routed + redundant divide by both
    /// EP sizes; null when none does (the verifier then rejects the shape with MP3004).</summary>
    public static int? RedundantExperts(int routed, int prefillEp, int decodeEp)
    {
        for (var r = 0; r <= routed / 4; r++)
        {
            if ((routed + r) % prefillEp == 0 && (routed + r) % decodeEp == 0)
            {
                return r;
            }
        }

        return null;
    }

    private static CandidateSettings Settings(CandidateKind kind, Shape s, int decodeBatch, int prefillTokens) => kind == CandidateKind.Disaggregated
        ? new(s.PrefillInstances, s.PrefillDataParallel, s.PrefillTensorParallel, s.PrefillDataParallel * s.PrefillTensorParallel, prefillTokens,
            s.DecodeInstances, s.DecodeDataParallel, s.DecodeTensorParallel, s.DecodeDataParallel * s.DecodeTensorParallel, decodeBatch,
            s.RedundantExperts, DecodeMtp: false, PrefillOverlap: false, DecodeOverlap: false, ProxyParallel: false, ProxyPolicy: 0)
        : new(s.PrefillInstances, s.PrefillDataParallel, s.PrefillTensorParallel, s.PrefillDataParallel * s.PrefillTensorParallel, prefillTokens,
            s.PrefillInstances, s.PrefillDataParallel, s.PrefillTensorParallel, s.PrefillDataParallel * s.PrefillTensorParallel, decodeBatch,
            s.RedundantExperts, DecodeMtp: false, PrefillOverlap: false, DecodeOverlap: false, ProxyParallel: false, ProxyPolicy: 0);

    private static ImmutableArray<Diagnostic> Arguments(InitRequest r)
    {
        var bad = ImmutableArray.CreateBuilder<Diagnostic>();
        void Positive(string option, double? value)
        {
            if (value is { } v && !(v > 0 && double.IsFinite(v)))
            {
                bad.Add(DiagnosticCodes.InitInvalidArgument.Create(null, option, v.ToString(CultureInfo.InvariantCulture), "must be a positive number"));
            }
        }

        Positive("--devices", r.Devices);
        Positive("--input", r.InputTokens);
        Positive("--output", r.OutputTokens);
        Positive("--devices-per-node", r.DevicesPerNode);
        Positive("--ttft", r.TtftMilliseconds);
        Positive("--tpot", r.TpotMilliseconds);
        Positive("--rate", r.RatePerSecond);
        Positive("--price", r.PriceUsdPerDeviceHour);
        Positive("--top", r.Top);
        if (r.Engine is not ("vllm" or "sglang"))
        {
            bad.Add(DiagnosticCodes.InitInvalidArgument.Create(null, "--engine", r.Engine, "must be vllm or sglang"));
        }

        return bad.ToImmutable();
    }

    private static ModelEntry? Model(InitRequest request, ISourceResolver resolver, out ImmutableArray<Diagnostic> diagnostics)
    {
        diagnostics = [];
        if (!request.ModelIsConfig)
        {
            if (EmbeddedCatalog.Instance.FindModel(request.Model) is { } entry)
            {
                return entry;
            }

            var names = EmbeddedCatalog.Instance.Models.Select(m => m.Name).ToList();
            diagnostics = [DiagnosticCodes.InitUnknownModel.Create(null, request.Model, Suggestions.DidYouMean(request.Model, names))];
            return null;
        }

        if (!resolver.TryRead(request.Model, out var text, out var error))
        {
            diagnostics = [DiagnosticCodes.InitUnknownModel.Create(null, request.Model, $" ({error})")];
            return null;
        }

        var read = HuggingFaceConfigReader.Read(text, request.Model, null);
        diagnostics = read.Diagnostics;
        return read.HasErrors ? null : read.Model;
    }

    private static string NameOf(InitRequest request, ModelEntry model, HardwareEntry hardware) =>
        Binding.NameRules.SuggestedName($"{model.Name}-{I(request.Devices)}x{hardware.Name}");

    private static List<string> Header(InitRequest request, ModelEntry model, HardwareEntry hardware, InitCandidate chosen, (int Disaggregated, int Aggregated) shapes, int meeting)
    {
        var c = chosen.Costed;
        var kinds = string.Join(" and ", new[] { shapes.Disaggregated > 0 ? $"{I(shapes.Disaggregated)} disaggregated" : null, shapes.Aggregated > 0 ? $"{I(shapes.Aggregated)} aggregated" : null }.OfType<string>());
        return
        [
            $"Written by `{request.Command}`.",
            $"{model.DisplayName} on {I(request.Devices)} {hardware.DisplayName}: the best of {kinds} deployment shapes",
            $"by output tokens/s per device; {I(meeting)} of them meet the targets{(chosen.MeetsTargets ? "" : ", so this is the fastest shape, missing " + string.Join(", ", chosen.Misses))}.",
            $"Cost model (saturated-capacity estimates; confirm with `moeplan run`): {NumberText.Format(chosen.OutputTokensPerSecondPerDevice, "0")} output tok/s per device,",
            $"TTFT {Ms(c.TtftMilliseconds)} ms, TPOT {Ms(c.TpotMilliseconds)} ms, capacity {NumberText.Format(chosen.CapacityRequestsPerSecond, "0.##")} req/s" +
            (c.UsdPerMillionOutputTokens is { } usd ? $", {NumberText.Format(usd, "0.###")} USD per million output tokens." : "."),
        ];
    }

    /// <summary>Share of the chosen shape's capacity the written workload offers when no --rate is given: busy, with queues that stay bounded.</summary>
    public const double DefaultLoadFactor = 0.8;

    /// <summary>The written plan's arrival rate without --rate: <see cref="DefaultLoadFactor"/> of the capacity, rounded down to 0.1 req/s (at least 0.1).</summary>
    public static double DefaultArrivals(InitCandidate chosen) => Math.Max(0.1, Math.Floor(chosen.CapacityRequestsPerSecond * DefaultLoadFactor * 10) / 10);

    private static string PlanText(InitRequest request, ModelEntry model, HardwareEntry hardware, int perNode, string name, CandidateKind kind, CandidateSettings s,
        IReadOnlyList<string> header,
        double arrivalsPerSecond)
    {
        var b = new StringBuilder();
        foreach (var line in header)
        {
            b.Append("# ").AppendLine(line);
        }

        var modelLine = request.ModelIsConfig
            ? $"model from \"{Escape(Path.GetRelativePath(Path.GetDirectoryName(request.PlanPath)!, request.Model).Replace('\\', '/'))}\""
            : $"model {model.Name}";
        b.AppendLine($"deployment \"{name}\" {{");
        b.AppendLine($"  engine {request.Engine}");
        b.AppendLine($"  {modelLine}");
        b.AppendLine($"  hardware {hardware.Name}");
        b.AppendLine($"  cluster {{ nodes {I(request.Devices / perNode)}  devices_per_node {I(perNode)} }}");
        if (request.PriceUsdPerDeviceHour is { } price)
        {
            b.AppendLine($"  price {N(price)}usd/device-hour");
        }

        if (kind == CandidateKind.Aggregated)
        {
            b.AppendLine("  # one pool prefills (in chunks) and decodes in the same steps (aggregated serving);");
            b.AppendLine("  # experts are spread over every rank of an instance (ep = dp x tp).");
            b.AppendLine("  serve {");
            b.AppendLine($"    instances {I(s.PrefillInstances)}");
            b.AppendLine($"    parallel {{ dp {I(s.PrefillDataParallel)}  tp {I(s.PrefillTensorParallel)}  ep {I(s.PrefillExpertParallel)} }}");
            b.AppendLine($"    max_batch {I(s.DecodeMaxBatch)} per device");
            b.AppendLine($"    # --input {I(request.InputTokens)} + --output {I(request.OutputTokens)}");
            b.AppendLine($"    context {I(request.InputTokens + request.OutputTokens)}");
            b.AppendLine("    # the step's token budget: the decode batch first, then a chunk of prompt tokens");
            b.AppendLine($"    max_batch_tokens {I(s.PrefillMaxBatchTokens)} per device");
            b.AppendLine("  }");
        }
        else
        {
            b.AppendLine("  # prefill instances compute prompts and hand their KV to decode instances (disaggregated serving);");
            b.AppendLine("  # experts are spread over every rank of an instance (ep = dp x tp).");
            b.AppendLine("  prefill {");
            b.AppendLine($"    instances {I(s.PrefillInstances)}");
            b.AppendLine($"    parallel {{ dp {I(s.PrefillDataParallel)}  tp {I(s.PrefillTensorParallel)}  ep {I(s.PrefillExpertParallel)} }}");
            b.AppendLine($"    max_batch_tokens {I(s.PrefillMaxBatchTokens)} per device");
            b.AppendLine("  }");
            b.AppendLine("  decode {");
            b.AppendLine($"    instances {I(s.DecodeInstances)}");
            b.AppendLine($"    parallel {{ dp {I(s.DecodeDataParallel)}  tp {I(s.DecodeTensorParallel)}  ep {I(s.DecodeExpertParallel)} }}");
            b.AppendLine($"    max_batch {I(s.DecodeMaxBatch)} per device");
            b.AppendLine($"    # --input {I(request.InputTokens)} + --output {I(request.OutputTokens)}");
            b.AppendLine($"    context {I(request.InputTokens + request.OutputTokens)}");
            b.AppendLine("  }");
        }

        if (s.RedundantExperts > 0)
        {
            b.AppendLine("  # the fewest redundant experts that make routed + redundant divide by every pool's EP");
            b.AppendLine($"  placement {{ redundant_experts {I(s.RedundantExperts)} }}");
        }

        if (request.TtftMilliseconds is not null || request.TpotMilliseconds is not null)
        {
            // The cost model predicts expected values, so the targets are checked as means.
            var targets = new List<string>();
            if (request.TtftMilliseconds is { } ttft)
            {
                targets.Add($"ttft mean < {N(ttft)}ms");
            }

            if (request.TpotMilliseconds is { } tpot)
            {
                targets.Add($"tpot mean < {N(tpot)}ms");
            }

            b.AppendLine($"  slo {{ {string.Join("  ", targets)} }}");
        }

        b.AppendLine("  workload {");
        if (request.RatePerSecond is null)
        {
            b.AppendLine($"    # no --rate given: {N(DefaultLoadFactor * 100)}% of the capacity above; set the load you expect");
        }

        b.AppendLine($"    arrivals poisson {N(arrivalsPerSecond)}/s");

        b.AppendLine($"    input fixed {I(request.InputTokens)}");
        b.AppendLine($"    output fixed {I(request.OutputTokens)}");
        b.AppendLine($"    requests {I(WorkloadRequests)}");
        b.AppendLine("  }");
        b.AppendLine("}");
        var formatted = PlanFormatter.Format(b.ToString(), request.PlanPath);
        return formatted.Text ?? throw new InvalidOperationException("the generated plan does not parse: " + string.Join("; ", formatted.Diagnostics.Select(d => d.Message)));
    }

    public static string Kind(CandidateKind kind) => kind switch
    {
        CandidateKind.Disaggregated => "disaggregated",
        CandidateKind.Aggregated => "aggregated",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static string Escape(string path) => path.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);

    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string N(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Ms(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);

    /// <summary>Serves the plan being generated from memory at its path, everything else through the inner resolver.</summary>
    private sealed class InMemoryPlanResolver(ISourceResolver inner, string path) : ISourceResolver
    {
        private string _text = "";

        public string With(string text)
        {
            _text = text;
            return text;
        }

        public string Resolve(string fromFile, string relative) => inner.Resolve(fromFile, relative);

        public bool TryRead(string resolvedPath, out string read, out string error)
        {
            if (string.Equals(resolvedPath, path, StringComparison.Ordinal))
            {
                (read, error) = (_text, "");
                return true;
            }

            return inner.TryRead(resolvedPath, out read, out error);
        }
    }
}

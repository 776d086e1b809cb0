using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Plan;
using MoePlan.Core.Search;
using MoePlan.Core.Verification;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Search;

public sealed class DesignSpaceSearchTests
{
    private const string V3Path = "plans/deepseek-v3-h800.moe";
    private const string R1Path = "plans/deepseek-r1-cloudmatrix384.moe";

    private static readonly Lazy<CompilationResult> V3 = new(() => Compile(V3Path));
    private static readonly Lazy<CompilationResult> R1 = new(() => Compile(R1Path));

    private static CompilationResult Compile(string path)
    {
        var result = PlanCompiler.Compile(path, MemorySourceResolver.FromRepository(path));
        Assert.NotNull(result.Plan);
        return result;
    }

    private static CostOptions Imbalances(CompilationResult r) => r.Cost!.Options;

    private static DimensionValues Vary(string text) => SearchSpace.ParseVary(text, out var error) ?? throw new InvalidOperationException(error);

    private static SearchSpace Space(CompilationResult r, int? devices, params string[] vary) =>
        SearchSpace.Create(r.Plan!, [.. vary.Select(Vary)], devices, out var error) ?? throw new InvalidOperationException(error);

    /// <summary>The small space of the brute-force tests: 7 x 5 x 3 x 2 x 3 = 630 candidates.</summary>
    private static readonly string[] SmallSpace =
    [
        "decode.dp=16,32,48,64,72,96,144", "decode.ep=dp", "decode.max_batch=16,32,64,88,128", "prefill.instances=1..3",
        "decode.overlap=on,off", "placement.redundant_experts=0,32,64",
    ];

    /// <summary>An independent model of one candidate: the plan built field by field, verified, costed, and the
    /// deployment figures worked out from the cost report as docs/search.md defines them.</summary>
    private sealed record Brute(int DecodeDp, int MaxBatch, int PrefillInstances, bool DecodeOverlap, int Redundant, DeploymentPlan Plan, CostReport Report)
    {
        public int Ranks => (Plan.Prefill.Instances.Value * Plan.Prefill.Parallel.DataParallel.Value * Plan.Prefill.Parallel.TensorParallel.Value) +
                            (Plan.Decode.Instances.Value * Plan.Decode.Parallel.DataParallel.Value * Plan.Decode.Parallel.TensorParallel.Value);

        /// <summary>Requests/s at the slower pool's capacity, times output tokens per request (decode capacity = decode output / output length).</summary>
        public double OutputPerSecond
        {
            get
            {
                var decodeRanks = Plan.Decode.Instances.Value * Plan.Decode.Parallel.DataParallel.Value * Plan.Decode.Parallel.TensorParallel.Value;
                var outputTokensPerRequest = decodeRanks * Report.Decode.OutputTokensPerSecondPerRank / Report.DecodeCapacityRequestsPerSecond;
                return Math.Min(Report.PrefillCapacityRequestsPerSecond, Report.DecodeCapacityRequestsPerSecond) * outputTokensPerRequest;
            }
        }

        public double PerRank => OutputPerSecond / Ranks;

        public double Usd => 2.0 / 3600 * Ranks / OutputPerSecond * 1e6;

        public bool Slos => Report.TtftMeetsSlo && Report.TpotMeetsSlo;
    }

    private static List<Brute> BruteForce(CompilationResult r)
    {
        var all = new List<Brute>();
        var b = r.Plan!;
        foreach (var dp in new[] { 16, 32, 48, 64, 72, 96, 144 })
            foreach (var batch in new[] { 16, 32, 64, 88, 128 })
                foreach (var prefillInstances in new[] { 1, 2, 3 })
                    foreach (var overlap in new[] { true, false })
                        foreach (var redundant in new[] { 0, 32, 64 })
                        {
                            var plan = b with
                            {
                                Prefill = b.Prefill with { Instances = b.Prefill.Instances with { Value = prefillInstances } },
                                Decode = b.Decode with
                                {
                                    Parallel = b.Decode.Parallel with
                                    {
                                        DataParallel = b.Decode.Parallel.DataParallel with { Value = dp },
                                        ExpertParallel = b.Decode.Parallel.ExpertParallel with { Value = dp },
                                    },
                                    MaxBatchPerDevice = b.Decode.MaxBatchPerDevice!.Value with { Value = batch },
                                    MicrobatchOverlap = b.Decode.MicrobatchOverlap with { Value = overlap },
                                },
                                Placement = b.Placement with { RedundantExperts = b.Placement.RedundantExperts with { Value = redundant } },
                            };
                            if (PlanVerifier.Verify(plan).Any(d => d.IsError))
                            {
                                continue;
                            }

                            all.Add(new Brute(dp, batch, prefillInstances, overlap, redundant, plan, PlanCostModel.Evaluate(plan, Imbalances(r))));
                        }

        return all;
    }

    /// <summary>Distinct objective pairs of the points no other point strictly dominates (both maximised), by O(n^2) scan.</summary>
    private static HashSet<(double, double)> NaiveFrontier(IReadOnlyList<(double A, double B)> points) =>
        [.. points.Where(p => !points.Any(q => q.A >= p.A && q.B >= p.B && (q.A > p.A || q.B > p.B)))];

    [Fact]
    public void The_search_agrees_with_a_brute_force_scan_of_a_small_space()
    {
        var space = Space(V3.Value, null, SmallSpace);
        Assert.Equal(630, space.Count);
        var result = DesignSpaceSearch.Run(space, Imbalances(V3.Value), 5);
        var brute = BruteForce(V3.Value);

        Assert.Equal(630, result.Enumerated);
        Assert.Equal(brute.Count, result.Valid);
        Assert.True(brute.Count > 10, $"only {brute.Count} valid candidates: the test space is too narrow");

        var throughput = NaiveFrontier([.. brute.Select(c => (c.PerRank, -c.Report.Decode.TpotMilliseconds))]);
        var found = result.ThroughputTpotFrontier.Select(c => (c.OutputTokensPerSecondPerRank, -c.TpotMilliseconds)).ToList();
        Assert.Equal(found.Count, found.Distinct().Count());
        Assert.Equal(throughput.Order(), found.Order(), new PairComparer());

        var cost = NaiveFrontier([.. brute.Select(c => (-c.Usd, -c.Report.Prefill.TtftMilliseconds))]);
        Assert.Equal(cost.Order(), result.CostTtftFrontier.Select(c => (-c.UsdPerMillionOutputTokens!.Value, -c.TtftMilliseconds)).Order(), new PairComparer());

        // Top 5 meeting the SLOs by output tokens/s per rank.
        var top = brute.Where(c => c.Slos).OrderByDescending(c => c.PerRank).Take(5).ToList();
        Assert.NotEmpty(top);
        Assert.Equal(top.Count, result.Top.Count);
        for (var i = 0; i < top.Count; i++)
        {
            var s = result.Top[i].Settings;
            Assert.Equal((top[i].DecodeDp, top[i].MaxBatch, top[i].PrefillInstances, top[i].DecodeOverlap, top[i].Redundant),
                (s.DecodeDataParallel, s.DecodeMaxBatch, s.PrefillInstances, s.DecodeOverlap, s.RedundantExperts));
            Assert.Equal(top[i].PerRank, result.Top[i].OutputTokensPerSecondPerRank, 9);
            Assert.Equal(top[i].Usd, result.Top[i].UsdPerMillionOutputTokens!.Value, 9);
            Assert.Equal(top[i].Ranks, result.Top[i].Ranks);
        }
    }

    [Fact]
    public void Every_frontier_point_is_valid_and_not_dominated_by_any_evaluated_candidate()
    {
        var space = Space(V3.Value, null, SmallSpace);
        var result = DesignSpaceSearch.Run(space, Imbalances(V3.Value), 3);
        var brute = BruteForce(V3.Value);
        Assert.NotEmpty(result.ThroughputTpotFrontier);
        foreach (var point in result.ThroughputTpotFrontier.Concat(result.CostTtftFrontier).Concat(result.Top))
        {
            Assert.DoesNotContain(PlanVerifier.Verify(point.Plan), d => d.IsError);
            Assert.True(point.Ranks <= space.Cluster.Devices);
        }

        // The brute force works its figures out on its own path (PerRank, Usd), so the same candidate can differ from the
        // search's in the last bits: strictly better means better by more than rounding.
        static bool Above(double a, double b) => a > b * (1 + 1e-12);
        static bool AtLeast(double a, double b) => !Above(b, a);
        foreach (var point in result.ThroughputTpotFrontier)
        {
            Assert.DoesNotContain(brute, c => AtLeast(c.PerRank, point.OutputTokensPerSecondPerRank) && AtLeast(point.TpotMilliseconds, c.Report.Decode.TpotMilliseconds) &&
                                              (Above(c.PerRank, point.OutputTokensPerSecondPerRank) || Above(point.TpotMilliseconds, c.Report.Decode.TpotMilliseconds)));
        }

        foreach (var point in result.CostTtftFrontier)
        {
            Assert.DoesNotContain(brute, c => AtLeast(point.UsdPerMillionOutputTokens!.Value, c.Usd) && AtLeast(point.TtftMilliseconds, c.Report.Prefill.TtftMilliseconds) &&
                                              (Above(point.UsdPerMillionOutputTokens!.Value, c.Usd) || Above(point.TtftMilliseconds, c.Report.Prefill.TtftMilliseconds)));
        }
    }

    [Fact]
    public void DeepSeek_V3_on_64_H800_finds_valid_candidates()
    {
        var space = Space(V3.Value, 64, "prefill.dp=8,16,32", "prefill.ep=dp", "decode.dp=8,16,24,32,40,48", "decode.ep=dp",
            "decode.max_batch=16..128*2", "placement.redundant_experts=0,16,32", "decode.overlap=on,off");
        Assert.Equal(64, space.Cluster.Devices);
        var result = DesignSpaceSearch.Run(space, Imbalances(V3.Value), 3);
        Assert.NotEmpty(result.Top);
        foreach (var c in result.Top)
        {
            Assert.True(c.Ranks <= 64, $"{c.Ranks} ranks");
            Assert.Equal(8, c.Plan.Cluster.Nodes.Value);
            Assert.DoesNotContain(PlanVerifier.Verify(c.Plan), d => d.IsError);
            Assert.True(c.MeetsSlos);
        }
    }

    [Theory]
    [InlineData(V3Path, 64, new[] { "prefill.instances=1,2", "prefill.dp=16,32", "prefill.ep=dp", "decode.dp=16,24,32", "decode.ep=dp", "decode.max_batch=32,64", "placement.redundant_experts=0,32" })]
    [InlineData(R1Path, null, new[] { "decode.mtp=on,off", "decode.tp=1,2", "prefill.overlap=on,off", "decode.instances=1,2", "decode.dp=80,160", "decode.ep=dp" })]
    public void Written_plans_compile_clean_and_round_trip_to_the_candidate(string path, int? devices, string[] vary)
    {
        var compiled = path == V3Path ? V3.Value : R1.Value;
        var space = Space(compiled, devices, vary);
        var result = DesignSpaceSearch.Run(space, Imbalances(compiled), 10);
        var written = result.Top.Concat(result.ThroughputTpotFrontier).ToList();
        Assert.NotEmpty(written);
        var baseText = File.ReadAllText(RepositoryPaths.PathOf(path.Split('/')));
        var nodes = devices is null ? (int?)null : space.Cluster.Nodes.Value;
        var winnerPath = path.Replace(".moe", "-winner.moe", StringComparison.Ordinal);
        foreach (var c in written)
        {
            var text = PlanTextWriter.Write(baseText, compiled.Syntax!, CandidateSettings.Of(compiled.Plan!), c.Settings, nodes);
            var resolver = new MemorySourceResolver(new Dictionary<string, string> { [winnerPath] = text }, readRepository: true);
            var again = PlanCompiler.Compile(winnerPath, resolver);
            Assert.True(again.Plan is not null, text + "\n" + string.Join("\n", again.Diagnostics));
            Assert.DoesNotContain(again.Diagnostics, d => d.IsError);
            Assert.Equal(c.Settings, CandidateSettings.Of(again.Plan!));
            Assert.Equal(space.Cluster.Devices, again.Plan!.Cluster.Devices);
            Assert.Equal(c.Plan.Decode.Mtp?.TokensPerStep, again.Plan.Decode.Mtp?.TokensPerStep);

            var report = PlanCostModel.Evaluate(again.Plan, Imbalances(compiled));
            Assert.Equal(c.TtftMilliseconds, report.Prefill.TtftMilliseconds, 9);
            Assert.Equal(c.TpotMilliseconds, report.Decode.TpotMilliseconds, 9);
            Assert.Equal(c.Report.Decode.OutputTokensPerSecondPerRank, report.Decode.OutputTokensPerSecondPerRank, 9);
            Assert.Equal(c.Report.PrefillCapacityRequestsPerSecond, report.PrefillCapacityRequestsPerSecond, 9);
            Assert.Equal(c.Report.DecodeCapacityRequestsPerSecond, report.DecodeCapacityRequestsPerSecond, 9);

            // Canonical: the written text is what `moeplan fmt` prints.
            Assert.Equal(text, MoePlan.Core.Formatting.PlanFormatter.Format(text, winnerPath).Text);
        }
    }

    [Fact]
    public void The_space_is_enumerated_lazily()
    {
        // 10^6 x 10^6 x 2 candidates: creating the space and taking the first few does not materialise them.
        var space = Space(V3.Value, null, "decode.max_batch=1..1000000", "prefill.max_batch_tokens=1..1000000", "decode.overlap=on,off");
        Assert.Equal(2_000_000_000_000L, space.Count);
        var first = space.Take(3).ToList();
        // Dimensions in SearchDimension order, the last varying fastest: prefill tokens, decode batch, decode overlap.
        Assert.Equal([1, 1, 1], first.Select(c => c.PrefillMaxBatchTokens));
        Assert.Equal([1, 1, 2], first.Select(c => c.DecodeMaxBatch));
        Assert.Equal([true, false, true], first.Select(c => c.DecodeOverlap));
    }

    private sealed class PairComparer : IEqualityComparer<(double, double)>
    {
        public bool Equals((double, double) x, (double, double) y) => Math.Abs(x.Item1 - y.Item1) <= 1e-9 * Math.Max(1, Math.Abs(x.Item1)) &&
                                                                       Math.Abs(x.Item2 - y.Item2) <= 1e-9 * Math.Max(1, Math.Abs(x.Item2));

        public int GetHashCode((double, double) obj) => 0;
    }
}

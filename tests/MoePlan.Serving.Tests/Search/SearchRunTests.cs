using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Plan;
using MoePlan.Core.Search;
using MoePlan.Core.Text;
using MoePlan.Serving.Search;
using MoePlan.Serving.Tests.Simulation;

namespace MoePlan.Serving.Tests.Search;

/// <summary>Reads files from disk, relative paths from the folder of the file naming them.</summary>
internal sealed class FolderResolver : ISourceResolver
{
    public string Resolve(string fromFile, string path) =>
        Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(fromFile) ?? "", path));

    public bool TryRead(string resolvedPath, out string text, out string error)
    {
        (text, error) = File.Exists(resolvedPath) ? (File.ReadAllText(resolvedPath), "") : ("", "no such file");
        return error.Length == 0;
    }
}

/// <summary>The search entry point on a small space around the search example plan.</summary>
public sealed class SearchRunTests
{
    public static readonly string PlanFile = SimulationFixtures.PathOf("plans", "search", "deepseek-v3-64xh800.moe");

    private static readonly Lazy<CompilationResult> Compiled = new(() =>
    {
        var compiled = PlanCompiler.Compile(PlanFile, new FolderResolver());
        Assert.False(compiled.HasErrors, string.Join("\n", compiled.Diagnostics));
        return compiled;
    });

    private static readonly Lazy<SearchReport> Analytic = new(() => Search(Confirming.Default with { Requests = 200 }));

    /// <summary>
    /// The plan's sweep with decode.dp and decode.max_batch narrowed to two values each: prefill.instances 2 x
    /// prefill.dp 3 x decode.dp 2 x decode.max_batch 2 x redundant experts 2 x policy 2 = 96 candidates in 64 devices.
    /// </summary>
    public static SearchReport Search(Confirming confirming, int top = 3, SearchProgress? progress = null, int? devices = null)
    {
        var varied = new[] { "decode.dp=16,32", "decode.max_batch=32,64" }.Select(v => SearchSpace.ParseVary(v, out _)!).ToList();
        var request = new SearchRequest(PlanFile, Compiled.Value, new FolderResolver(), varied, top, devices, confirming) { Progress = progress };
        var report = SearchRun.Execute(request, out var error);
        Assert.True(report is not null, error);
        return report;
    }

    public static SearchReport AnalyticReport => Analytic.Value;

    private static int Ranks(CandidateSettings s) =>
        (s.PrefillInstances * s.PrefillDataParallel * s.PrefillTensorParallel) + (s.DecodeInstances * s.DecodeDataParallel * s.DecodeTensorParallel);

    /// <summary>docs/search.md: decode ranks x decode output tokens/s per rank x min(1, prefill capacity / decode
    /// capacity) / all ranks (one die per H800, so a rank is a device).</summary>
    private static double ThroughputPerRank(CandidateSettings s, in CostFigures report) =>
        s.DecodeInstances * s.DecodeDataParallel * s.DecodeTensorParallel * report.Decode.OutputTokensPerSecondPerRank
        * Math.Min(1, report.PrefillCapacityRequestsPerSecond / report.DecodeCapacityRequestsPerSecond) / Ranks(s);

    [Fact]
    public void The_space_is_the_plans_sweep_with_the_overrides_within_its_devices()
    {
        var report = AnalyticReport;
        Assert.Equal(2 * 3 * 2 * 2 * 2 * 2, report.Stats.Candidates);
        Assert.Equal(report.Stats.Candidates, report.Result.Enumerated);
        Assert.Equal(64, report.Space.Cluster.Devices);
        Assert.Equal("deepseek-v3-h800", report.Name);
        Assert.Equal(3, report.Winners.Count);
    }

    [Fact]
    public void The_winners_are_the_best_candidates_meeting_the_slos_reranked_by_throughput_per_rank_at_their_own_placement()
    {
        var report = AnalyticReport;

        // Reference: every candidate of the space costed at the base imbalances, those meeting both SLOs ordered by
        // throughput per rank (computed from each cost report), then cheaper (same price here), then enumeration order.
        var options = Compiled.Value.Cost!.Options;
        var expected = report.Space
            .Select((s, i) => DesignSpaceSearch.Evaluate(report.Space, s, i, options))
            .OfType<SearchCandidate>()
            .Where(c => c.Report.TtftMeetsSlo && c.Report.TpotMeetsSlo)
            .OrderByDescending(c => ThroughputPerRank(c.Settings, c.Report))
            .ThenBy(c => c.Index)
            .Take(3)
            .Select(c => c.Index)
            .Order();
        Assert.Equal(expected, report.Winners.Select(w => w.Candidate.Searched.Index).Order());

        // Re-placed: each still meets the SLOs on its own cost report, in order of its own throughput per rank.
        var own = report.Winners.Select(w =>
        {
            var cost = w.Candidate.Cost.Report!;
            Assert.True(cost.TtftMeetsSlo && cost.TpotMeetsSlo);
            return ThroughputPerRank(w.Candidate.Replaced.Settings, cost.Figures);
        }).ToList();
        for (var i = 1; i < own.Count; i++)
        {
            Assert.True(own[i - 1] >= own[i], $"#{i}: {own[i - 1]} then {own[i]}");
        }

        // The figures reported are these.
        Assert.Equal(own, report.Winners.Select(w => w.Candidate.Replaced.OutputTokensPerSecondPerRank), new ToleranceComparer(1e-9));
    }

    [Fact]
    public void Each_winner_is_simulated_with_the_requested_number_of_requests()
    {
        foreach (var w in AnalyticReport.Winners)
        {
            var sim = w.Simulation!;
            Assert.Null(sim.Skipped);
            Assert.Equal(200, sim.Metrics!.Arrived);
            Assert.Same(w.Candidate, sim.Candidate);
        }
    }

    [Fact]
    public void Rank_by_simulation_orders_by_simulated_slos_then_simulated_goodput_per_rank()
    {
        var report = Search(new Confirming(true, 200, RankBySimulation: true, 0.25));
        var sims = report.Winners.Select(w => w.Simulation!).ToList();
        Assert.Equal(3, sims.Count);
        for (var i = 1; i < sims.Count; i++)
        {
            var (a, b) = (sims[i - 1], sims[i]);
            Assert.True((a.SimulatedMeetsSlos && !b.SimulatedMeetsSlos) ||
                        (a.SimulatedMeetsSlos == b.SimulatedMeetsSlos && a.GoodputRequestsPerSecondPerRank.Simulated >= b.GoodputRequestsPerSecondPerRank.Simulated));
        }
    }

    [Fact]
    public void Without_simulation_the_winners_carry_none_and_the_progress_wrapper_sees_the_whole_space()
    {
        var seen = new List<long>();
        long? total = null;
        SearchResult? inner = null;
        var report = Search(Confirming.Default with { Simulate = false }, progress: (candidates, search) =>
        {
            total = candidates;
            inner = search(seen.Add);
            return inner;
        });
        Assert.All(report.Winners, w => Assert.Null(w.Simulation));
        Assert.Equal(96, total);
        Assert.Same(inner, report.Result);
        Assert.Equal(96, seen[^1]);
    }

    [Fact]
    public void A_device_cap_the_plan_cannot_take_is_an_error_not_a_report()
    {
        var varied = Array.Empty<DimensionValues>();
        var request = new SearchRequest(PlanFile, Compiled.Value, new FolderResolver(), varied, 3, 63, Confirming.Default);
        Assert.Null(SearchRun.Execute(request, out var error));
        Assert.Contains("not a positive multiple of the plan's 8 devices per node", error, StringComparison.Ordinal);
    }

    private sealed class ToleranceComparer(double relative) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= relative * Math.Max(Math.Abs(x), Math.Abs(y));

        public int GetHashCode(double obj) => 0;
    }
}

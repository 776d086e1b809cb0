using System.Collections.Immutable;
using MoePlan.Core.Compilation;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Placement;
using MoePlan.Core.Plan;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Placement;

/// <summary>Loads over time and rebalancing: the DSL, the load windows file, the weight-movement charge, the timeline.</summary>
public class RebalanceTests
{
    private const string Drift = "plans/deepseek-v3-sglang-h100-drift.moe";

    private static string Repo(string path) => File.ReadAllText(RepositoryPaths.PathOf(path.Split('/')));

    /// <summary>Compiles the drift sample plan with its text edited; extra files in memory, the rest read from the repository.</summary>
    private static CompilationResult Compile(Func<string, string>? edit = null, Dictionary<string, string>? files = null, bool throughVerification = false)
    {
        var resolver = new MemorySourceResolver(files ?? [], readRepository: true);
        var source = Repo(Drift);
        return PlanCompiler.CompileText(Drift, edit is null ? source : edit(source), resolver, throughVerification);
    }

    private static string Rebalance(string plan, string setting) =>
        plan.Replace("rebalance every 60s with eplb", setting, StringComparison.Ordinal);

    [Fact]
    public void The_sample_plan_binds_its_windows_and_rebalance()
    {
        var result = Compile();
        Assert.True(result.Plan is not null, string.Join("; ", result.Diagnostics));
        var r = result.Plan!.Placement.Rebalance!;
        Assert.Equal(RebalanceTrigger.Periodic, r.Trigger);
        Assert.Equal(60_000, r.IntervalMilliseconds!.Value.Value);
        Assert.Equal("eplb", r.Algorithm!.Value.Value);
        Assert.Equal("every 60 s with eplb", r.Describe("eplb-global"));
        Assert.Equal(5, result.LoadWindows!.Windows.Length);
        Assert.All(result.LoadWindows.Windows, w => Assert.Equal(50_000, w.DurationMilliseconds));
    }

    [Theory]
    [InlineData("rebalance off", RebalanceTrigger.Off, null, null, null)]
    [InlineData("rebalance every 2min", RebalanceTrigger.Periodic, 120_000.0, null, null)]
    [InlineData("rebalance when imbalance > 1.25 with moeplan", RebalanceTrigger.Threshold, null, 1.25, "moeplan")]
    [InlineData("rebalance every 10s with eplb-global", RebalanceTrigger.Periodic, 10_000.0, null, "eplb-global")]
    public void Every_form_of_rebalance_binds(string setting, RebalanceTrigger trigger, double? interval, double? threshold, string? algorithm)
    {
        var result = Compile(p => Rebalance(p, setting), throughVerification: true);
        Assert.True(result.Plan is not null, string.Join("; ", result.Diagnostics));
        var r = result.Plan!.Placement.Rebalance!;
        Assert.Equal(trigger, r.Trigger);
        Assert.Equal(interval, r.IntervalMilliseconds?.Value);
        Assert.Equal(threshold, r.ImbalanceThreshold?.Value);
        Assert.Equal(algorithm, r.Algorithm?.Value);
    }

    [Fact]
    public void A_rebalance_interval_under_10_s_is_refused_at_the_value()
    {
        var text = Rebalance(Repo(Drift), "rebalance every 1ms");
        var result = Compile(_ => text, throughVerification: true);
        var d = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.Equal("MP2008", d.Descriptor.Code);
        var line = text.Split('\n').Select((l, i) => (l, i)).First(x => x.l.Contains("rebalance every 1ms", StringComparison.Ordinal));
        Assert.Equal(line.i + 1, d.Span!.Value.Line);
        Assert.Equal(line.l.IndexOf("1ms", StringComparison.Ordinal) + 1, d.Span.Value.Column);
        Assert.Contains("at least 10s", d.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rebalance when imbalance > 0.5", "MP2008")]
    [InlineData("rebalance when imbalance < 1.5", "MP2005")]
    [InlineData("rebalance sometimes", "MP2005")]
    [InlineData("rebalance every 60s with greedy", "MP2005")]
    [InlineData("rebalance every 60", "MP2007")]
    public void Bad_rebalance_settings_are_located_errors(string setting, string code)
    {
        var result = Compile(p => Rebalance(p, setting), throughVerification: true);
        Assert.Null(result.Plan);
        Assert.Contains(result.Diagnostics, d => d.IsError && d.Descriptor.Code == code && d.Span is { Line: > 1 });
    }

    private static readonly string Recording = "deepseek-v3-sglang-decode_in2000out100.json";

    /// <summary>Compiles the plan against an in-memory windows file <paramref name="windows"/> (load files from plans/data).</summary>
    private static CompilationResult WithWindows(string windows, Dictionary<string, string>? extra = null)
    {
        var files = new Dictionary<string, string>(extra ?? [], StringComparer.Ordinal) { ["plans/data/deepseek-v3-drift.windows"] = windows };
        return Compile(files: files);
    }

    [Theory]
    [InlineData("0s deepseek-v3-sglang-decode_in2000out100.json\n", "MP5703", 1, 1)]
    [InlineData("60s deepseek-v3-sglang-decode_in2000out100.json\n-5s deepseek-v3-sglang-decode_in2000out100.json\n", "MP5703", 2, 1)]
    [InlineData("# comment\n  60 deepseek-v3-sglang-decode_in2000out100.json\n", "MP5703", 2, 3)]
    [InlineData("60s deepseek-v3-sglang-decode_in2000out100.json\n30s missing.json\n", "MP5704", 2, 5)]
    [InlineData("60s\n", "MP5702", 1, 1)]
    [InlineData("# nothing but comments\n\n", "MP5701", 1, 1)]
    public void Bad_window_files_are_located_diagnostics(string windows, string code, int line, int column)
    {
        var result = WithWindows(windows);
        Assert.Null(result.Plan);
        var d = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.Equal(code, d.Descriptor.Code);
        Assert.Equal("plans/data/deepseek-v3-drift.windows", d.Span!.Value.File);
        Assert.Equal((line, column), (d.Span.Value.Line, d.Span.Value.Column));
    }

    [Fact]
    public void A_window_with_the_wrong_shape_says_which_window_and_file()
    {
        // 61 layers of 128 experts: DeepSeek-V3 has 256 routed experts.
        var narrow = "[" + string.Join(",", Enumerable.Repeat("[" + string.Join(",", Enumerable.Repeat("1", 128)) + "]", 61)) + "]";
        var result = WithWindows($"60s {Recording}\n60s narrow.json\n", new() { ["plans/data/narrow.json"] = narrow });
        Assert.Null(result.Plan);
        var d = Assert.Single(result.Diagnostics, d => d.Descriptor.Code == "MP5705");
        Assert.Equal((2, 5), (d.Span!.Value.Line, d.Span.Value.Column));
        Assert.Contains("window 2", d.Message, StringComparison.Ordinal);
        Assert.Contains("narrow.json", d.Message, StringComparison.Ordinal);
        Assert.Contains(result.Diagnostics, d => d.Descriptor.Code == "MP5113" && d.Span!.Value.File == "plans/data/narrow.json");
    }

    [Fact]
    public void More_than_a_thousand_windows_is_MP5706_at_the_first_one_too_many()
    {
        var windows = string.Concat(Enumerable.Repeat($"1s {Recording}\n", LoadWindowsReader.MaxWindows + 1));
        var result = WithWindows(windows);
        var d = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.Equal("MP5706", d.Descriptor.Code);
        Assert.Equal(LoadWindowsReader.MaxWindows + 1, d.Span!.Value.Line);
    }

    [Fact]
    public void A_missing_windows_file_is_an_error_at_the_setting()
    {
        var result = Compile(p => p.Replace("data/deepseek-v3-drift.windows", "data/none.windows", StringComparison.Ordinal));
        var d = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.Equal(DiagnosticCodes.ImportNotFound.Code, d.Descriptor.Code);
        Assert.Equal(Drift, d.Span!.Value.File);
    }

    /// <summary>
    /// The charge of one rebalance, by hand. DeepSeek-V3 FP8 on H100: one routed expert is 3 x 7168 x 2048 = 44,040,192
    /// parameters of 1 byte = 44,040,192 B. Rates: NVLink 450 GB/s per direction x 0.775 (Hopper's fitted scale-up
    /// efficiency) = 348.75 GB/s; NIC 50 GB/s x 0.844 (its fitted scale-out efficiency) = 42.2 GB/s. Four ranks, two per scale-up domain (ranks 0-1, 2-3), two
    /// layers of 8 experts, 2 per rank:
    /// layer 3: rank 0 takes expert 4 (held by rank 2, other domain: NIC), rank 2 takes expert 1 (from rank 0: NIC);
    /// layer 4: rank 0 takes expert 2 (from rank 1: NVLink), rank 1 takes expert 1 (from rank 0: NVLink).
    /// Copies 4, bytes 4 x 44,040,192 = 176,160,768. Per rank, NVLink and NIC side by side: rank 0 max(44,040,192 / 348.75e9,
    /// 44,040,192 / 42.2e9) s = 1.04360645 ms; ranks 1 and 2 one copy each, at most as long. Stall 1.04360645 ms.
    /// </summary>
    [Fact]
    public void The_weight_movement_charge_is_the_hand_computed_one()
    {
        var plan = Compile(throughVerification: true).Plan!;
        var fabric = PlanRebalancing.FabricOf(plan);
        Assert.Equal(44_040_192, fabric.ExpertBytes);
        Assert.Equal(348.75e9, fabric.ScaleUpBytesPerSecond, 1e-3);
        Assert.Equal(42.2e9, fabric.ScaleOutBytesPerSecond, 1e-3);
        Assert.Equal(8, fabric.ScaleUpDomainRanks);

        static ExpertPlacement Placement(params int[][][] layers) => new("test", 8, 8, 4, 2,
            [.. layers.Select((devices, i) => new LayerPlacement(3 + i, 8, devices.Select(d => (IEnumerable<int>)d)))]);
        int[][] start = [[0, 1], [2, 3], [4, 5], [6, 7]];
        var from = Placement(start, start);
        var to = Placement([[0, 4], [2, 3], [1, 5], [6, 7]], [[0, 2], [1, 3], [4, 5], [6, 7]]);
        var moved = WeightMovement.Between(from, to, fabric with { ScaleUpDomainRanks = 2 });
        Assert.Equal(2, moved.ScaleUpCopies);
        Assert.Equal(2, moved.ScaleOutCopies);
        Assert.Equal(176_160_768, moved.Bytes);
        Assert.Equal(44_040_192 / 42.2e9 * 1e3, moved.Milliseconds, 1e-9);

        // Back again moves the same copies; staying put moves nothing.
        Assert.Equal(176_160_768, WeightMovement.Between(to, from, fabric with { ScaleUpDomainRanks = 2 }).Bytes);
        Assert.Equal(0, WeightMovement.Between(from, from, fabric).Milliseconds);
    }

    [Fact]
    public void Without_rebalancing_the_imbalance_follows_the_windows_and_nothing_moves()
    {
        var result = Compile(p => Rebalance(p, "rebalance off"));
        Assert.True(result.Plan is not null, string.Join("; ", result.Diagnostics));
        var resolver = new MemorySourceResolver(new Dictionary<string, string>(), readRepository: true);
        var (timeline, _) = PlanRebalancing.TimelineOf(result.Plan!, PoolRole.Decode, resolver, result.LoadWindows);
        var placed = PlanPlacement.Place(result.Plan!, PoolRole.Decode, resolver);
        Assert.Equal(0, timeline!.Advance(400_000) - 400_000);
        Assert.Empty(timeline.Events);

        // One change per window start, each the plan's placement measured on that window's loads.
        Assert.Equal([0.0, 50_000, 100_000, 150_000, 200_000], timeline.Changes.Select(c => c.Milliseconds));
        for (int i = 0; i < 5; i++)
        {
            var expected = PlacementMetrics.Compute(result.LoadWindows!.Windows[i].Loads, placed.Placement!).Imbalance;
            Assert.Equal(expected, timeline.Changes[i].Imbalance, 1e-12);
        }
    }

    [Fact]
    public void Periodic_rebalances_happen_on_the_interval_and_stall_for_their_movement()
    {
        var result = Compile();
        var resolver = new MemorySourceResolver(new Dictionary<string, string>(), readRepository: true);
        var (timeline, _) = PlanRebalancing.TimelineOf(result.Plan!, PoolRole.Decode, resolver, result.LoadWindows);
        Assert.Equal(59_999, timeline!.Advance(59_999));
        var resume = timeline.Advance(60_000);
        var first = Assert.Single(timeline.Events);
        Assert.Equal(60_000, first.Milliseconds);
        Assert.True(first.Movement.Milliseconds > 0);
        Assert.Equal(60_000 + first.Movement.Milliseconds, resume);
        timeline.Advance(250_000);
        Assert.Equal([60_000.0, 120_000, 180_000, 240_000], timeline.Events.Select(e => e.Milliseconds));
    }

    [Fact]
    public void A_threshold_rebalances_only_when_the_recorded_imbalance_exceeds_it()
    {
        var never = Compile(p => Rebalance(p, "rebalance when imbalance > 100"));
        var resolver = new MemorySourceResolver(new Dictionary<string, string>(), readRepository: true);
        var (quiet, _) = PlanRebalancing.TimelineOf(never.Plan!, PoolRole.Decode, resolver, never.LoadWindows);
        quiet!.Advance(300_000);
        Assert.Empty(quiet.Events);

        // Every window after the first raises the decode imbalance above 1.1 on the plan's placement.
        var eager = Compile(p => Rebalance(p, "rebalance when imbalance > 1.1"));
        var (busy, _) = PlanRebalancing.TimelineOf(eager.Plan!, PoolRole.Decode, resolver, eager.LoadWindows);
        busy!.Advance(300_000);
        Assert.NotEmpty(busy.Events);
        Assert.All(busy.Events, e => Assert.Equal(0, e.Milliseconds % RebalancePlan.ThresholdCheckMilliseconds));
        Assert.All(busy.Events, e => Assert.True(e.Milliseconds >= 60_000, "the first window is the placement's own loads"));
    }
}

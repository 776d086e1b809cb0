using System.Globalization;
using System.Text;
using MoePlan.Core.Compilation;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Placement;
using MoePlan.Core.Plan;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Placement;

public class PlanPlacementTests
{
    private const string H800 = "plans/deepseek-v3-h800.moe";
    private const string H800Loads = "plans/data/deepseek-v3-sglang-decode_in2000out100.json";
    private const string Pangu = "plans/openpangu-718b-ascend910c.moe";
    private const string Tiny = "plans/qwen1.5-moe-tiny.moe";

    private static string Repo(string path) => File.ReadAllText(RepositoryPaths.PathOf(path.Split('/')));

    /// <summary>Compiles a sample plan, optionally with its text edited and extra in-memory files.</summary>
    private static (DeploymentPlan Plan, MemorySourceResolver Resolver) Compile(string plan, Func<string, string>? edit = null, Dictionary<string, string>? files = null)
    {
        var all = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["plans/common/slo.moe"] = Repo("plans/common/slo.moe"),
            [H800Loads] = Repo(H800Loads),
        };
        foreach (var (path, text) in files ?? [])
        {
            all[path] = text;
        }

        var resolver = new MemorySourceResolver(all);
        var source = Repo(plan);
        var result = PlanCompiler.CompileText(plan, edit is null ? source : edit(source), resolver, throughVerification: true);
        Assert.True(result.Plan is not null, string.Join("; ", result.Diagnostics));
        return (result.Plan!, resolver);
    }

    private static PoolPlacementProblem Problem(DeploymentPlan plan, PoolRole pool, MemorySourceResolver resolver)
    {
        var (problem, diagnostics) = PlanPlacement.ProblemOf(plan, pool, resolver);
        Assert.True(problem is not null, string.Join("; ", diagnostics));
        return problem!;
    }

    /// <summary>A JSON table [[...]] of the given rows x experts; <paramref name="value"/> gives each entry.</summary>
    private static string JsonTable(int rows, int experts, Func<int, int, double> value)
    {
        var text = new StringBuilder("[\n");
        for (var r = 0; r < rows; r++)
        {
            text.Append("  [").AppendJoin(", ", Enumerable.Range(0, experts).Select(e => value(r, e).ToString(CultureInfo.InvariantCulture)))
                .Append(r + 1 < rows ? "],\n" : "]\n");
        }

        return text.Append("]\n").ToString();
    }

    private static Func<string, string> LoadsLine(string replacement) => text =>
    {
        var start = text.IndexOf("    loads ", StringComparison.Ordinal);
        var end = text.IndexOf('\n', start);
        return text[..start] + "    " + replacement + text[end..];
    };

    [Fact]
    public void DeepSeekH800_Decode_Is288SlotsOver144RanksOf8PerNode_WithTheSglangMoeLayers()
    {
        // 256 routed + 32 redundant; decode EP 144 on 8-GPU H800 nodes (one die per package): 18 nodes.
        var (plan, resolver) = Compile(H800);
        var p = Problem(plan, PoolRole.Decode, resolver);
        Assert.Equal(288, p.Problem.PhysicalExperts);
        Assert.Equal(144, p.Problem.Devices);
        Assert.Equal(8, p.Problem.DevicesPerNode);
        Assert.Equal(18, p.Problem.Nodes);
        Assert.Equal(2, p.Problem.SlotsPerDevice);
        Assert.Equal(8, p.Problem.ExpertGroups);
        Assert.False(p.Problem.AllowUneven);
        Assert.Equal(144, p.Problem.MaxReplicasPerExpert);

        // The SGLang file has 61 rows; rows 0-2 are the dense layers (all zero) and are dropped.
        Assert.Equal(256, p.Problem.Experts);
        Assert.Equal(Enumerable.Range(3, 58), p.Problem.Loads.LayerIds);
        Assert.Equal(H800Loads, p.LoadsDescription);
    }

    [Fact]
    public void DeepSeekH800_Prefill_Is288SlotsOver32RanksOn4Nodes()
    {
        var (plan, resolver) = Compile(H800);
        var p = Problem(plan, PoolRole.Prefill, resolver);
        Assert.Equal((288, 32, 8, 4, 9), (p.Problem.PhysicalExperts, p.Problem.Devices, p.Problem.DevicesPerNode, p.Problem.Nodes, p.Problem.SlotsPerDevice));
    }

    [Fact]
    public void Ascend910c_RanksAreDies_SoANodeOf8PackagesHas16Ranks()
    {
        // openPangu: 256 routed + 64 redundant over decode EP 64; 910C has 2 dies per package, 8 packages per node.
        var (plan, resolver) = Compile(Pangu);
        var decode = Problem(plan, PoolRole.Decode, resolver);
        Assert.Equal((320, 64, 16, 4), (decode.Problem.PhysicalExperts, decode.Problem.Devices, decode.Problem.DevicesPerNode, decode.Problem.Nodes));
        Assert.True(decode.Problem.AllowUneven);
        Assert.Equal(1, decode.Problem.ExpertGroups);
        Assert.Equal("synthetic seed 718, decode profile", decode.LoadsDescription);
        Assert.Equal(Enumerable.Range(3, 58), decode.Problem.Loads.LayerIds);

        var prefill = Problem(plan, PoolRole.Prefill, resolver);
        Assert.Equal((320, 32, 16), (prefill.Problem.PhysicalExperts, prefill.Problem.Devices, prefill.Problem.DevicesPerNode));
        Assert.Equal("synthetic seed 718, prefill profile", prefill.LoadsDescription);
        Assert.NotEqual(decode.Problem.Loads.Layer(0).ToArray(), prefill.Problem.Loads.Layer(0).ToArray());
    }

    [Fact]
    public void SyntheticLoads_AreTheGeneratorsWithThePlansSeedAndTheModelsShape()
    {
        var (plan, resolver) = Compile(Pangu);
        var p = Problem(plan, PoolRole.Decode, resolver);
        var (expected, _) = SyntheticExpertLoads.Generate(new SyntheticLoadOptions(58, 256, 718) { FirstLayerId = 3, TopK = 8 });
        Assert.Equal(expected!.Layer(57).ToArray(), p.Problem.Loads.Layer(57).ToArray());
    }

    [Fact]
    public void EpInsideOneNode_MakesOneNodeOfEpRanks()
    {
        // Qwen1.5-MoE: 60 routed + 4 redundant over EP 4; a 910C node has 4 x 2 = 8 ranks, so the 4 ranks share one node.
        var (plan, resolver) = Compile(Tiny);
        var p = Problem(plan, PoolRole.Decode, resolver);
        Assert.Equal((64, 4, 4, 1, 16), (p.Problem.PhysicalExperts, p.Problem.Devices, p.Problem.DevicesPerNode, p.Problem.Nodes, p.Problem.SlotsPerDevice));
        Assert.Equal(Enumerable.Range(0, 24), p.Problem.Loads.LayerIds);
    }

    [Fact]
    public void Caps_ComeFromThePlacementBlock()
    {
        // Uneven with max_redundant_per_device 1: 256 / 64 = 4 base experts + 1; max_redundant_per_expert 2: 3 copies.
        var (plan, resolver) = Compile(Pangu, text => text.Replace("uneven on", "uneven on\n    max_redundant_per_device 1\n    max_redundant_per_expert 2", StringComparison.Ordinal));
        var p = Problem(plan, PoolRole.Decode, resolver);
        Assert.Equal(5, p.Problem.SlotsPerDevice);
        Assert.Equal(3, p.Problem.MaxReplicasPerExpert);
    }

    [Fact]
    public void UniformLoads_OnOneNode_PlaceWithoutImbalance()
    {
        // 60 experts of load 1 in 64 slots on 4 ranks: 4 experts get two half-load copies; each rank can take
        // 14 whole copies and 2 halves = 15 = 60 / 4, the mean. One node: nothing crosses nodes.
        var csv = new StringBuilder("layer,expert,load\n");
        for (var layer = 0; layer < 24; layer++)
        {
            for (var e = 0; e < 60; e++)
            {
                csv.Append(CultureInfo.InvariantCulture, $"{layer},{e},1\n");
            }
        }

        var (plan, resolver) = Compile(Tiny, LoadsLine("loads \"loads/uniform.csv\""), new() { ["plans/loads/uniform.csv"] = csv.ToString() });
        var (metrics, diagnostics) = PlanPlacement.MetricsOf(plan, PoolRole.Decode, resolver);
        Assert.Empty(diagnostics);
        Assert.Equal(1.0, metrics!.Imbalance, 9);
        Assert.Equal(1.0, metrics.WorstLayerImbalance, 9);
        Assert.Equal(0.0, metrics.CrossNodeShare);
        Assert.Equal(24, metrics.Layers.Length);
    }

    [Fact]
    public void MetricsOf_UsesThePlansAlgorithm_AndNeverBeatsTheHeaviestCopy()
    {
        // Lower bound per layer: a rank holding the heaviest expert's copy carries at least load / copies, and no
        // expert has more than 1 + 32 copies; the mean rank load is the layer total / 144.
        var (plan, resolver) = Compile(H800);
        var result = PlanPlacement.Place(plan, PoolRole.Decode, resolver);
        Assert.Equal("moeplan", result.Placement!.Algorithm);
        var loads = result.Problem!.Problem.Loads;
        foreach (var (layer, i) in result.Metrics!.Layers.Select((l, i) => (l, i)))
        {
            var row = loads.Layer(i).ToArray();
            var bound = row.Max() / 33 / (row.Sum() / 144);
            Assert.True(layer.Imbalance >= Math.Max(1.0, bound) - 1e-9, $"layer {layer.LayerId}: {layer.Imbalance} < {bound}");
        }
    }

    [Fact]
    public void AnAlgorithmOverride_ReplacesThePlans()
    {
        var (plan, resolver) = Compile(H800);
        var result = PlanPlacement.Place(plan, PoolRole.Prefill, resolver, "omni");
        Assert.Equal("omni", result.Placement!.Algorithm);
    }

    [Fact]
    public void SixtyOneRows_WithLoadOnADenseLayer_IsMP5116()
    {
        var json = JsonTable(61, 256, (r, e) => r == 1 || r >= 3 ? 1 : 0);
        var (plan, resolver) = Compile(H800, LoadsLine("loads \"loads/dense.json\""), new() { ["plans/loads/dense.json"] = json });
        var (problem, diagnostics) = PlanPlacement.ProblemOf(plan, PoolRole.Decode, resolver);
        Assert.Null(problem);
        var d = Assert.Single(diagnostics, d => d.Code == "MP5116");
        Assert.Equal("plans/loads/dense.json", d.Span!.Value.File);
        Assert.Contains("layer(s) 1 of deepseek-v3", d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RowsThatAreNeitherModelNorMoeLayers_AreMP5113_NamingBothCounts()
    {
        var (plan, resolver) = Compile(H800, LoadsLine("loads \"loads/short.json\""), new() { ["plans/loads/short.json"] = JsonTable(60, 256, (_, _) => 1) });
        var (problem, diagnostics) = PlanPlacement.ProblemOf(plan, PoolRole.Decode, resolver);
        Assert.Null(problem);
        var d = Assert.Single(diagnostics, d => d.Code == "MP5113");
        Assert.Equal("the file has 60 layers but the model has 61 (3 dense, 58 MoE)", d.Message);
        Assert.Equal(("plans/loads/short.json", 1, 1), (d.Span!.Value.File, d.Span.Value.Line, d.Span.Value.Column));
    }

    [Fact]
    public void OneRowPerMoeLayer_IsNumberedAfterTheDenseLayers()
    {
        var (plan, resolver) = Compile(H800, LoadsLine("loads \"loads/moe.json\""), new() { ["plans/loads/moe.json"] = JsonTable(58, 256, (r, e) => r + e) });
        var p = Problem(plan, PoolRole.Decode, resolver);
        Assert.Equal(Enumerable.Range(3, 58), p.Problem.Loads.LayerIds);
        Assert.Equal(57.0 + 255.0, p.Problem.Loads[57, 255]);
    }

    [Fact]
    public void WrongExpertCount_IsMP5113_FromTheReader()
    {
        var (plan, resolver) = Compile(H800, LoadsLine("loads \"loads/narrow.json\""), new() { ["plans/loads/narrow.json"] = JsonTable(58, 128, (_, _) => 1) });
        var (_, diagnostics) = PlanPlacement.ProblemOf(plan, PoolRole.Decode, resolver);
        Assert.Contains(diagnostics, d => d.Code == "MP5113" && d.Message.Contains("128 experts per layer", StringComparison.Ordinal));
    }

    [Fact]
    public void ErrorsInTheLoadFile_CarryTheFilesOwnLineAndColumn()
    {
        var csv = "layer,expert,load\n0,0,1\n0,1,lots\n";
        var (plan, resolver) = Compile(Tiny, LoadsLine("loads \"loads/bad.csv\""), new() { ["plans/loads/bad.csv"] = csv });
        var (problem, diagnostics) = PlanPlacement.ProblemOf(plan, PoolRole.Decode, resolver);
        Assert.Null(problem);
        var d = Assert.Single(diagnostics, d => d.Descriptor == DiagnosticCodes.LoadNotNumeric);
        Assert.Equal(("plans/loads/bad.csv", 3, 5), (d.Span!.Value.File, d.Span.Value.Line, d.Span.Value.Column));
    }

    [Fact]
    public void AMissingLoadFile_IsMP2011_AtThePlansLoadsSetting()
    {
        var (plan, resolver) = Compile(Tiny, LoadsLine("loads \"loads/none.csv\""));
        var (_, diagnostics) = PlanPlacement.ProblemOf(plan, PoolRole.Decode, resolver);
        var d = Assert.Single(diagnostics);
        Assert.Equal("MP2011", d.Code);
        Assert.Contains("plans/loads/none.csv", d.Message, StringComparison.Ordinal);
        var line = Repo(Tiny)[..Repo(Tiny).IndexOf("    loads ", StringComparison.Ordinal)].Count(c => c == '\n') + 1;
        Assert.Equal((Tiny, line), (d.Span!.Value.File, d.Span.Value.Line));
    }

    [Fact]
    public void Overrides_ReplaceThePlansLoads()
    {
        var (plan, resolver) = Compile(Tiny, files: new() { ["elsewhere/moe.json"] = JsonTable(24, 60, (r, e) => e) });
        var file = Problem(plan, PoolRole.Decode, resolver) with { };
        var (fromFile, d1) = PlanPlacement.ProblemOf(plan, PoolRole.Decode, resolver, new LoadFileOverride("elsewhere/moe.json"));
        Assert.Empty(d1);
        Assert.Equal("elsewhere/moe.json", fromFile!.LoadsDescription);
        Assert.Equal(59.0, fromFile.Problem.Loads[0, 59]);

        var (synthetic, d2) = PlanPlacement.ProblemOf(plan, PoolRole.Prefill, resolver, new SyntheticLoadOverride(99));
        Assert.Empty(d2);
        Assert.Equal("synthetic seed 99, prefill profile", synthetic!.LoadsDescription);
        Assert.NotEqual(file.Problem.Loads.Layer(0).ToArray(), synthetic.Problem.Loads.Layer(0).ToArray());
    }
}

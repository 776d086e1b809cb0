using System.Buffers.Binary;
using System.Text;
using MoePlan.Core.Compilation;
using MoePlan.Core.Search;
using MoePlan.Serving.Search;
using MoePlan.Serving.Tests.Simulation;

namespace MoePlan.Serving.Tests.Search;

/// <summary>The files of <c>moeplan search -o DIR</c>: the winners as plans, the frontiers as plots.</summary>
public sealed class SearchFilesTests
{
    [Fact]
    public void Winner_plans_reparse_and_check_from_the_output_folder_with_the_winners_settings_and_no_sweep()
    {
        var report = SearchRunTests.AnalyticReport;
        // A folder that does not exist: the plans are returned, not written.
        var output = SimulationFixtures.PathOf("plans", "search", "winners-not-written");
        var plans = SearchFiles.Plans(report, output);
        Assert.False(Directory.Exists(output));
        Assert.Equal(["deepseek-v3-64xh800-search-01.moe", "deepseek-v3-64xh800-search-02.moe", "deepseek-v3-64xh800-search-03.moe"], plans.Select(p => p.Name));
        for (var i = 0; i < plans.Count; i++)
        {
            var text = Encoding.UTF8.GetString(plans[i].Content);
            // Paths relative to plans/search/ are rewritten relative to plans/search/winners-not-written/.
            Assert.Contains("import \"../../common/slo.moe\"", text, StringComparison.Ordinal);
            Assert.Contains("loads \"../../data/deepseek-v3-sglang-decode_in2000out100.json\"", text, StringComparison.Ordinal);

            var compiled = PlanCompiler.CompileText(Path.Combine(output, plans[i].Name), text, new FolderResolver());
            Assert.False(compiled.HasErrors, string.Join("\n", compiled.Diagnostics));
            var plan = compiled.Plan!;
            Assert.Null(plan.Sweep);
            Assert.Equal(report.Winners[i].Candidate.Replaced.Settings, CandidateSettings.Of(plan));
            // The search capped the cluster at the sweep's 64 devices: 8 nodes of 8 (the base plan has 30).
            Assert.Equal(8, plan.Cluster.Nodes.Value);
        }
    }

    [Fact]
    public void Each_frontier_is_a_900_by_600_png_and_an_svg()
    {
        var plots = SearchFiles.Plots(SearchRunTests.AnalyticReport);
        Assert.Equal(["frontier-throughput-tpot.png", "frontier-throughput-tpot.svg", "frontier-cost-ttft.png", "frontier-cost-ttft.svg"], plots.Select(p => p.Name));
        foreach (var png in plots.Where(p => p.Name.EndsWith(".png", StringComparison.Ordinal)))
        {
            // The signature, then the IHDR chunk: width and height as big-endian 32-bit integers at bytes 16 and 20.
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png.Content[..4]);
            Assert.Equal(900, BinaryPrimitives.ReadInt32BigEndian(png.Content.AsSpan(16)));
            Assert.Equal(600, BinaryPrimitives.ReadInt32BigEndian(png.Content.AsSpan(20)));
        }

        var svg = Encoding.UTF8.GetString(plots[1].Content);
        Assert.Contains("<svg", svg, StringComparison.Ordinal);
        Assert.Contains("deepseek-v3-h800: output tokens/s per rank vs TPOT", svg, StringComparison.Ordinal);
    }
}

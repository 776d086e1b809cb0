using MoePlan.Core.Compilation;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Binding;

public sealed class MissingNodeSizeTests
{
    [Fact]
    public void A_chip_without_a_sourced_node_size_asks_for_devices_per_node_with_a_hint()
    {
        // h200's catalog entry has no devices_per_node (no source in figures.md); the plan must give it.
        const string Plan = "plans/qwen3-235b-h200.moe";
        var text = File.ReadAllText(RepositoryPaths.PathOf("plans", "qwen3-235b-h200.moe"));
        Assert.Contains("devices_per_node 8", text, StringComparison.Ordinal);
        var result = PlanCompiler.CompileText(Plan, text.Replace("devices_per_node 8", "", StringComparison.Ordinal), MemorySourceResolver.FromRepository(Plan), throughVerification: true);
        var missing = Assert.Single(result.Diagnostics, d => d.Code == "MP2020");
        Assert.Equal("`cluster` needs `devices_per_node`", missing.Message);
        Assert.Contains("no sourced node size for h200", missing.Hint, StringComparison.Ordinal);
        Assert.Contains("`devices_per_node 8`", missing.Hint, StringComparison.Ordinal);
    }
}

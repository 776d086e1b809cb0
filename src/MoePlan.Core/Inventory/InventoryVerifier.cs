using System.Collections.Immutable;
using System.Globalization;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Emit;
using MoePlan.Core.Plan;

namespace MoePlan.Core.Inventory;

/// <summary>
/// Checks an inventory against a verified plan: the plan's layout (<see cref="BundleModelBuilder"/>: prefill instances
/// first, node by node) takes the inventory's nodes in order, so every pool's nodes must exist, have the plan's devices
/// per node, and not say they belong to the other pool; hosts and addresses are unique.
/// </summary>
public static class InventoryVerifier
{
    public static ImmutableArray<Diagnostic> Verify(DeploymentPlan plan, ClusterInventory inventory)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(inventory);
        var diagnostics = new List<Diagnostic>();
        var capped = new CappedDiagnostics(diagnostics);
        var hosts = new Dictionary<string, InventoryNode>(StringComparer.Ordinal);
        var addresses = new Dictionary<string, InventoryNode>(StringComparer.Ordinal);
        var devicesPerNode = plan.Cluster.DevicesPerNode.Value;
        foreach (var node in inventory.Nodes)
        {
            if (!hosts.TryAdd(node.Host, node))
            {
                capped.Add(DiagnosticCodes.InventoryDuplicateHost.CreateWithHint(node.SpanOf("host"), "every node is one machine: remove the repeated entry or correct its host",
                    node.Host, hosts[node.Host].Span.Line.ToString(CultureInfo.InvariantCulture)));
            }

            if (!addresses.TryAdd(node.Address, node))
            {
                capped.Add(DiagnosticCodes.InventoryDuplicateAddress.CreateWithHint(node.SpanOf("ip"), "engines reach each node by its address: give each node its own",
                    node.Address, addresses[node.Address].Host));
            }

            if (node.Devices != devicesPerNode)
            {
                capped.Add(DiagnosticCodes.InventoryDeviceMismatch.CreateWithHint(node.SpanOf("devices"),
                    $"list only nodes with {devicesPerNode.ToString(CultureInfo.InvariantCulture)} devices, or change the plan's `devices_per_node`",
                    node.Host, node.Devices.ToString(CultureInfo.InvariantCulture), devicesPerNode.ToString(CultureInfo.InvariantCulture), plan.Hardware.Value.DisplayName));
            }
        }

        var layout = Layout(plan);
        var listed = inventory.Nodes.Length;
        foreach (var role in new[] { PoolRole.Prefill, PoolRole.Decode })
        {
            var used = layout.Where(n => n.Roles.Contains(role)).Select(n => n.Index).ToList();
            if (used.Count > 0 && used[^1] >= listed)
            {
                var span = inventory.Nodes.Length > 0 ? inventory.Nodes[^1].Span : new Text.SourceSpan(inventory.Path, 0, 0, 1, 1);
                capped.Add(DiagnosticCodes.InventoryTooFewNodes.CreateWithHint(span,
                    $"add {(used[^1] + 1 - listed).ToString(CultureInfo.InvariantCulture)} node(s) to the inventory, or fewer or smaller instances to the plan",
                    Name(role), used.Count.ToString(CultureInfo.InvariantCulture), used[^1].ToString(CultureInfo.InvariantCulture), listed.ToString(CultureInfo.InvariantCulture)));
            }
        }

        for (var i = 0; i < Math.Min(listed, layout.Count); i++)
        {
            var node = inventory.Nodes[i];
            if (node.Pool is { } pool && !layout[i].Roles.Contains(pool))
            {
                capped.Add(DiagnosticCodes.InventoryPoolMismatch.CreateWithHint(node.SpanOf("pool"),
                    "the layout fills nodes in order, prefill instances first: list the prefill nodes before the decode nodes",
                    node.Host, Name(pool), string.Join(" and ", layout[i].Roles.Select(Name))));
            }
        }

        if (listed > layout.Count && layout.Count > 0)
        {
            capped.Add(DiagnosticCodes.InventoryUnusedNodes.CreateWithHint(inventory.Nodes[layout.Count].Span, "remove them, or grow the plan to use them",
                (listed - layout.Count).ToString(CultureInfo.InvariantCulture), layout.Count.ToString(CultureInfo.InvariantCulture)));
        }

        return [.. diagnostics];
    }

    /// <summary>The nodes the plan's layout uses, in order, with the pools each runs.</summary>
    public static IReadOnlyList<(int Index, ImmutableArray<PoolRole> Roles)> Layout(DeploymentPlan plan)
    {
        var model = BundleModelBuilder.Build(plan, [], new Dictionary<PoolRole, ImmutableSortedDictionary<string, string>>());
        return model.NodeList
            .Select(n => (n.Index, n.Parts.Select(p => p.Role == "prefill" ? PoolRole.Prefill : PoolRole.Decode).Distinct().Order().ToImmutableArray()))
            .ToList();
    }

    private static string Name(PoolRole role) => role == PoolRole.Prefill ? "prefill" : "decode";
}

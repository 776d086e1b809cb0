using System.Collections.Immutable;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;

namespace MoePlan.Core.Inventory;

/// <summary>The machines a plan runs on (<c>--inventory FILE</c>), in the order the plan's layout fills nodes.</summary>
/// <param name="Path">The file as named on the command line (diagnostics point into it).</param>
public sealed record ClusterInventory(string Path, ImmutableArray<InventoryNode> Nodes);

/// <summary>One machine.</summary>
/// <param name="Host">Its host name (DNS-1123).</param>
/// <param name="Address">Its IPv4 address: engines bind rendezvous sockets to it, so it must be an address, not a name.</param>
/// <param name="Devices">Accelerators on the node.</param>
/// <param name="Nics">Network interfaces for the collective libraries' bootstrap traffic (NCCL/GLOO/HCCL socket interfaces).</param>
/// <param name="IbDevices">RDMA devices (e.g. mlx5_0) for the KV transfer and the all-to-all.</param>
/// <param name="Pool">The pool the node is meant for (prefill, decode), or null when any.</param>
/// <param name="Labels">Kubernetes node labels (node selectors).</param>
/// <param name="Span">Where the node starts in the file.</param>
public sealed record InventoryNode(
    string Host,
    string Address,
    int Devices,
    ImmutableArray<string> Nics,
    ImmutableArray<string> IbDevices,
    PoolRole? Pool,
    ImmutableSortedDictionary<string, string> Labels,
    SourceSpan Span)
{
    /// <summary>Where each key's value starts (host, ip, devices, pool), for diagnostics.</summary>
    public ImmutableDictionary<string, SourceSpan> KeySpans { get; init; } = ImmutableDictionary<string, SourceSpan>.Empty;

    public SourceSpan SpanOf(string key) => KeySpans.TryGetValue(key, out var span) ? span : Span;
}

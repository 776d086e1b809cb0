using System.Collections.Immutable;

namespace MoePlan.Core.Plan;

/// <summary>The proxy's routing policies, by kind; <see cref="RoutingPolicyCatalog"/> gives each its DSL name.</summary>
public enum RoutingPolicyKind
{
    Omni,
    RoundRobin,
    LeastLoad,
    CacheAware,
    GlobalProxy,
    KvCost,

    /// <summary>A C# scheduler script (<c>policy script "x.csx"</c>); MoePlan.Scripting makes those policies.</summary>
    Script,
}

/// <summary>One routing policy: its kind, the name users type, and one line for help text.</summary>
public sealed record RoutingPolicyEntry(RoutingPolicyKind Kind, string Name, string Summary)
{
    /// <summary>True for the script policy, which needs a file (<c>policy script "x.csx"</c> or <c>--scheduler</c>).</summary>
    public bool TakesScript => Kind == RoutingPolicyKind.Script;
}

/// <summary>
/// The one list of routing policies: the binder accepts these names, the search varies the built ones, help text lists
/// them, and the serving project constructs each kind (docs/simulation.md describes what each does).
/// </summary>
public static class RoutingPolicyCatalog
{
    /// <summary>The DSL's name for a scheduler script policy.</summary>
    public const string ScriptName = "script";

    /// <summary>The default policy of a plan.</summary>
    public const string DefaultName = "omni";

    /// <summary>Every policy, in the order <c>--compare-policies</c> prints them; the script policy last.</summary>
    public static ImmutableArray<RoutingPolicyEntry> All { get; } =
    [
        new(RoutingPolicyKind.Omni, DefaultName, "Omni Proxy: prefill to the deepest APC match, then the fewest queued tokens, within the upstreams' caps; decode to the fewest reserved KV tokens"),
        new(RoutingPolicyKind.RoundRobin, "round-robin", "prefill and decode instances in turn (vLLM's disaggregated proxy default)"),
        new(RoutingPolicyKind.LeastLoad, "least-load", "prefill to the fewest queued tokens, decode to the fewest running sequences"),
        new(RoutingPolicyKind.CacheAware, "cache-aware", "SGLang router's cache-aware rule: the best prefix match unless the load is imbalanced"),
        new(RoutingPolicyKind.GlobalProxy, "global-proxy", "Omni-Infer's first-generation Global Proxy: prefix-cache affinity, else score balance"),
        new(RoutingPolicyKind.KvCost, "kv-cost", "NVIDIA Dynamo's KV router: uncached prompt blocks plus active blocks, lowest wins"),
        new(RoutingPolicyKind.Script, ScriptName, "a C# scheduler script (docs/scheduler-scripts.md)"),
    ];

    /// <summary>The built-in policies (every one but the script), in compare order.</summary>
    public static ImmutableArray<RoutingPolicyEntry> Built { get; } = All.Where(p => !p.TakesScript).ToImmutableArray();

    /// <summary>The built-in policies' names, in compare order.</summary>
    public static ImmutableArray<string> BuiltNames { get; } = Built.Select(p => p.Name).ToImmutableArray();

    /// <summary>The name users type for a kind.</summary>
    public static string NameOf(RoutingPolicyKind kind) => All.First(p => p.Kind == kind).Name;

    /// <summary>The policy of that name (ordinal), or null.</summary>
    public static RoutingPolicyEntry? Find(string? name) => All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.Ordinal));
}

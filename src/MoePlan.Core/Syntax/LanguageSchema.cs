using System.Collections.Frozen;
using System.Collections.Immutable;

namespace MoePlan.Core.Syntax;

/// <summary>One setting a block accepts: its name, the block kind of its nested block (if any), and a one-line summary.</summary>
public sealed record SettingSchema(string Name, string? ChildBlock, string Summary);

/// <summary>
/// The setting names each kind of block accepts. The parser needs only the names: a setting's arguments end
/// at the end of its line or at the next name the block accepts, which is what lets
/// <c>parallel { dp 32 ep 32 tp 1 }</c> sit on one line. The binder gives the names their meaning.
/// </summary>
public static class LanguageSchema
{
    public const string Deployment = "deployment";
    public const string Unknown = "unknown";

    public static readonly FrozenDictionary<string, ImmutableArray<SettingSchema>> Blocks = new Dictionary<string, ImmutableArray<SettingSchema>>
    {
        [Deployment] =
        [
            new("engine", null, "target engine: vllm, sglang or omni-infer"),
            new("model", null, "catalog model name, or `from \"config.json\"`"),
            new("precision", "precision", "weight precision (bf16, fp8, int8; nvfp4, mxfp4 on FP4 chips) with per-part overrides in a block"),
            new("hardware", null, "catalog accelerator name"),
            new("cluster", "cluster", "nodes, devices per node, supernode"),
            new("price", null, "price per device-hour, e.g. `2.0usd/device-hour`"),
            new("prefill", "prefill", "the prefill pool"),
            new("decode", "decode", "the decode pool"),
            new("serve", "serve", "the aggregated pool: prefill and decode in the same instances (instead of prefill and decode)"),
            new("placement", "placement", "expert placement"),
            new("proxy", "proxy", "the request proxy (Omni Proxy)"),
            new("slo", "slo", "latency objectives"),
            new("workload", "workload", "the traffic: synthetic or a trace"),
            new("sweep", "sweep", "what `moeplan search` varies around this plan"),
            new("calibration", null, "a profile written by `moeplan calibrate`, e.g. `calibration \"profiles/h100.yaml\"`: the cost model uses its fitted factors"),
        ],
        ["precision"] =
        [
            new("attention", null, "attention projection weights"),
            new("experts", null, "routed and shared expert weights"),
            new("dense", null, "dense FFN layers (embedding and LM head stay bf16)"),
            new("kv_cache", null, "KV cache entries"),
            new("dispatch", null, "all-to-all dispatch payload"),
            new("combine", null, "all-to-all combine payload"),
        ],
        ["cluster"] =
        [
            new("nodes", null, "number of nodes"),
            new("devices_per_node", null, "devices (packages) per node"),
            new("supernode", null, "devices in one scale-up domain (e.g. 384 for CloudMatrix384)"),
            new("scale_up_bandwidth", null, "override: per-device scale-up bandwidth per direction"),
            new("scale_out_bandwidth", null, "override: per-device scale-out bandwidth per direction"),
        ],
        ["prefill"] =
        [
            new("instances", null, "number of prefill instances"),
            new("parallel", "parallel", "per-instance dp / tp / ep sizes"),
            new("max_batch_tokens", null, "tokens per prefill step, `per device`"),
            new("microbatch_overlap", null, "two-batch overlap of communication and compute: on or off"),
        ],
        ["decode"] =
        [
            new("instances", null, "number of decode instances"),
            new("parallel", "parallel", "per-instance dp / tp / ep sizes"),
            new("max_batch", null, "running sequences, `per device`"),
            new("context", null, "KV length per sequence the memory must hold"),
            new("mtp", "mtp", "multi-token prediction: `off`, or a block with draft_tokens and acceptance"),
            new("microbatch_overlap", null, "two-batch overlap of communication and compute: on or off"),
        ],
        ["serve"] =
        [
            new("instances", null, "number of serving instances"),
            new("parallel", "parallel", "per-instance dp / tp / ep sizes"),
            new("max_batch", null, "running sequences, `per device`"),
            new("context", null, "KV length per sequence the memory must hold"),
            new("max_batch_tokens", null, "chunked-prefill budget: tokens per step (decode batch + prefill chunk), `per device`"),
            new("mtp", "mtp", "multi-token prediction: `off`, or a block with draft_tokens and acceptance"),
            new("microbatch_overlap", null, "two-batch overlap of communication and compute: on or off"),
        ],
        ["parallel"] =
        [
            new("dp", null, "data-parallel attention ranks per instance"),
            new("tp", null, "tensor-parallel size per instance"),
            new("ep", null, "expert-parallel size per instance"),
        ],
        ["mtp"] =
        [
            new("draft_tokens", null, "draft tokens per decode step"),
            new("acceptance", null, "acceptance rate of a draft token (0-1 or %)"),
        ],
        ["placement"] =
        [
            new("algorithm", null, "eplb-hierarchical, eplb-global, omni or moeplan"),
            new("redundant_experts", null, "extra expert replicas per MoE layer"),
            new("loads", null, "load statistics file, or `synthetic seed N`"),
            new("loads_over_time", null, "load windows file for the serving simulation: one `DURATION FILE` line per window"),
            new("rebalance", null, "during serving: `off`, `every DURATION` or `when imbalance > X`, then optionally `with eplb|moeplan`"),
            new("uneven", null, "allow different expert counts per device: on or off"),
            new("max_redundant_per_expert", null, "cap on replicas of one expert (omni)"),
            new("max_redundant_per_device", null, "cap on redundant slots of one device (omni)"),
        ],
        ["proxy"] =
        [
            new("mode", null, "P/D mode: sequential (vLLM) or parallel (SGLang)"),
            new("policy", null, "scheduling policy name, or `script \"file.csx\"`"),
            new("apc", null, "automatic-prefix-cache-aware routing: on or off"),
            new("tokenizer_reuse", null, "tokenise once at the proxy: on or off"),
            new("workers", null, "proxy worker processes (default 1)"),
            new("worker_state", null, "how workers see the deployment: shared (one master, Omni Proxy) or independent (each its own view, nginx)"),
        ],
        ["slo"] =
        [
            new("ttft", null, "time to first token, e.g. `p99 < 2s`"),
            new("tpot", null, "time per output token, e.g. `p99 < 50ms`"),
        ],
        ["workload"] =
        [
            new("trace", null, "trace file, `format mooncake` or `format azure`"),
            new("arrivals", null, "`poisson RATE` or `constant RATE`"),
            new("input", "distribution", "input length: `fixed N`, or `uniform`/`lognormal` with a block"),
            new("output", "distribution", "output length: `fixed N`, or `uniform`/`lognormal` with a block"),
            new("prefix_share", null, "share of input tokens that hit a cached prefix (0-1 or %)"),
            new("requests", null, "number of synthetic requests"),
            new("seed", null, "seed of the synthetic workload"),
        ],
        ["distribution"] =
        [
            new("mean", null, "mean tokens"),
            new("sd", null, "standard deviation of tokens"),
            new("min", null, "smallest length"),
            new("max", null, "largest length"),
        ],
        ["sweep"] =
        [
            new("devices", null, "devices a candidate may use (whole nodes); default the cluster"),
            new("prefill.instances", null, "prefill instance counts to try"),
            new("prefill.dp", null, "prefill dp sizes"),
            new("prefill.tp", null, "prefill tp sizes"),
            new("prefill.ep", null, "prefill ep sizes, or `dp` for the same as dp"),
            new("prefill.max_batch_tokens", null, "prefill tokens per step per device"),
            new("prefill.overlap", null, "prefill microbatch overlap: on, off"),
            new("decode.instances", null, "decode instance counts to try"),
            new("decode.dp", null, "decode dp sizes"),
            new("decode.tp", null, "decode tp sizes"),
            new("decode.ep", null, "decode ep sizes, or `dp` for the same as dp"),
            new("decode.max_batch", null, "decode sequences per device"),
            new("decode.mtp", null, "multi-token prediction: on, off"),
            new("decode.overlap", null, "decode microbatch overlap: on, off"),
            new("placement.redundant_experts", null, "redundant expert counts"),
            new("proxy.mode", null, "proxy modes: sequential, parallel"),
            new("proxy.policy", null, "proxy policies, e.g. omni round-robin"),
            new("mode", null, "serving forms: disaggregated (prefill and decode pools), aggregated (one serve pool of the decode pool's shape)"),
        ],
        [Unknown] = [],
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, FrozenSet<string>> NameSets =
        Blocks.ToFrozenDictionary(b => b.Key, b => b.Value.Select(s => s.Name).ToFrozenSet(StringComparer.Ordinal), StringComparer.Ordinal);

    public static FrozenSet<string> SettingNames(string blockKind) => NameSets[blockKind];

    /// <summary>The kind of the block that may follow <paramref name="settingName"/> in a block of kind <paramref name="blockKind"/>.</summary>
    public static string ChildBlockKind(string blockKind, string settingName) =>
        Blocks[blockKind].FirstOrDefault(s => s.Name == settingName)?.ChildBlock ?? Unknown;
}

using MoePlan.Core.Cost;
using MoePlan.Core.Plan;

namespace MoePlan.Serving.Simulation;

/// <summary>
/// The serving deployment the simulation runs, in instance terms, derived from a compiled plan.
/// </summary>
/// <param name="PrefillTokenCap">Prompt tokens one prefill step of an instance computes at most: max_batch_tokens x devices
/// (aggregated: the whole step's budget, decode tokens first).</param>
/// <param name="PrefixCacheBlocks">512-token blocks the prefix cache of one prefill instance holds: its spare HBM after weights, batch KV, activations and buffers.</param>
/// <param name="DecodeSequenceCap">Running sequences per decode instance: max_batch x devices.</param>
/// <param name="DecodeTokenCap">KV tokens per decode instance: the sequence cap x context.</param>
/// <param name="TokensPerStep">Tokens a decode step yields per sequence: 1 + MTP acceptance x draft tokens (expected value).</param>
/// <param name="KvTransferMillisecondsPerToken">One prompt token's KV (all layers) over one rank's scale-out NIC at the family's scale-out efficiency.</param>
/// <param name="TokenizeMillisecondsPerToken">Tokenisation cost; counted once with tokenizer reuse, twice without.</param>
public sealed record ServingConfig(
    int PrefillInstances,
    int PrefillTokenCap,
    long PrefixCacheBlocks,
    int DecodeInstances,
    int DecodeSequenceCap,
    double DecodeTokenCap,
    double TokensPerStep,
    double KvTransferMillisecondsPerToken,
    int Layers,
    ProxyMode Mode,
    bool ApcAware,
    bool TokenizerReuse,
    double TokenizeMillisecondsPerToken,
    SloTarget? TtftSlo,
    SloTarget? TpotSlo)
{
    /// <summary>
    /// Scale-out links a prefill instance sends KV over at once: one per data-parallel group (each group's KV leaves
    /// from its own ranks' NICs). A transfer holds one link at each end for its whole duration (docs/simulation.md).
    /// </summary>
    public int PrefillNicLinks { get; init; } = 1;

    /// <summary>Scale-out links a decode instance receives KV over at once: one per data-parallel group.</summary>
    public int DecodeNicLinks { get; init; } = 1;

    /// <summary>Proxy worker processes; with <see cref="ProxyWorkerState.Independent"/> each routes every N-th request.</summary>
    public int ProxyWorkers { get; init; } = 1;

    public ProxyWorkerState WorkerState { get; init; } = ProxyWorkerState.Shared;

    /// <summary>
    /// Aggregated serving (<c>serve { }</c>): instance i is prefill instance i and decode instance i at once, each step
    /// carries the decode batch and prompt chunks in <see cref="PrefillTokenCap"/>, and no KV moves.
    /// </summary>
    public bool Aggregated { get; init; }

    /// <summary>Tokens a decode step computes per sequence: 1 + MTP draft tokens (they share an aggregated step's budget).</summary>
    public int DecodeTokensPerSequence { get; init; } = 1;

    /// <summary>
    /// Assumed tokenisation cost: 1 us per token (about a million tokens per second on one CPU core, the order
    /// of Hugging Face's Rust tokenizers on English text). An assumption, not a measurement.
    /// </summary>
    public const double AssumedTokenizeMillisecondsPerToken = 1e-3;

    public static ServingConfig FromPlan(DeploymentPlan plan)
    {
        var a = plan.Model.Entry.Architecture;
        var hardware = plan.Hardware.Value;
        var machine = PlanCostModel.Machine(plan);
        var prefill = plan.Prefill;
        var decode = plan.Decode;
        double dies = Math.Max(1, hardware.DiesPerPackage);
        double prefillDevices = prefill.Parallel.Ranks / dies;
        double decodeDevices = decode.Parallel.Ranks / dies;

        // Spare HBM of a prefill instance holds the prefix cache; a token's KV sits on every rank of its TP group.
        var footprint = MemoryModel.Compute(plan, prefill);
        double sparePerRank = Math.Max(0, footprint.UsableBytes - footprint.TotalBytes);
        int tp = prefill.Parallel.TensorParallel.Value;
        double kvPerTokenPerRank = MemoryModel.KvBytesPerToken(a, plan.Precision.KvCache.Value, tp, false);
        double cacheTokens = kvPerTokenPerRank > 0 ? sparePerRank * prefill.Parallel.Ranks / (kvPerTokenPerRank * tp) : 0;

        int sequenceCap = (int)Math.Max(1, Math.Floor(decode.MaxBatchPerDevice!.Value.Value * decodeDevices));
        double kvBytesPerToken = MemoryModel.KvBytesPerToken(a, plan.Precision.KvCache.Value, 1, false);
        return new ServingConfig(
            prefill.Instances.Value,
            (int)Math.Max(1, Math.Floor(prefill.MaxBatchTokensPerDevice!.Value.Value * prefillDevices)),
            (long)Math.Floor(cacheTokens / MoePlan.Core.Workloads.ArrivingRequest.BlockTokens),
            decode.Instances.Value,
            sequenceCap,
            (double)sequenceCap * decode.ContextTokens!.Value.Value,
            decode.Mtp?.TokensPerStep ?? 1,
            plan.IsAggregated ? 0 : kvBytesPerToken / (machine.ScaleOutBytesPerSecond * machine.Efficiency.ScaleOutEfficiency) * 1e3,
            a.Layers,
            plan.Proxy.Mode.Value,
            plan.Proxy.Apc.Value,
            plan.Proxy.TokenizerReuse.Value,
            AssumedTokenizeMillisecondsPerToken,
            plan.Slo.Ttft,
            plan.Slo.Tpot)
        {
            PrefillNicLinks = prefill.Parallel.DataParallel.Value,
            DecodeNicLinks = decode.Parallel.DataParallel.Value,
            ProxyWorkers = plan.Proxy.Workers?.Value ?? 1,
            WorkerState = plan.Proxy.WorkerState?.Value ?? ProxyWorkerState.Shared,
            Aggregated = plan.IsAggregated,
            DecodeTokensPerSequence = 1 + (decode.Mtp?.DraftTokens.Value ?? 0),
        };
    }

    /// <summary>
    /// A decode instance with <paramref name="allocated"/> sequences and <paramref name="reservedTokens"/> KV tokens reserved
    /// can take a request needing <paramref name="requestTokens"/> more: a free sequence slot and KV room. The one rule the
    /// simulation and the live proxy both apply.
    /// </summary>
    public bool DecodeHasRoom(int allocated, double reservedTokens, double requestTokens) =>
        allocated < DecodeSequenceCap && reservedTokens + requestTokens <= DecodeTokenCap;

    /// <summary>Proxy-side time before routing: tokenisation once (reuse) or twice (proxy and engine).</summary>
    public double TokenizeMilliseconds(int inputTokens) => inputTokens * TokenizeMillisecondsPerToken * (TokenizerReuse ? 1 : 2);
}

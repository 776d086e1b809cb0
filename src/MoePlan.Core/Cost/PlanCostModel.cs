using MoePlan.Core.Catalog;
using MoePlan.Core.Plan;
using MoePlan.Core.Workloads;

namespace MoePlan.Core.Cost;

/// <summary>How to evaluate a plan beyond what the plan says.</summary>
/// <param name="PrefillImbalance">The prefill pool's placement imbalance (max/mean device load) from the placement stage; null takes <see cref="PlanCostModel.DefaultStaticImbalance"/>.</param>
/// <param name="DecodeImbalance">The same for the decode pool.</param>
/// <param name="PerfectBalance">Model perfectly balanced experts (no placement imbalance, no per-step spread), as SGLang's "simulated perfect EPLB".</param>
/// <param name="Efficiency">Efficiency factors to use instead of the hardware family's (calibration studies).</param>
/// <param name="Lengths">Request lengths measured from the plan's trace; a trace workload has no others.</param>
public sealed record CostOptions(
    double? PrefillImbalance = null,
    double? DecodeImbalance = null,
    bool PerfectBalance = false,
    EfficiencyFactors? Efficiency = null,
    WorkloadLengths? Lengths = null)
{
    public static readonly CostOptions Default = new();
}

public sealed record PrefillCost(
    StepCost Step,
    double InputTokensPerRequest,
    double ComputedTokensPerRequest,
    double TtftMilliseconds,
    double KvTransferMilliseconds,
    double ComputedTokensPerSecondPerRank,
    double InputTokensPerSecondPerRank);

public sealed record DecodeCost(
    StepCost Step,
    double BatchPerRank,
    double KvLength,
    double TokensPerStep,
    double TpotMilliseconds,
    double OutputTokensPerSecondPerRank);

/// <summary>
/// The mixed step of an aggregated (<c>serve</c>) pool: each step runs the whole decode batch plus a chunk of prompt
/// tokens, the rest of the chunked-prefill budget (docs/cost-model.md#aggregated-serving).
/// </summary>
/// <param name="Step">The balanced step: a full decode batch and the prompt chunk that keeps it full (TPOT, throughput).</param>
/// <param name="FullChunkStep">The step with the whole rest of the budget in prompt tokens: a prompt's chunks run in it (TTFT).</param>
/// <param name="DecodeTokensPerRank">Decode tokens of a data-parallel rank per step: sequences x (1 + draft tokens).</param>
/// <param name="ChunkTokensPerRank">Prompt tokens of a data-parallel rank in the balanced step.</param>
/// <param name="FullChunkTokensPerRank">The budget less the decode tokens: the most prompt tokens a step takes.</param>
/// <param name="StepsToFirstToken">Full-chunk steps that prefill one prompt's computed tokens.</param>
public sealed record ServeCost(StepCost Step, StepCost FullChunkStep, double DecodeTokensPerRank, double ChunkTokensPerRank,
    double FullChunkTokensPerRank, int StepsToFirstToken);

/// <summary>Serving-level figures of a plan: both phases, the P:D balance, goodput and cost.</summary>
/// <param name="PrefillToDecodeDeviceRatio">Prefill devices per decode device that balance the workload's token mix.</param>
/// <param name="GoodputRequestsPerSecond">Requests per second the deployment serves within its SLOs (0 when a predicted latency misses its SLO).</param>
public sealed record CostReport(
    PrefillCost Prefill,
    DecodeCost Decode,
    int DiesPerPackage,
    double PrefillToDecodeDeviceRatio,
    double PrefillCapacityRequestsPerSecond,
    double DecodeCapacityRequestsPerSecond,
    double GoodputRequestsPerSecond,
    bool TtftMeetsSlo,
    bool TpotMeetsSlo,
    double? UsdPerMillionInputTokens,
    double? UsdPerMillionOutputTokens)
{
    /// <summary>The mixed step of an aggregated plan; null for prefill and decode pools. <see cref="Prefill"/> and
    /// <see cref="Decode"/> then both carry that step: TTFT from its chunks, TPOT from its decode batch.</summary>
    public ServeCost? Serve { get; init; }

    /// <summary>The same figures as values, without the op breakdown (what search ranks on).</summary>
    public CostFigures Figures { get; init; }

    /// <summary>The interval each figure is stated with (docs/cost-model.md, "Stated uncertainty"); null when not computed.</summary>
    public CostIntervals? Intervals { get; init; }
}

/// <summary>The prefill figures of <see cref="PrefillCost"/> without the op breakdown.</summary>
public readonly record struct PrefillFigures(
    StepTotals Step,
    double InputTokensPerRequest,
    double ComputedTokensPerRequest,
    double TtftMilliseconds,
    double KvTransferMilliseconds,
    double ComputedTokensPerSecondPerRank,
    double InputTokensPerSecondPerRank);

/// <summary>The decode figures of <see cref="DecodeCost"/> without the op breakdown.</summary>
public readonly record struct DecodeFigures(
    StepTotals Step,
    double BatchPerRank,
    double KvLength,
    double TokensPerStep,
    double TpotMilliseconds,
    double OutputTokensPerSecondPerRank);

/// <summary>The mixed-step figures of <see cref="ServeCost"/>; its two steps are the figures' decode (balanced) and prefill (full-chunk) steps.</summary>
public readonly record struct ServeFigures(double DecodeTokensPerRank, double ChunkTokensPerRank, double FullChunkTokensPerRank, int StepsToFirstToken);

/// <summary>
/// Every figure of a <see cref="CostReport"/> but the op breakdown, as values: what the search ranks candidates on.
/// <see cref="CostEvaluator"/> computes it without allocating.
/// </summary>
public readonly record struct CostFigures(
    PrefillFigures Prefill,
    DecodeFigures Decode,
    int DiesPerPackage,
    double PrefillToDecodeDeviceRatio,
    double PrefillCapacityRequestsPerSecond,
    double DecodeCapacityRequestsPerSecond,
    double GoodputRequestsPerSecond,
    bool TtftMeetsSlo,
    bool TpotMeetsSlo,
    double? UsdPerMillionInputTokens,
    double? UsdPerMillionOutputTokens,
    ServeFigures? Serve);

/// <summary>
/// Evaluates plans one after another without allocating (the design-space search's inner loop): the steps' ops go
/// into buffers it keeps, the parameter breakdown is counted once per model. One per thread.
/// </summary>
public sealed class CostEvaluator
{
    private ModelArchitecture? _architecture;
    private ParameterBreakdown? _parameters;

    /// <summary>The prefill (or full-chunk) step's ops of the last evaluation.</summary>
    public OpCostBuffer PrefillOps { get; } = new();

    /// <summary>The decode (or balanced mixed) step's ops of the last evaluation.</summary>
    public OpCostBuffer DecodeOps { get; } = new();

    public CostFigures Evaluate(DeploymentPlan plan, CostOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var a = plan.Model.Entry.Architecture;
        if (!ReferenceEquals(a, _architecture))
        {
            _parameters = ParameterCounter.Count(a);
            _architecture = a;
        }

        return PlanCostModel.Figures(plan, options ?? CostOptions.Default, _parameters!, PrefillOps, DecodeOps);
    }
}

/// <summary>Evaluates a verified plan with <see cref="StepCostModel"/> (docs/cost-model.md).</summary>
public static class PlanCostModel
{
    /// <summary>
    /// Placement imbalance when no placement was run: eplb-global's result on SGLang's measured DeepSeek-V3
    /// decode loads, 256 + 32 slots over 96 devices (docs/placement.md): 1.04.
    /// </summary>
    public const double DefaultStaticImbalance = 1.04;

    public static CostReport Evaluate(DeploymentPlan plan, CostOptions? options = null)
    {
        var evaluator = new CostEvaluator();
        var f = evaluator.Evaluate(plan, options);
        var prefillStep = f.Prefill.Step.WithOps(evaluator.PrefillOps.ToImmutable());
        var decodeStep = f.Decode.Step.WithOps(evaluator.DecodeOps.ToImmutable());
        var (pf, df) = (f.Prefill, f.Decode);
        return new CostReport(
            new PrefillCost(prefillStep, pf.InputTokensPerRequest, pf.ComputedTokensPerRequest, pf.TtftMilliseconds, pf.KvTransferMilliseconds,
                pf.ComputedTokensPerSecondPerRank, pf.InputTokensPerSecondPerRank),
            new DecodeCost(decodeStep, df.BatchPerRank, df.KvLength, df.TokensPerStep, df.TpotMilliseconds, df.OutputTokensPerSecondPerRank),
            f.DiesPerPackage,
            f.PrefillToDecodeDeviceRatio,
            f.PrefillCapacityRequestsPerSecond,
            f.DecodeCapacityRequestsPerSecond,
            f.GoodputRequestsPerSecond,
            f.TtftMeetsSlo,
            f.TpotMeetsSlo,
            f.UsdPerMillionInputTokens,
            f.UsdPerMillionOutputTokens)
        {
            Serve = f.Serve is { } serve
                ? new ServeCost(decodeStep, prefillStep, serve.DecodeTokensPerRank, serve.ChunkTokensPerRank, serve.FullChunkTokensPerRank, serve.StepsToFirstToken)
                : null,
            Figures = f,
        };
    }

    /// <summary>The figures of <see cref="Evaluate"/>; the steps' ops are written into the two buffers.</summary>
    internal static CostFigures Figures(DeploymentPlan plan, CostOptions options, ParameterBreakdown p, OpCostBuffer prefillOps, OpCostBuffer decodeOps)
    {
        var a = plan.Model.Entry.Architecture;
        var hardware = plan.Hardware.Value;
        var dies = hardware.DiesPerPackage;
        var machine = Machine(plan);
        if (options.Efficiency is { } efficiency)
        {
            machine = machine with { Efficiency = efficiency };
        }

        var slots = a.RoutedExperts + plan.Placement.RedundantExperts.Value;

        var workload = plan.Workload;
        var (input, inputSecondMoment, output, measuredShare) = options.Lengths is { } lengths
            ? (lengths.MeanInputTokens, lengths.InputSecondMoment, lengths.MeanOutputTokens, lengths.PrefixShare)
            : workload.Input is { } i && workload.Output is { } o
            ? (i.Mean, i.SecondMoment, o.Mean, 0)
            : throw new ArgumentException("a trace workload is costed with the lengths measured from its trace (PlanCostEvaluation does that)", nameof(options));
        // A trace's prefix share is measured from its block ids; a synthetic workload states its own.
        var share = workload.Trace is not null ? measuredShare : workload.PrefixShare.Value;

        // Long prompts carry more of the tokens and attend further: weight the context by tokens, E[L^2] / E[L].
        var tokenWeightedInput = inputSecondMoment / input;

        if (plan.Serving is { } serve)
        {
            return Aggregated(plan, serve, options, a, p, machine, slots, input, output, tokenWeightedInput, share, prefillOps, decodeOps);
        }

        // Prefill: each computed token attends to the cached prefix and, causally, half of the new tokens.
        var prefill = plan.Prefill;
        var prefillTokens = MemoryModel.TokensPerDataParallelRank(prefill, hardware);
        var computedPerRequest = input * (1 - share);
        var prefillShape = new StepShape(PoolRole.Prefill, prefillTokens, prefillTokens / Math.Max(1, computedPerRequest),
            tokenWeightedInput * (share + ((1 - share) / 2)), prefill.Parallel.TensorParallel.Value, prefill.Parallel.DataParallel.Value, prefill.Parallel.ExpertParallel.Value,
            slots, options.PrefillImbalance ?? DefaultStaticImbalance, prefill.MicrobatchOverlap.Value, 0);
        var prefillStep = Step(a, p, plan, prefillShape, machine, options, prefillOps);
        // A TP group of ranks computes the same tokens: per rank, divide by TP.
        var computedPerRank = prefillTokens / prefill.Parallel.TensorParallel.Value / (prefillStep.StepMilliseconds / 1e3);

        // Decode: each sequence verifies its draft tokens in the same step; KV grows over the output.
        var decode = plan.Decode;
        var draft = decode.Mtp?.DraftTokens.Value ?? 0;
        var tokensPerStep = decode.Mtp?.TokensPerStep ?? 1;
        var batchPerRank = MemoryModel.SequencesPerDataParallelRank(decode, hardware);
        var kvLength = input + (output / 2);
        var decodeShape = new StepShape(PoolRole.Decode, batchPerRank * (1 + draft), batchPerRank, kvLength,
            decode.Parallel.TensorParallel.Value, decode.Parallel.DataParallel.Value, decode.Parallel.ExpertParallel.Value, slots, options.DecodeImbalance ?? DefaultStaticImbalance,
            decode.MicrobatchOverlap.Value, draft);
        var decodeStep = Step(a, p, plan, decodeShape, machine, options, decodeOps);
        var outputPerRank = batchPerRank / decode.Parallel.TensorParallel.Value * tokensPerStep / (decodeStep.StepMilliseconds / 1e3);
        var tpot = decodeStep.StepMilliseconds / tokensPerStep;

        // KV of the prompt crosses from prefill to decode over the scale-out NIC; parallel mode pushes it layer by
        // layer during prefill, sequential mode pulls it afterwards.
        var kvBytes = input * MemoryModel.KvBytesPerToken(a, plan.Precision.KvCache.Value, 1, false);
        var kvTransfer = kvBytes / (machine.ScaleOutBytesPerSecond * machine.Efficiency.ScaleOutEfficiency) * 1e3;
        var exposedTransfer = plan.Proxy.Mode.Value == ProxyMode.Sequential ? kvTransfer : 0;

        // A request arriving at a busy instance waits half a step on average, then its own step, then the
        // transfer and the first decode step.
        var ttft = (1.5 * prefillStep.StepMilliseconds) + exposedTransfer + decodeStep.StepMilliseconds;

        var prefillDevices = (double)prefill.Instances.Value * prefill.Parallel.Ranks;
        var decodeDevices = (double)decode.Instances.Value * decode.Parallel.Ranks;
        var prefillRankSecondsPerRequest = computedPerRequest / computedPerRank;
        var decodeRankSecondsPerRequest = output / outputPerRank;
        var prefillCapacity = prefillDevices / prefillRankSecondsPerRequest;
        var decodeCapacity = decodeDevices / decodeRankSecondsPerRequest;

        var (ttftOk, tpotOk, goodput) = Goodput(plan, ttft, tpot, Math.Min(prefillCapacity, decodeCapacity));

        double? inputCost = null;
        double? outputCost = null;
        if (plan.PriceUsdPerDeviceHour is { } price)
        {
            var usdPerRankSecond = price.Value / dies / 3600;
            inputCost = usdPerRankSecond / (computedPerRank / Math.Max(1e-9, 1 - share)) * 1e6;
            outputCost = usdPerRankSecond / outputPerRank * 1e6;
        }

        return new CostFigures(
            new PrefillFigures(prefillStep, input, computedPerRequest, ttft, kvTransfer, computedPerRank, computedPerRank / Math.Max(1e-9, 1 - share)),
            new DecodeFigures(decodeStep, batchPerRank / decode.Parallel.TensorParallel.Value, kvLength, tokensPerStep, tpot, outputPerRank),
            dies,
            prefillRankSecondsPerRequest / decodeRankSecondsPerRequest,
            prefillCapacity,
            decodeCapacity,
            goodput,
            ttftOk,
            tpotOk,
            inputCost,
            outputCost,
            null);
    }

    /// <summary>Whether the predictions meet the SLOs, and the goodput: the offered rate up to capacity (capacity when no
    /// rate is given) if both are met, else 0.</summary>
    private static (bool TtftOk, bool TpotOk, double Goodput) Goodput(DeploymentPlan plan, double ttft, double tpot, double capacity)
    {
        var ttftOk = plan.Slo.Ttft is not { } ttftSlo || ttft <= ttftSlo.Milliseconds;
        var tpotOk = plan.Slo.Tpot is not { } tpotSlo || tpot <= tpotSlo.Milliseconds;
        var offered = plan.Workload.Arrivals?.RatePerSecond ?? capacity;
        return (ttftOk, tpotOk, ttftOk && tpotOk ? Math.Min(capacity, offered) : 0);
    }

    /// <summary>
    /// One pool that prefills and decodes in the same steps (chunked prefill, continuous batching). Each step of a
    /// data-parallel rank computes its decode batch (sequences x (1 + draft)) and a chunk of prompt tokens within the
    /// <c>max_batch_tokens</c> budget. Saturated, the batch is full and the chunk carries the prompts that keep it full:
    /// sequences x tokens per step / output x computed prompt tokens, at most the budget's rest (the balanced step; TPOT,
    /// throughput, capacities). TTFT: a request waits half a step, then its prompt's computed tokens go through the
    /// whole rest of the budget per step (the full-chunk step, no queueing) in ceil(tokens / chunk) steps, the last of
    /// which samples the first token.
    /// </summary>
    private static CostFigures Aggregated(DeploymentPlan plan, PoolPlan serve, CostOptions options, ModelArchitecture a, ParameterBreakdown p,
        StepMachine machine, int slots, double input, double output, double tokenWeightedInput, double share, OpCostBuffer fullChunkOps, OpCostBuffer balancedOps)
    {
        var hardware = plan.Hardware.Value;
        var tp = serve.Parallel.TensorParallel.Value;
        var draft = serve.Mtp?.DraftTokens.Value ?? 0;
        var tokensPerStep = serve.Mtp?.TokensPerStep ?? 1;
        var batchPerRank = MemoryModel.SequencesPerDataParallelRank(serve, hardware);
        var budgetPerRank = MemoryModel.TokensPerDataParallelRank(serve, hardware);
        var decodeTokens = batchPerRank * (1 + draft);
        // The verifier rejects a budget at or below the decode batch (MP3021); a floor of one token keeps this total.
        var fullChunk = Math.Max(1, budgetPerRank - decodeTokens);
        var computedPerRequest = input * (1 - share);
        var balancedChunk = Math.Min(fullChunk, batchPerRank * tokensPerStep / Math.Max(1, output) * computedPerRequest);
        var kvLength = input + (output / 2);
        StepTotals MixedStep(double chunk, OpCostBuffer ops) => Step(a, p, plan, new StepShape(PoolRole.Decode, decodeTokens + chunk, batchPerRank, kvLength, tp,
            serve.Parallel.DataParallel.Value, serve.Parallel.ExpertParallel.Value, slots, options.DecodeImbalance ?? DefaultStaticImbalance,
            serve.MicrobatchOverlap.Value, draft, ChunkTokensPerRank: chunk, ChunkContext: tokenWeightedInput * (share + ((1 - share) / 2)),
            ChunkSequencesPerRank: chunk / Math.Max(1, computedPerRequest)), machine, options, ops);
        var step = MixedStep(balancedChunk, balancedOps);
        var fullStep = MixedStep(fullChunk, fullChunkOps);
        var stepSeconds = step.StepMilliseconds / 1e3;

        // A TP group of ranks computes the same tokens: per rank, divide by TP.
        var outputPerRank = batchPerRank / tp * tokensPerStep / stepSeconds;
        var tpot = step.StepMilliseconds / tokensPerStep;
        var stepsToFirstToken = (int)Math.Max(1, Math.Ceiling(computedPerRequest / fullChunk));
        var ttft = (0.5 * step.StepMilliseconds) + (stepsToFirstToken * fullStep.StepMilliseconds);

        // Prompt capacity: every step a full chunk beside the full decode batch (the full-chunk step); decode capacity:
        // the balanced step. Step time grows less than its tokens, so while the balanced chunk is below the full one the
        // prompt capacity is above the decode capacity, and the smaller names the limit.
        var ranks = (double)serve.Instances.Value * serve.Parallel.Ranks;
        var computedPerRank = fullChunk / tp / (fullStep.StepMilliseconds / 1e3);
        var prefillRankSecondsPerRequest = computedPerRequest / computedPerRank;
        var decodeRankSecondsPerRequest = output / outputPerRank;
        var prefillCapacity = ranks / prefillRankSecondsPerRequest;
        var decodeCapacity = ranks / decodeRankSecondsPerRequest;

        var (ttftOk, tpotOk, goodput) = Goodput(plan, ttft, tpot, Math.Min(prefillCapacity, decodeCapacity));

        double? inputCost = null;
        double? outputCost = null;
        if (plan.PriceUsdPerDeviceHour is { } price)
        {
            // The balanced step's time is split between prompt and output tokens in proportion to the tokens it computes.
            var usdPerRankSecond = price.Value / hardware.DiesPerPackage / 3600;
            var inputShare = balancedChunk / (balancedChunk + decodeTokens);
            var inputPerRank = balancedChunk / tp / stepSeconds / Math.Max(1e-9, 1 - share);
            inputCost = usdPerRankSecond * inputShare / inputPerRank * 1e6;
            outputCost = usdPerRankSecond * (1 - inputShare) / outputPerRank * 1e6;
        }

        return new CostFigures(
            new PrefillFigures(fullStep, input, computedPerRequest, ttft, 0, computedPerRank, computedPerRank / Math.Max(1e-9, 1 - share)),
            new DecodeFigures(step, batchPerRank / tp, kvLength, tokensPerStep, tpot, outputPerRank),
            hardware.DiesPerPackage,
            prefillRankSecondsPerRequest / decodeRankSecondsPerRequest,
            prefillCapacity,
            decodeCapacity,
            goodput,
            ttftOk,
            tpotOk,
            inputCost,
            outputCost,
            new ServeFigures(decodeTokens, balancedChunk, fullChunk, stepsToFirstToken));
    }

    private static StepTotals Step(ModelArchitecture a, ParameterBreakdown p, DeploymentPlan plan, StepShape shape, StepMachine machine, CostOptions options, OpCostBuffer ops) =>
        StepCostModel.Totals(a, p, plan.Precision, shape with { PerfectBalance = options.PerfectBalance }, machine, ops);

    /// <summary>Per-rank rates of the plan's hardware at the experts' precision, and its fabric.</summary>
    public static StepMachine Machine(DeploymentPlan plan)
    {
        var h = plan.Hardware.Value;
        var dies = h.DiesPerPackage;
        var peak = plan.Precision.Experts.Value switch
        {
            NumericFormat.Fp8 => h.Fp8TeraFlopsPerPackage,
            NumericFormat.Int8 => h.Int8TeraOpsPerPackage,
            NumericFormat.Nvfp4 or NumericFormat.Mxfp4 => h.Fp4TeraFlopsPerPackage,
            _ => h.Bf16TeraFlopsPerPackage,
        } ?? 0;
        var eightBit = h.Fp8TeraFlopsPerPackage ?? h.Int8TeraOpsPerPackage ?? 0;
        var bf16 = h.Bf16TeraFlopsPerPackage ?? peak;
        var scaleUp = plan.Cluster.ScaleUpBytesPerSecond?.Value ?? h.ScaleUpBytesPerSecondPerDirection ?? 0;
        var scaleOut = plan.Cluster.ScaleOutBytesPerSecond?.Value ?? h.ScaleOutBytesPerSecondPerDirection ?? scaleUp;
        return new StepMachine(
            peak * 1e12 / dies,
            bf16 * 1e12 / dies,
            (h.HbmBytesPerSecondPerPackage ?? 0) / dies,
            scaleUp / dies,
            scaleOut / dies,
            plan.Cluster.ScaleUpDomainDevices * dies,
            plan.Factors)
        {
            PeakEightBitFlops = eightBit * 1e12 / dies,
        };
    }
}

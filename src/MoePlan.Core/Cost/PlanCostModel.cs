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
    double? UsdPerMillionOutputTokens);

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
        options ??= CostOptions.Default;
        var a = plan.Model.Entry.Architecture;
        var p = ParameterCounter.Count(a);
        var hardware = plan.Hardware.Value;
        var dies = hardware.DiesPerPackage;
        var machine = Machine(plan);
        if (options.Efficiency is { } efficiency)
        {
            machine = machine with { Efficiency = efficiency };
        }

        var slots = a.RoutedExperts + plan.Placement.RedundantExperts.Value;

        var workload = plan.Workload;
        var lengths = options.Lengths ?? (workload.Input is { } i && workload.Output is { } o
            ? new WorkloadLengths(i.Mean, i.SecondMoment, o.Mean, 0)
            : throw new ArgumentException("a trace workload is costed with the lengths measured from its trace (PlanCostEvaluation does that)", nameof(options)));
        var input = lengths.MeanInputTokens;
        var output = lengths.MeanOutputTokens;
        // A trace's prefix share is measured from its block ids; a synthetic workload states its own.
        var share = workload.Trace is not null ? lengths.PrefixShare : workload.PrefixShare.Value;

        // Long prompts carry more of the tokens and attend further: weight the context by tokens, E[L^2] / E[L].
        var tokenWeightedInput = lengths.InputSecondMoment / lengths.MeanInputTokens;

        // Prefill: each computed token attends to the cached prefix and, causally, half of the new tokens.
        var prefill = plan.Prefill;
        var prefillTokens = MemoryModel.TokensPerDataParallelRank(prefill, hardware);
        var computedPerRequest = input * (1 - share);
        var prefillShape = new StepShape(PoolRole.Prefill, prefillTokens, prefillTokens / Math.Max(1, computedPerRequest),
            tokenWeightedInput * (share + ((1 - share) / 2)), prefill.Parallel.TensorParallel.Value, prefill.Parallel.DataParallel.Value, prefill.Parallel.ExpertParallel.Value,
            slots, options.PrefillImbalance ?? DefaultStaticImbalance, prefill.MicrobatchOverlap.Value, 0);
        var prefillStep = Step(a, p, plan, prefillShape, machine, options);
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
        var decodeStep = Step(a, p, plan, decodeShape, machine, options);
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

        var ttftOk = plan.Slo.Ttft is not { } ttftSlo || ttft <= ttftSlo.Milliseconds;
        var tpotOk = plan.Slo.Tpot is not { } tpotSlo || tpot <= tpotSlo.Milliseconds;
        var capacity = Math.Min(prefillCapacity, decodeCapacity);
        var offered = workload.Arrivals?.RatePerSecond ?? capacity;
        var goodput = ttftOk && tpotOk ? Math.Min(capacity, offered) : 0;

        double? inputCost = null;
        double? outputCost = null;
        if (plan.PriceUsdPerDeviceHour is { } price)
        {
            var usdPerRankSecond = price.Value / dies / 3600;
            inputCost = usdPerRankSecond / (computedPerRank / Math.Max(1e-9, 1 - share)) * 1e6;
            outputCost = usdPerRankSecond / outputPerRank * 1e6;
        }

        return new CostReport(
            new PrefillCost(prefillStep, input, computedPerRequest, ttft, kvTransfer, computedPerRank, computedPerRank / Math.Max(1e-9, 1 - share)),
            new DecodeCost(decodeStep, batchPerRank / decode.Parallel.TensorParallel.Value, kvLength, tokensPerStep, tpot, outputPerRank),
            dies,
            prefillRankSecondsPerRequest / decodeRankSecondsPerRequest,
            prefillCapacity,
            decodeCapacity,
            goodput,
            ttftOk,
            tpotOk,
            inputCost,
            outputCost);
    }

    private static StepCost Step(ModelArchitecture a, ParameterBreakdown p, DeploymentPlan plan, StepShape shape, StepMachine machine, CostOptions options) =>
        StepCostModel.Evaluate(a, p, plan.Precision, shape with { PerfectBalance = options.PerfectBalance }, machine);

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
            EfficiencyFactors.For(h.Family))
        {
            PeakEightBitFlops = eightBit * 1e12 / dies,
        };
    }
}

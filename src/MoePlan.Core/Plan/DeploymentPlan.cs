using MoePlan.Core.Calibration;
using MoePlan.Core.Catalog;
using MoePlan.Core.Cost;
using MoePlan.Core.Text;

namespace MoePlan.Core.Plan;

/// <summary>A value with the place in the source that set it; defaults point at the block that omitted them.</summary>
public readonly record struct Sourced<T>(T Value, SourceSpan Span, bool IsDefault = false);

public enum EngineKind
{
    Vllm,
    Sglang,
    OmniInfer,
}

public enum NumericFormat
{
    Bf16,
    Fp8,
    Int8,

    /// <summary>NVIDIA's FP4: E2M1 elements, one FP8 (E4M3) scale per 16 (Blackwell tensor cores).</summary>
    Nvfp4,

    /// <summary>OCP Microscaling FP4: E2M1 elements, one E8M0 scale per 32 (OCP MX specification v1.0).</summary>
    Mxfp4,
}

public static class NumericFormats
{
    /// <summary>The 4-bit formats: weights only (moeplan models no FP4 KV cache or all-to-all payload), and only on chips with FP4 tensor cores.</summary>
    public static bool IsFourBit(this NumericFormat format) => format is NumericFormat.Nvfp4 or NumericFormat.Mxfp4;
}

public enum ProxyMode
{
    Sequential,
    Parallel,
}

public enum PoolRole
{
    Prefill,
    Decode,

    /// <summary>Aggregated serving: one pool whose instances prefill (in chunks) and decode in the same steps.</summary>
    Serve,
}

public enum TraceFormat
{
    Mooncake,
    Azure,
}

public enum ArrivalProcess
{
    Poisson,
    Constant,
}

/// <summary>
/// A bound deployment: every name resolved against the catalogs, every value in normalised units
/// (milliseconds, bytes, bytes per second, per second), every node with the span that set it. Immutable.
/// </summary>
public sealed record DeploymentPlan(
    Sourced<string> Name,
    Sourced<EngineKind> Engine,
    ModelPlan Model,
    PrecisionPlan Precision,
    Sourced<HardwareEntry> Hardware,
    ClusterPlan Cluster,
    Sourced<double>? PriceUsdPerDeviceHour,
    PoolPlan Prefill,
    PoolPlan Decode,
    PlacementPlan Placement,
    ProxyPlan Proxy,
    SloPlan Slo,
    WorkloadPlan Workload)
{
    /// <summary>The plan's <c>sweep</c> block: what <c>moeplan search</c> varies. Only search reads it; check validates it.</summary>
    public SweepPlan? Sweep { get; init; }

    /// <summary>The plan's <c>calibration "profile.yaml"</c>: factors fitted by <c>moeplan calibrate</c>; null: the family's.</summary>
    public CalibrationUse? Calibration { get; init; }

    /// <summary>The efficiency factors the cost model uses for this plan: the profile's when it names one, else its hardware family's.</summary>
    public EfficiencyFactors Factors => Calibration?.Factors ?? EfficiencyFactors.For(Hardware.Value.Family);

    /// <summary>
    /// The aggregated pool of a <c>serve { }</c> plan, else null. An aggregated plan has one pool, and
    /// <see cref="Prefill"/> and <see cref="Decode"/> are both that pool (role <see cref="PoolRole.Serve"/>): code that
    /// reads a pool's prefill settings (max_batch_tokens) or decode settings (max_batch, context, mtp) reads the serve
    /// pool's; code that counts devices or instances goes through <see cref="Pools"/>, which lists it once.
    /// </summary>
    public PoolPlan? Serving => Prefill.Role == PoolRole.Serve ? Prefill : null;

    /// <summary>One pool doing prefill and decode (<c>serve { }</c>), rather than a prefill and a decode pool.</summary>
    public bool IsAggregated => Prefill.Role == PoolRole.Serve;

    /// <summary>The distinct pools: the serve pool, or the prefill and the decode pool.</summary>
    public IReadOnlyList<PoolPlan> Pools => IsAggregated ? [Prefill] : [Prefill, Decode];

    /// <summary>An aggregated plan with <paramref name="serve"/> as its one pool.</summary>
    public DeploymentPlan WithServing(PoolPlan serve) => this with { Prefill = serve, Decode = serve };
}

/// <param name="ConfigPath">The config.json the model was read from, as written in the plan; null for catalog models.</param>
public sealed record ModelPlan(ModelEntry Entry, string? ConfigPath, SourceSpan Span);

/// <summary>Numeric formats per part of the model. <see cref="Weights"/> is the base that the others default to.</summary>
public sealed record PrecisionPlan(
    Sourced<NumericFormat> Weights,
    Sourced<NumericFormat> Attention,
    Sourced<NumericFormat> Experts,
    Sourced<NumericFormat> Dense,
    Sourced<NumericFormat> KvCache,
    Sourced<NumericFormat> Dispatch,
    Sourced<NumericFormat> Combine);

/// <param name="SupernodeDevices">Devices in one scale-up domain when it spans nodes (CloudMatrix384: 384); null = one node.</param>
public sealed record ClusterPlan(
    SourceSpan Span,
    Sourced<int> Nodes,
    Sourced<int> DevicesPerNode,
    Sourced<int>? SupernodeDevices,
    Sourced<double>? ScaleUpBytesPerSecond,
    Sourced<double>? ScaleOutBytesPerSecond)
{
    public int Devices => Nodes.Value * DevicesPerNode.Value;

    /// <summary>Devices that share the fast scale-up fabric (a node, or a supernode).</summary>
    public int ScaleUpDomainDevices => SupernodeDevices?.Value ?? DevicesPerNode.Value;
}

/// <summary>Per-instance parallelism in ranks. On multi-die packages a rank is a die.</summary>
public sealed record ParallelPlan(SourceSpan Span, Sourced<int> DataParallel, Sourced<int> TensorParallel, Sourced<int> ExpertParallel)
{
    public int Ranks => DataParallel.Value * TensorParallel.Value;
}

public sealed record MtpPlan(SourceSpan Span, Sourced<int> DraftTokens, Sourced<double> Acceptance)
{
    /// <summary>Tokens a decode step yields per sequence: 1 + acceptance x draft tokens.</summary>
    public double TokensPerStep => 1 + (Acceptance.Value * DraftTokens.Value);
}

/// <summary>A prefill, decode or serve (aggregated) pool: identical instances with the same parallelism.</summary>
/// <param name="MaxBatchTokensPerDevice">Prefill: tokens per step per device. Serve: the chunked-prefill budget, tokens per
/// step per device that the decode batch and a chunk of prefill share (vLLM <c>--max-num-batched-tokens</c>).</param>
/// <param name="MaxBatchPerDevice">Decode and serve: running sequences per device.</param>
/// <param name="ContextTokens">Decode and serve: KV length per sequence that memory must hold.</param>
public sealed record PoolPlan(
    PoolRole Role,
    SourceSpan Span,
    Sourced<int> Instances,
    ParallelPlan Parallel,
    Sourced<int>? MaxBatchTokensPerDevice,
    Sourced<int>? MaxBatchPerDevice,
    Sourced<int>? ContextTokens,
    MtpPlan? Mtp,
    Sourced<bool> MicrobatchOverlap)
{
    /// <summary>The pool's name in the language and in messages: prefill, decode or serve.</summary>
    public string Name => Role switch
    {
        PoolRole.Prefill => "prefill",
        PoolRole.Decode => "decode",
        _ => "serve",
    };

    /// <summary>The pool runs decode steps (decode and serve pools): it holds a batch of sequences with their KV.</summary>
    public bool Decodes => Role != PoolRole.Prefill;
}

public abstract record LoadSource(SourceSpan Span);

public sealed record FileLoadSource(SourceSpan Span, string Path) : LoadSource(Span);

public sealed record SyntheticLoadSource(SourceSpan Span, long Seed) : LoadSource(Span);

public sealed record PlacementPlan(
    SourceSpan Span,
    Sourced<string> Algorithm,
    Sourced<int> RedundantExperts,
    LoadSource Loads,
    Sourced<bool> Uneven,
    Sourced<int>? MaxRedundantPerExpert,
    Sourced<int>? MaxRedundantPerDevice)
{
    /// <summary><c>loads_over_time "file"</c>: the load windows the serving simulation steps through (docs/placement.md); null: the loads never change.</summary>
    public Sourced<string>? LoadsOverTime { get; init; }

    /// <summary><c>rebalance ...</c>; null: no rebalancing (as <c>rebalance off</c>).</summary>
    public RebalancePlan? Rebalance { get; init; }
}

/// <summary>When a pool re-places its experts during serving.</summary>
public enum RebalanceTrigger
{
    /// <summary><c>rebalance off</c>: the placement made before serving stays.</summary>
    Off,

    /// <summary><c>rebalance every DURATION</c>: from the loads seen since the last rebalance.</summary>
    Periodic,

    /// <summary><c>rebalance when imbalance &gt; X</c>: checked every <see cref="RebalancePlan.ThresholdCheckMilliseconds"/> on the loads of that check period.</summary>
    Threshold,
}

/// <summary><c>rebalance every 60s [with eplb|moeplan|ALGORITHM]</c>, <c>rebalance when imbalance &gt; 1.3 [with ...]</c> or <c>rebalance off</c>.</summary>
/// <param name="IntervalMilliseconds">Periodic: the interval.</param>
/// <param name="ImbalanceThreshold">Threshold: the MoE imbalance above which the pool rebalances.</param>
/// <param name="Algorithm">The placement algorithm a rebalance runs (<c>eplb</c> is eplb-hierarchical); null: the plan's.</param>
public sealed record RebalancePlan(SourceSpan Span, RebalanceTrigger Trigger, Sourced<double>? IntervalMilliseconds, Sourced<double>? ImbalanceThreshold, Sourced<string>? Algorithm)
{
    /// <summary>
    /// The shortest interval a plan may ask for: 10 s. A rebalance moves weights for about 1.8 s in SGLang users' reports
    /// (as moeplan's issue #17 quotes them) and each one is a placement solve in the simulation; much shorter intervals
    /// stall more than they serve and only multiply the solves. A bound, not an engine's figure.
    /// </summary>
    public const double MinimumIntervalMilliseconds = 10_000;

    /// <summary>How often a threshold trigger looks at the imbalance: the minimum interval, so it never rebalances more often than a periodic plan may.</summary>
    public const double ThresholdCheckMilliseconds = MinimumIntervalMilliseconds;

    /// <summary>For people: "every 60 s with moeplan", "when imbalance > 1.3 with eplb", "off".</summary>
    public string Describe(string planAlgorithm) => Trigger switch
    {
        RebalanceTrigger.Periodic => $"every {Seconds(IntervalMilliseconds!.Value.Value)} s with {Algorithm?.Value ?? planAlgorithm}",
        RebalanceTrigger.Threshold => $"when imbalance > {ImbalanceThreshold!.Value.Value.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} with {Algorithm?.Value ?? planAlgorithm}",
        _ => "off",
    };

    private static string Seconds(double milliseconds) => (milliseconds / 1e3).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
}

/// <param name="ScriptPath">Set when the policy is a C# script; <see cref="Policy"/> is then "script".</param>
/// <param name="Workers">Proxy worker processes (<c>workers N</c>); null: one.</param>
/// <param name="WorkerState">How the workers see the deployment (<c>worker_state shared|independent</c>); null: shared.</param>
public sealed record ProxyPlan(
    SourceSpan Span,
    Sourced<ProxyMode> Mode,
    Sourced<string> Policy,
    Sourced<string>? ScriptPath,
    Sourced<bool> Apc,
    Sourced<bool> TokenizerReuse,
    Sourced<int>? Workers = null,
    Sourced<ProxyWorkerState>? WorkerState = null)
{
    /// <summary>
    /// Proxy worker processes a plan may name: nginx runs one per CPU core (<c>worker_processes auto</c>), and
    /// 1,024 is beyond any proxy host's cores. A bound, not a figure of any engine.
    /// </summary>
    public const int MaxWorkers = 1024;
}

/// <param name="Percentile">50, 90, 99 ...; 0 means the mean.</param>
public sealed record SloTarget(SourceSpan Span, double Percentile, double Milliseconds, bool Inclusive)
{
    public string StatisticName => Percentile == 0 ? "mean" : $"p{Percentile.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
}

public sealed record SloPlan(SourceSpan Span, SloTarget? Ttft, SloTarget? Tpot);

public abstract record LengthDistribution(SourceSpan Span)
{
    public abstract double Mean { get; }

    /// <summary>E[L^2]: attention over a prompt costs ~L^2, so token-weighted context is E[L^2] / E[L].</summary>
    public abstract double SecondMoment { get; }
}

public sealed record FixedLength(SourceSpan Span, int Tokens) : LengthDistribution(Span)
{
    public override double Mean => Tokens;

    public override double SecondMoment => (double)Tokens * Tokens;
}

public sealed record UniformLength(SourceSpan Span, int Min, int Max) : LengthDistribution(Span)
{
    public override double Mean => (Min + Max) / 2.0;

    public override double SecondMoment => (((double)Min * Min) + ((double)Min * Max) + ((double)Max * Max)) / 3;
}

/// <summary>Log-normal lengths given by their own mean and standard deviation (not the underlying normal's), optionally clipped.</summary>
public sealed record LogNormalLength(SourceSpan Span, double MeanTokens, double StandardDeviationTokens, int? Min, int? Max) : LengthDistribution(Span)
{
    public override double Mean => MeanTokens;

    /// <summary>Of the unclipped distribution: mean^2 + sd^2.</summary>
    public override double SecondMoment => (MeanTokens * MeanTokens) + (StandardDeviationTokens * StandardDeviationTokens);
}

public sealed record TraceSource(SourceSpan Span, string Path, TraceFormat Format);

public sealed record ArrivalPlan(SourceSpan Span, ArrivalProcess Process, double RatePerSecond);

/// <summary>The traffic: a trace, or a synthetic workload (arrivals and length distributions).</summary>
public sealed record WorkloadPlan(
    SourceSpan Span,
    TraceSource? Trace,
    ArrivalPlan? Arrivals,
    LengthDistribution? Input,
    LengthDistribution? Output,
    Sourced<double> PrefixShare,
    Sourced<int>? Requests,
    Sourced<long> Seed);

using MoePlan.Core.Catalog;
using MoePlan.Core.Cost;
using MoePlan.Core.Plan;

namespace MoePlan.Serving.Simulation;

/// <summary>Time of one engine step of a whole instance, in milliseconds.</summary>
public interface IStepTimes
{
    /// <summary>A prefill step computing <paramref name="tokens"/> prompt tokens of <paramref name="sequences"/> requests whose tokens attend, on average, to <paramref name="context"/> tokens.</summary>
    double PrefillMilliseconds(int tokens, int sequences, double context);

    /// <summary>A decode step of <paramref name="sequences"/> running sequences with mean KV length <paramref name="meanKv"/>.</summary>
    double DecodeMilliseconds(int sequences, double meanKv);

    /// <summary>
    /// A mixed step of an aggregated instance (chunked prefill): the decode batch and <paramref name="chunkTokens"/> prompt
    /// tokens of <paramref name="chunkSequences"/> requests in one step. Without a model of its own: the two steps one
    /// after the other, as an engine without chunked prefill would run them.
    /// </summary>
    double MixedMilliseconds(int sequences, double meanKv, int chunkTokens, int chunkSequences, double chunkContext) =>
        (sequences > 0 ? DecodeMilliseconds(sequences, meanKv) : 0) + (chunkTokens > 0 ? PrefillMilliseconds(chunkTokens, chunkSequences, chunkContext) : 0);

    /// <summary>A prefill step with the pool's MoE imbalance at that moment (placement under drifting loads); by default the fixed one.</summary>
    double PrefillMilliseconds(int tokens, int sequences, double context, double imbalance) => PrefillMilliseconds(tokens, sequences, context);

    /// <summary>A decode step with the pool's MoE imbalance at that moment; by default the fixed one.</summary>
    double DecodeMilliseconds(int sequences, double meanKv, double imbalance) => DecodeMilliseconds(sequences, meanKv);

    /// <summary>A mixed step of an aggregated instance with the serve pool's MoE imbalance at that moment; by default the fixed one.</summary>
    double MixedMilliseconds(int sequences, double meanKv, int chunkTokens, int chunkSequences, double chunkContext, double imbalance) =>
        MixedMilliseconds(sequences, meanKv, chunkTokens, chunkSequences, chunkContext);
}

/// <summary>
/// Step times from the cost model (<see cref="StepCostModel"/>, docs/cost-model.md) for the batch the instance
/// really runs: the batch is spread evenly over the instance's data-parallel ranks, and the placement
/// imbalances are the ones the compiler's placement stage found for the plan.
/// </summary>
public sealed class CostModelStepTimes : IStepTimes
{
    private readonly ModelArchitecture _architecture;
    private readonly ParameterBreakdown _parameters;
    private readonly PrecisionPlan _precision;
    private readonly StepMachine _machine;
    private readonly PoolPlan _prefill;
    private readonly PoolPlan _decode;
    private readonly int _slots;
    private readonly double _prefillImbalance;
    private readonly double _decodeImbalance;

    public CostModelStepTimes(DeploymentPlan plan, double prefillImbalance, double decodeImbalance)
    {
        _architecture = plan.Model.Entry.Architecture;
        _parameters = ParameterCounter.Count(_architecture);
        _precision = plan.Precision;
        _machine = PlanCostModel.Machine(plan);
        _prefill = plan.Prefill;
        _decode = plan.Decode;
        _slots = _architecture.RoutedExperts + plan.Placement.RedundantExperts.Value;
        this._prefillImbalance = prefillImbalance;
        this._decodeImbalance = decodeImbalance;
    }

    public StepShape PrefillShape(int tokens, int sequences, double context)
    {
        double dp = _prefill.Parallel.DataParallel.Value;
        return new StepShape(PoolRole.Prefill, tokens / dp, sequences / dp, context, _prefill.Parallel.TensorParallel.Value,
            _prefill.Parallel.DataParallel.Value, _prefill.Parallel.ExpertParallel.Value, _slots, _prefillImbalance, _prefill.MicrobatchOverlap.Value, 0);
    }

    public StepShape DecodeShape(int sequences, double meanKv)
    {
        double dp = _decode.Parallel.DataParallel.Value;
        int draft = _decode.Mtp?.DraftTokens.Value ?? 0;
        return new StepShape(PoolRole.Decode, sequences / dp * (1 + draft), sequences / dp, meanKv, _decode.Parallel.TensorParallel.Value,
            _decode.Parallel.DataParallel.Value, _decode.Parallel.ExpertParallel.Value, _slots, _decodeImbalance, _decode.MicrobatchOverlap.Value, draft);
    }

    public double PrefillMilliseconds(int tokens, int sequences, double context) =>
        StepCostModel.Evaluate(_architecture, _parameters, _precision, PrefillShape(tokens, sequences, context), _machine).StepMilliseconds;

    public double DecodeMilliseconds(int sequences, double meanKv) =>
        StepCostModel.Evaluate(_architecture, _parameters, _precision, DecodeShape(sequences, meanKv), _machine).StepMilliseconds;

    /// <summary>The cost model's mixed step (docs/cost-model.md#aggregated-serving): one pass over the weights for both.</summary>
    public StepShape MixedShape(int sequences, double meanKv, int chunkTokens, int chunkSequences, double chunkContext)
    {
        double dp = _decode.Parallel.DataParallel.Value;
        return DecodeShape(sequences, meanKv) with
        {
            TokensPerRank = DecodeShape(sequences, meanKv).TokensPerRank + (chunkTokens / dp),
            ChunkTokensPerRank = chunkTokens / dp,
            ChunkContext = chunkContext,
            ChunkSequencesPerRank = chunkSequences / dp,
        };
    }

    public double MixedMilliseconds(int sequences, double meanKv, int chunkTokens, int chunkSequences, double chunkContext) =>
        sequences == 0 ? PrefillMilliseconds(chunkTokens, chunkSequences, chunkContext)
        : StepCostModel.Evaluate(_architecture, _parameters, _precision, MixedShape(sequences, meanKv, chunkTokens, chunkSequences, chunkContext), _machine).StepMilliseconds;

    public double MixedMilliseconds(int sequences, double meanKv, int chunkTokens, int chunkSequences, double chunkContext, double imbalance) =>
        sequences == 0 ? PrefillMilliseconds(chunkTokens, chunkSequences, chunkContext, imbalance)
        : StepCostModel.Evaluate(_architecture, _parameters, _precision, MixedShape(sequences, meanKv, chunkTokens, chunkSequences, chunkContext) with { StaticImbalance = imbalance }, _machine).StepMilliseconds;

    public double PrefillMilliseconds(int tokens, int sequences, double context, double imbalance) =>
        StepCostModel.Evaluate(_architecture, _parameters, _precision, PrefillShape(tokens, sequences, context) with { StaticImbalance = imbalance }, _machine).StepMilliseconds;

    public double DecodeMilliseconds(int sequences, double meanKv, double imbalance) =>
        StepCostModel.Evaluate(_architecture, _parameters, _precision, DecodeShape(sequences, meanKv) with { StaticImbalance = imbalance }, _machine).StepMilliseconds;
}

using MoePlan.Core.Catalog;
using MoePlan.Core.Cost;
using MoePlan.Core.Plan;

namespace MoePlan.Runtime.Simulation;

/// <summary>Time of one engine step of a whole instance, in milliseconds.</summary>
public interface IStepTimes
{
    /// <summary>A prefill step computing <paramref name="tokens"/> prompt tokens of <paramref name="sequences"/> requests whose tokens attend, on average, to <paramref name="context"/> tokens.</summary>
    double PrefillMilliseconds(int tokens, int sequences, double context);

    /// <summary>A decode step of <paramref name="sequences"/> running sequences with mean KV length <paramref name="meanKv"/>.</summary>
    double DecodeMilliseconds(int sequences, double meanKv);
}

/// <summary>
/// Step times from the cost model (<see cref="StepCostModel"/>, docs/cost-model.md) for the batch the instance
/// really runs: the batch is spread evenly over the instance's data-parallel ranks, and the placement
/// imbalances are the ones the compiler's placement stage found for the plan.
/// </summary>
public sealed class CostModelStepTimes : IStepTimes
{
    private readonly ModelArchitecture architecture;
    private readonly ParameterBreakdown parameters;
    private readonly PrecisionPlan precision;
    private readonly StepMachine machine;
    private readonly PoolPlan prefill;
    private readonly PoolPlan decode;
    private readonly int slots;
    private readonly double prefillImbalance;
    private readonly double decodeImbalance;

    public CostModelStepTimes(DeploymentPlan plan, double prefillImbalance, double decodeImbalance)
    {
        architecture = plan.Model.Entry.Architecture;
        parameters = ParameterCounter.Count(architecture);
        precision = plan.Precision;
        machine = PlanCostModel.Machine(plan);
        prefill = plan.Prefill;
        decode = plan.Decode;
        slots = architecture.RoutedExperts + plan.Placement.RedundantExperts.Value;
        this.prefillImbalance = prefillImbalance;
        this.decodeImbalance = decodeImbalance;
    }

    public StepShape PrefillShape(int tokens, int sequences, double context)
    {
        double dp = prefill.Parallel.DataParallel.Value;
        return new StepShape(PoolRole.Prefill, tokens / dp, sequences / dp, context, prefill.Parallel.TensorParallel.Value,
            prefill.Parallel.DataParallel.Value, prefill.Parallel.ExpertParallel.Value, slots, prefillImbalance, prefill.MicrobatchOverlap.Value, 0);
    }

    public StepShape DecodeShape(int sequences, double meanKv)
    {
        double dp = decode.Parallel.DataParallel.Value;
        int draft = decode.Mtp?.DraftTokens.Value ?? 0;
        return new StepShape(PoolRole.Decode, sequences / dp * (1 + draft), sequences / dp, meanKv, decode.Parallel.TensorParallel.Value,
            decode.Parallel.DataParallel.Value, decode.Parallel.ExpertParallel.Value, slots, decodeImbalance, decode.MicrobatchOverlap.Value, draft);
    }

    public double PrefillMilliseconds(int tokens, int sequences, double context) =>
        StepCostModel.Evaluate(architecture, parameters, precision, PrefillShape(tokens, sequences, context), machine).StepMilliseconds;

    public double DecodeMilliseconds(int sequences, double meanKv) =>
        StepCostModel.Evaluate(architecture, parameters, precision, DecodeShape(sequences, meanKv), machine).StepMilliseconds;
}

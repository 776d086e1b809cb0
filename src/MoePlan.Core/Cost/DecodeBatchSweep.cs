using System.Collections.Immutable;
using MoePlan.Core.Plan;

namespace MoePlan.Core.Cost;

/// <summary>One decode batch size of a plan and what its step is made of.</summary>
/// <param name="BatchPerDevice">Sequences per device (package) of the decode pool.</param>
/// <param name="FloorMilliseconds">The part of the step no batch size changes: kernel launch gaps and collective floors.</param>
/// <param name="MemoryBoundMilliseconds">Ops whose HBM traffic exceeds their compute (weights read once per step, KV).</param>
/// <param name="ComputeBoundMilliseconds">Ops whose compute exceeds their HBM traffic.</param>
/// <param name="NetworkMilliseconds">All-to-all and all-reduce bytes on the wire.</param>
/// <param name="HiddenMilliseconds">Communication two-batch overlap hides behind the MoE layers' compute.</param>
public sealed record DecodeBatchPoint(
    int BatchPerDevice,
    double TpotMilliseconds,
    double OutputTokensPerSecondPerDevice,
    double OutputTokensPerSecondPerPackage,
    double StepMilliseconds,
    double FloorMilliseconds,
    double MemoryBoundMilliseconds,
    double ComputeBoundMilliseconds,
    double NetworkMilliseconds,
    double HiddenMilliseconds);

/// <summary>
/// TPOT and throughput of a plan's decode pool against its batch per device, from 1 to the largest batch its
/// memory holds (docs/cost-model.md, "Decode against batch size"): everything else as the plan says.
/// </summary>
public static class DecodeBatchSweep
{
    public static ImmutableArray<DecodeBatchPoint> Sweep(DeploymentPlan plan, CostOptions options)
    {
        var limit = MemoryLimit(plan);
        var batches = new SortedSet<int>();
        for (var b = 1; b <= limit; b *= 2)
        {
            batches.Add(b);
        }

        batches.Add(limit);
        var points = ImmutableArray.CreateBuilder<DecodeBatchPoint>();
        foreach (var batch in batches)
        {
            var r = PlanCostModel.Evaluate(WithBatch(plan, batch), options);
            var step = r.Decode.Step;
            double floor = 0, memory = 0, compute = 0, network = 0;
            foreach (var op in step.Ops)
            {
                floor += op.LaunchMilliseconds;
                network += op.CommunicationMilliseconds;
                if (op.MemoryMilliseconds > op.ComputeMilliseconds)
                {
                    memory += op.MemoryMilliseconds;
                }
                else
                {
                    compute += op.ComputeMilliseconds;
                }
            }

            points.Add(new DecodeBatchPoint(batch, r.Decode.TpotMilliseconds, r.Decode.OutputTokensPerSecondPerRank,
                r.Decode.OutputTokensPerSecondPerRank * r.DiesPerPackage, step.StepMilliseconds, floor, memory, compute, network,
                step.ComputeMilliseconds + step.CommunicationMilliseconds - step.StepMilliseconds));
        }

        return points.ToImmutable();
    }

    /// <summary>The largest decode batch per device whose weights, KV cache, activations and buffers fit in usable HBM (0 when none does).</summary>
    public static int MemoryLimit(DeploymentPlan plan)
    {
        int low = 0, high = 1;
        while (Fits(plan, high) && high < 1 << 20)
        {
            low = high;
            high *= 2;
        }

        while (high - low > 1)
        {
            var mid = low + ((high - low) / 2);
            (low, high) = Fits(plan, mid) ? (mid, high) : (low, mid);
        }

        return low;
    }

    private static bool Fits(DeploymentPlan plan, int batch)
    {
        var p = WithBatch(plan, batch);
        return MemoryModel.Compute(p, p.Decode).Fits;
    }

    private static DeploymentPlan WithBatch(DeploymentPlan plan, int batch)
    {
        var decode = plan.Decode;
        var size = decode.MaxBatchPerDevice is { } b ? b with { Value = batch } : new Sourced<int>(batch, decode.Span);
        return plan with { Decode = decode with { MaxBatchPerDevice = size } };
    }
}

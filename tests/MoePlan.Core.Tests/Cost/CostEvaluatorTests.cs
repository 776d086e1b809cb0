using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Plan;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Cost;

/// <summary>The search's evaluator: the same figures as the cost report, with its buffers reused from plan to plan,
/// and no allocation once warm (counted by the runtime, not timed).</summary>
public sealed class CostEvaluatorTests
{
    // Disaggregated H800 and supernode, aggregated H200, FP4 on B200: every path of the cost model.
    private static readonly string[] Plans =
    [
        "plans/deepseek-v3-h800.moe",
        "plans/deepseek-r1-cloudmatrix384.moe",
        "plans/qwen3-235b-h200-aggregated.moe",
        "plans/deepseek-r1-b200-nvfp4.moe",
    ];

    private static DeploymentPlan Compile(string path) =>
        PlanCompiler.Compile(path, MemorySourceResolver.FromRepository(path, "plans/common/slo.moe"), throughVerification: true).Plan
        ?? throw new InvalidOperationException(path);

    [Fact]
    public void One_evaluator_reused_across_plans_gives_each_plan_the_figures_and_ops_of_its_own_report()
    {
        var plans = Plans.Select(Compile).ToArray();
        var evaluator = new CostEvaluator();
        // Twice round, in an order that changes model and path every time: nothing of one plan may leak into the next.
        foreach (var plan in plans.Concat(plans.Reverse()))
        {
            var figures = evaluator.Evaluate(plan);
            var report = PlanCostModel.Evaluate(plan);
            Assert.Equal(report.Figures, figures);
            Assert.Equal(report.Prefill.TtftMilliseconds, figures.Prefill.TtftMilliseconds);
            Assert.Equal(report.Decode.TpotMilliseconds, figures.Decode.TpotMilliseconds);
            Assert.Equal(report.Prefill.Step.StepMilliseconds, figures.Prefill.Step.StepMilliseconds);
            Assert.Equal(report.Decode.Step.Ops.ToArray(), evaluator.DecodeOps.Ops.ToArray());
            Assert.Equal(report.Prefill.Step.Ops.ToArray(), evaluator.PrefillOps.Ops.ToArray());

            // The ops add up to the step: the compute part is the sum of the non-collective ops.
            var opsSum = report.Decode.Step.Ops.Sum(o => o.Milliseconds);
            Assert.Equal(report.Decode.Step.ComputeMilliseconds + report.Decode.Step.CommunicationMilliseconds, opsSum, 9);
        }
    }

    [Fact]
    public void A_warm_evaluator_allocates_nothing_per_evaluation()
    {
        var plans = Plans.Select(Compile).ToArray();
        var evaluator = new CostEvaluator();
        var options = new CostOptions(PrefillImbalance: 1.0, DecodeImbalance: 1.1);
        foreach (var plan in plans)
        {
            evaluator.Evaluate(plan, options);
        }

        foreach (var plan in plans)
        {
            // Warm on this plan's model (its parameter breakdown is counted once per model), then count.
            evaluator.Evaluate(plan, options);
            var before = GC.GetAllocatedBytesForCurrentThread();
            var sink = 0.0;
            for (var i = 0; i < 1000; i++)
            {
                sink += evaluator.Evaluate(plan, options).Decode.TpotMilliseconds;
            }

            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(sink > 0);
            Assert.Equal(0, allocated);
        }
    }
}

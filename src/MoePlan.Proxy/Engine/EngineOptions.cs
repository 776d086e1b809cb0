using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Plan;
using MoePlan.Serving.Simulation;

namespace MoePlan.Proxy.Engine;

/// <summary>
/// An emulated engine instance: which pool and instance of the plan it stands for, the engine protocol it speaks
/// (vLLM's or SGLang's; Omni-Infer serves vLLM's API), and the simulation's deployment figures and step times.
/// </summary>
public sealed record EngineOptions(PoolRole Pool, int Instance, EngineKind Protocol, string Model, ServingConfig Config, IStepTimes Steps, double Speed)
{
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>0: any free port (the engine says which once started).</summary>
    public int Port { get; init; }

    /// <summary>How long a P/D decode waits for its prefill's KV before giving up (a prefill that never comes).</summary>
    public TimeSpan KvWaitTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The plan's engine for one instance of <paramref name="pool"/>, stepped by the cost model (with the placement's imbalances when it ran).</summary>
    public static EngineOptions FromPlan(DeploymentPlan plan, PlanCostResult? cost, PoolRole pool, int instance, double speed)
    {
        ArgumentNullException.ThrowIfNull(plan);
        bool placed = cost?.Report is not null;
        var steps = new CostModelStepTimes(plan, placed ? cost!.PrefillImbalance : PlanCostModel.DefaultStaticImbalance, placed ? cost!.DecodeImbalance : PlanCostModel.DefaultStaticImbalance);
        return new EngineOptions(pool, instance, plan.Engine.Value, ServedModelName(plan), ServingConfig.FromPlan(plan), steps, speed);
    }

    /// <summary>The model name the engines serve: the Hugging Face id when the catalog has one (as the bundles launch it), else the catalog name.</summary>
    public static string ServedModelName(DeploymentPlan plan) => plan.Model.Entry.HuggingFaceId ?? plan.Model.Entry.Name;
}

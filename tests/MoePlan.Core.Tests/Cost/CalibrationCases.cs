using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Plan;
using MoePlan.Tests.Support;

namespace MoePlan.Core.Tests.Cost;

/// <summary>
/// Every published serving figure the cost model is calibrated against (figures.md), with its source, the
/// shipped plan that reproduces the setup, and what the model predicts for it. The calibration tests and the
/// table in docs/cost-model.md both come from this list.
/// </summary>
public sealed record CalibrationCase(string Name, string Plan, string Metric, double Published, string Source, CostOptions Options, Func<CostReport, double> Predict)
{
    public const double Tolerance = 0.05;

    private const string Lmsys = "LMSYS blog 2025-05-05, DeepSeek on 96 H100 (table of figures.md)";
    private const string DeepSeekDay6 = "deepseek-ai/open-infra-index, 202502OpenSourceWeek day 6";

    // Per-node figures are per GPU x 8 GPUs per node.
    public static readonly IReadOnlyList<CalibrationCase> All =
    [
        new("SGLang prefill, 1K prompts", "plans/calibration/sglang-h100-prefill-in1k.moe", "input tok/s per node", 57_674, Lmsys, CostOptions.Default,
            r => r.Prefill.InputTokensPerSecondPerRank * 8),
        new("SGLang prefill, 2K prompts", "plans/calibration/sglang-h100-prefill-in2k.moe", "input tok/s per node", 54_543, Lmsys, CostOptions.Default,
            r => r.Prefill.InputTokensPerSecondPerRank * 8),
        new("SGLang prefill, 4K prompts", "plans/calibration/sglang-h100-prefill-in4k.moe", "input tok/s per node", 50_302, Lmsys, CostOptions.Default,
            r => r.Prefill.InputTokensPerSecondPerRank * 8),
        new("SGLang prefill, 4K prompts, simulated perfect EPLB", "plans/calibration/sglang-h100-prefill-in4k.moe", "input tok/s per node", 59_337, Lmsys,
            new CostOptions(PerfectBalance: true), r => r.Prefill.InputTokensPerSecondPerRank * 8),
        new("SGLang decode, batch 256, KV 2,000", "plans/calibration/sglang-h100-decode.moe", "output tok/s per node", 22_282, Lmsys, CostOptions.Default,
            r => r.Decode.OutputTokensPerSecondPerRank * 8),
        new("SGLang decode, simulated MTP 60%, batch 128, KV 4,000", "plans/calibration/sglang-h100-decode-mtp.moe", "output tok/s per node", 17_373, Lmsys,
            CostOptions.Default, r => r.Decode.OutputTokensPerSecondPerRank * 8),
        new("DeepSeek production prefill, excluding cache hits", "plans/deepseek-v3-h800.moe", "computed tok/s per node", 32_200, DeepSeekDay6,
            CostOptions.Default, r => r.Prefill.ComputedTokensPerSecondPerRank * 8),
        new("DeepSeek production prefill, including cache hits", "plans/deepseek-v3-h800.moe", "input tok/s per node", 73_700, DeepSeekDay6,
            CostOptions.Default, r => r.Prefill.InputTokensPerSecondPerRank * 8),
        new("DeepSeek production decode", "plans/deepseek-v3-h800.moe", "output tok/s per node", 14_800, DeepSeekDay6, CostOptions.Default,
            r => r.Decode.OutputTokensPerSecondPerRank * 8),
    ];

    public double Predicted()
    {
        var resolver = MemorySourceResolver.FromRepository(Plan, "plans/common/slo.moe");
        var compiled = PlanCompiler.Compile(Plan, resolver);
        if (compiled.Plan is null)
        {
            throw new InvalidOperationException($"{Plan} does not compile: {string.Join("; ", compiled.Diagnostics)}");
        }

        var cost = PlanCostEvaluation.Evaluate(compiled.Plan, MemorySourceResolver.FromRepository(Plan, "plans/data/deepseek-v3-sglang-decode_in2000out100.json"), Options);
        return Predict(cost.Report ?? throw new InvalidOperationException($"{Plan}: {string.Join("; ", cost.Diagnostics)}"));
    }
}

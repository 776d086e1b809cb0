using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using MoePlan.Core.Cost;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;

namespace MoePlan.Core.Emit;

/// <summary>The cost report as JSON (for machines) and Markdown (for the bundle's report.md).
/// "device" in the figures is a rank: a GPU, or one die of a multi-die package; <c>_per_package</c> adds the whole chip.</summary>
public static class CostReportWriter
{
    public static string Json(DeploymentPlan plan, CostReport r)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, JsonOutput.Options))
        {
            var multiDie = r.DiesPerPackage > 1;
            w.WriteStartObject();
            w.WriteString("schema", "moeplan/cost/v1");
            w.WriteString("plan", plan.Name.Value);
            w.WriteString("hardware", plan.Hardware.Value.Name);
            w.WriteNumber("dies_per_package", r.DiesPerPackage);
            var factors = plan.Factors;
            w.WriteStartObject("factors");
            w.WriteString("family", factors.Family);
            w.WriteBoolean("calibrated", factors.BorrowedFrom is null);
            if (factors.BorrowedFrom is { } lender)
            {
                w.WriteString("borrowed_from", lender);
            }

            w.WriteString("provenance", factors.Provenance);
            if (plan.Calibration is { } calibration)
            {
                w.WriteString("profile", calibration.Path.Value);
                w.WriteNumber("cases", calibration.Profile.Cases.Length);
            }

            w.WriteEndObject();

            // Each headline figure X has X_low and X_high beside it (null when no calibration bounds it: `interval` says why).
            w.WriteStartObject("interval");
            w.WriteNumber("coverage", CostIntervals.Coverage);
            w.WriteString("basis", r.Intervals?.Basis ?? "none");
            if (r.Intervals?.Unavailable is { } unavailable)
            {
                w.WriteString("unavailable", unavailable);
            }
            else if (r.Intervals is null)
            {
                w.WriteString("unavailable", "not computed");
            }
            else
            {
                w.WriteNull("unavailable");
            }

            w.WriteEndObject();

            w.WriteStartObject("prefill");
            Figure(w, r, "prefill", "step_ms", r.Prefill.Step.StepMilliseconds);
            Figure(w, r, "prefill", "ttft_ms", r.Prefill.TtftMilliseconds);
            Figure(w, r, "prefill", "input_tokens_per_s_per_device", r.Prefill.InputTokensPerSecondPerRank);
            Figure(w, r, "prefill", "computed_tokens_per_s_per_device", r.Prefill.ComputedTokensPerSecondPerRank);
            if (multiDie)
            {
                Figure(w, r, "prefill", "input_tokens_per_s_per_package", r.Prefill.InputTokensPerSecondPerRank * r.DiesPerPackage);
                Figure(w, r, "prefill", "computed_tokens_per_s_per_package", r.Prefill.ComputedTokensPerSecondPerRank * r.DiesPerPackage);
            }

            Number(w, "tokens_per_rank", r.Prefill.Step.TokensPerRank);
            Number(w, "attention_context", r.Prefill.Step.AttentionContext);
            Number(w, "imbalance", r.Prefill.Step.Imbalance);
            Number(w, "kv_transfer_ms", r.Prefill.KvTransferMilliseconds);
            Step(w, r.Prefill.Step);
            w.WriteEndObject();

            w.WriteStartObject("decode");
            Figure(w, r, "decode", "step_ms", r.Decode.Step.StepMilliseconds);
            Figure(w, r, "decode", "tpot_ms", r.Decode.TpotMilliseconds);
            Figure(w, r, "decode", "output_tokens_per_s_per_device", r.Decode.OutputTokensPerSecondPerRank);
            Number(w, "batch_per_device", r.Decode.BatchPerRank);
            if (multiDie)
            {
                Figure(w, r, "decode", "output_tokens_per_s_per_package", r.Decode.OutputTokensPerSecondPerRank * r.DiesPerPackage);
                Number(w, "batch_per_package", r.Decode.BatchPerRank * r.DiesPerPackage);
            }

            Number(w, "kv_length", r.Decode.KvLength);
            Number(w, "tokens_per_step", r.Decode.TokensPerStep);
            Number(w, "imbalance", r.Decode.Step.Imbalance);
            Step(w, r.Decode.Step);
            w.WriteEndObject();

            if (r.Serve is { } serve)
            {
                // Aggregated: prefill and decode above are the serve pool's full-chunk and balanced mixed steps.
                w.WriteStartObject("aggregated");
                Number(w, "decode_tokens_per_rank", serve.DecodeTokensPerRank);
                Number(w, "chunk_tokens_per_rank", serve.ChunkTokensPerRank);
                Number(w, "full_chunk_tokens_per_rank", serve.FullChunkTokensPerRank);
                w.WriteNumber("steps_to_first_token", serve.StepsToFirstToken);
                w.WriteEndObject();
            }

            w.WriteStartObject("serving");
            Number(w, "prefill_to_decode_device_ratio", r.PrefillToDecodeDeviceRatio);
            Number(w, "prefill_capacity_requests_per_s", r.PrefillCapacityRequestsPerSecond);
            Number(w, "decode_capacity_requests_per_s", r.DecodeCapacityRequestsPerSecond);
            Number(w, "goodput_requests_per_s", r.GoodputRequestsPerSecond);
            w.WriteBoolean("ttft_meets_slo", r.TtftMeetsSlo);
            w.WriteBoolean("tpot_meets_slo", r.TpotMeetsSlo);
            Number(w, "usd_per_million_input_tokens", r.UsdPerMillionInputTokens);
            Number(w, "usd_per_million_output_tokens", r.UsdPerMillionOutputTokens);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    public static string Markdown(DeploymentPlan plan, CostReport r)
    {
        var s = new StringBuilder();
        var unit = r.DiesPerPackage > 1 ? "die" : "device";
        s.Append(CultureInfo.InvariantCulture, $"# Cost report: {plan.Name.Value}\n\n");
        s.Append(CultureInfo.InvariantCulture, $"{plan.Model.Entry.DisplayName} on {plan.Hardware.Value.DisplayName}; figures per {unit}");
        s.Append(r.DiesPerPackage > 1 ? $" (a package is {r.DiesPerPackage} dies)" : "").Append(".\n\n");
        var factors = plan.Factors;
        s.Append(CultureInfo.InvariantCulture, $"Efficiency factors ({factors.Family}): {factors.Provenance}.\n\n");
        s.Append(IntervalLine(r)).Append(".\n\n");
        s.Append("| phase | step | latency | throughput per ").Append(unit).Append(" | batch | imbalance |\n|---|---|---|---|---|---|\n");
        s.Append(CultureInfo.InvariantCulture,
            $"| prefill | {NumberText.Compact(r.Prefill.Step.StepMilliseconds)} ms | TTFT {WithInterval(r.Prefill.TtftMilliseconds, r, "prefill.ttft_ms")} ms | {WithInterval(r.Prefill.InputTokensPerSecondPerRank, r, "prefill.input_tokens_per_s_per_device")} input tok/s ({NumberText.Compact(r.Prefill.ComputedTokensPerSecondPerRank)} computed) | {NumberText.Compact(r.Prefill.Step.TokensPerRank)} tokens | {NumberText.Compact(r.Prefill.Step.Imbalance)} |\n");
        s.Append(CultureInfo.InvariantCulture,
            $"| decode | {NumberText.Compact(r.Decode.Step.StepMilliseconds)} ms | TPOT {WithInterval(r.Decode.TpotMilliseconds, r, "decode.tpot_ms")} ms | {WithInterval(r.Decode.OutputTokensPerSecondPerRank, r, "decode.output_tokens_per_s_per_device")} output tok/s | {NumberText.Compact(r.Decode.BatchPerRank)} seq, KV {NumberText.Compact(r.Decode.KvLength)} | {NumberText.Compact(r.Decode.Step.Imbalance)} |\n\n");
        foreach (var (name, step) in new[] { ("Prefill", r.Prefill.Step), ("Decode", r.Decode.Step) })
        {
            s.Append(CultureInfo.InvariantCulture, $"## {name} step, by op (summed over layers)\n\n| op | compute ms | memory ms | network ms | floor ms | bound |\n|---|---|---|---|---|---|\n");
            foreach (var op in step.Ops)
            {
                s.Append(CultureInfo.InvariantCulture, $"| {op.Name} | {NumberText.Compact(op.ComputeMilliseconds)} | {NumberText.Compact(op.MemoryMilliseconds)} | {NumberText.Compact(op.CommunicationMilliseconds)} | {NumberText.Compact(op.LaunchMilliseconds)} | {op.Bound} |\n");
            }

            s.Append(CultureInfo.InvariantCulture,
                $"\nCompute {NumberText.Compact(step.ComputeMilliseconds)} ms, all-to-all {NumberText.Compact(step.CommunicationMilliseconds)} ms, {(step.Overlapped ? "two-batch overlap" : "no overlap")}: step {NumberText.Compact(step.StepMilliseconds)} ms.\n\n");
        }

        s.Append("## Serving\n\n");
        s.Append(CultureInfo.InvariantCulture, $"- P:D devices that balance the workload: {NumberText.Compact(r.PrefillToDecodeDeviceRatio)} prefill per decode device.\n");
        s.Append(CultureInfo.InvariantCulture, $"- Capacity: prefill {NumberText.Compact(r.PrefillCapacityRequestsPerSecond)} req/s, decode {NumberText.Compact(r.DecodeCapacityRequestsPerSecond)} req/s; goodput within SLOs {NumberText.Compact(r.GoodputRequestsPerSecond)} req/s.\n");
        if (r.UsdPerMillionInputTokens is { } i && r.UsdPerMillionOutputTokens is { } o)
        {
            s.Append(CultureInfo.InvariantCulture, $"- Cost: ${NumberText.Compact(i)} per million input tokens, ${NumberText.Compact(o)} per million output tokens.\n");
        }

        return s.ToString();
    }


    /// <summary>A figure, and its interval as <c>KEY_low</c> and <c>KEY_high</c> (null when none bounds it).</summary>
    private static void Figure(Utf8JsonWriter w, CostReport r, string phase, string key, double value)
    {
        Number(w, key, value);
        if (r.Intervals?.Of($"{phase}.{key}") is { } i)
        {
            Number(w, key + "_low", i.Low);
            Number(w, key + "_high", i.High);
        }
        else
        {
            w.WriteNull(key + "_low");
            w.WriteNull(key + "_high");
        }
    }

    /// <summary>"49.6 (45.1-54.3)": a figure with its interval, or the figure alone when none bounds it.</summary>
    public static string WithInterval(double value, CostReport r, string metric) =>
        r.Intervals?.Of(metric) is { } i
            ? $"{NumberText.Compact(value)} ({NumberText.Compact(i.Low)}-{NumberText.Compact(i.High)})"
            : NumberText.Compact(value);

    /// <summary>One line saying what the intervals are, or why there are none.</summary>
    public static string IntervalLine(CostReport r) => r.Intervals switch
    {
        null => "intervals: not computed",
        { Unavailable: { } why } => $"intervals: none ({why})",
        { } i => string.Create(CultureInfo.InvariantCulture,
            $"intervals: {CostIntervals.Coverage:0%} prediction intervals from the {i.Basis}, widened where factor sets those cases cannot tell apart disagree (docs/cost-model.md, \"Stated uncertainty\")"),
    };

    private static void Step(Utf8JsonWriter w, StepCost step)
    {
        Number(w, "compute_ms", step.ComputeMilliseconds);
        Number(w, "communication_ms", step.CommunicationMilliseconds);
        w.WriteBoolean("overlapped", step.Overlapped);
        w.WriteStartArray("ops");
        foreach (var op in step.Ops)
        {
            w.WriteStartObject();
            w.WriteString("name", op.Name);
            Number(w, "compute_ms", op.ComputeMilliseconds);
            Number(w, "memory_ms", op.MemoryMilliseconds);
            Number(w, "communication_ms", op.CommunicationMilliseconds);
            Number(w, "floor_ms", op.LaunchMilliseconds);
            w.WriteString("bound", op.Bound);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    /// <summary>Cost figures to 4 decimals; null when none exists (or it is not finite).</summary>
    private static void Number(Utf8JsonWriter w, string name, double? value) => w.WriteNumberOrNull(name, value is { } v ? Math.Round(v, 4) : null);
}

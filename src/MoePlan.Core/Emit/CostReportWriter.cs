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

            w.WriteStartObject("prefill");
            Number(w, "step_ms", r.Prefill.Step.StepMilliseconds);
            Number(w, "ttft_ms", r.Prefill.TtftMilliseconds);
            Number(w, "input_tokens_per_s_per_device", r.Prefill.InputTokensPerSecondPerRank);
            Number(w, "computed_tokens_per_s_per_device", r.Prefill.ComputedTokensPerSecondPerRank);
            if (multiDie)
            {
                Number(w, "input_tokens_per_s_per_package", r.Prefill.InputTokensPerSecondPerRank * r.DiesPerPackage);
                Number(w, "computed_tokens_per_s_per_package", r.Prefill.ComputedTokensPerSecondPerRank * r.DiesPerPackage);
            }

            Number(w, "tokens_per_rank", r.Prefill.Step.TokensPerRank);
            Number(w, "attention_context", r.Prefill.Step.AttentionContext);
            Number(w, "imbalance", r.Prefill.Step.Imbalance);
            Number(w, "kv_transfer_ms", r.Prefill.KvTransferMilliseconds);
            Step(w, r.Prefill.Step);
            w.WriteEndObject();

            w.WriteStartObject("decode");
            Number(w, "step_ms", r.Decode.Step.StepMilliseconds);
            Number(w, "tpot_ms", r.Decode.TpotMilliseconds);
            Number(w, "output_tokens_per_s_per_device", r.Decode.OutputTokensPerSecondPerRank);
            Number(w, "batch_per_device", r.Decode.BatchPerRank);
            if (multiDie)
            {
                Number(w, "output_tokens_per_s_per_package", r.Decode.OutputTokensPerSecondPerRank * r.DiesPerPackage);
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
        s.Append("| phase | step | latency | throughput per ").Append(unit).Append(" | batch | imbalance |\n|---|---|---|---|---|---|\n");
        s.Append(CultureInfo.InvariantCulture,
            $"| prefill | {NumberText.Compact(r.Prefill.Step.StepMilliseconds)} ms | TTFT {NumberText.Compact(r.Prefill.TtftMilliseconds)} ms | {NumberText.Compact(r.Prefill.InputTokensPerSecondPerRank)} input tok/s ({NumberText.Compact(r.Prefill.ComputedTokensPerSecondPerRank)} computed) | {NumberText.Compact(r.Prefill.Step.TokensPerRank)} tokens | {NumberText.Compact(r.Prefill.Step.Imbalance)} |\n");
        s.Append(CultureInfo.InvariantCulture,
            $"| decode | {NumberText.Compact(r.Decode.Step.StepMilliseconds)} ms | TPOT {NumberText.Compact(r.Decode.TpotMilliseconds)} ms | {NumberText.Compact(r.Decode.OutputTokensPerSecondPerRank)} output tok/s | {NumberText.Compact(r.Decode.BatchPerRank)} seq, KV {NumberText.Compact(r.Decode.KvLength)} | {NumberText.Compact(r.Decode.Step.Imbalance)} |\n\n");
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

using System.Text.Json;
using MoePlan.Core.Emit;
using MoePlan.Core.Text;

namespace MoePlan.Core.Search;

/// <summary><c>moeplan init</c>'s result as summary lines and a table (drawn by the CLI), and as JSON (<c>schemas/init.schema.json</c>).</summary>
public static class InitReportWriter
{
    public static readonly IReadOnlyList<string> Columns =
    [
        "#", "kind", "pools", "devices", "tok/s/device", "TTFT ms", "TPOT ms", "req/s", "$/M out", "imbalance p/d", "targets",
    ];

    public static IEnumerable<string> Summary(InitResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var r = result.Request;
        yield return $"{result.Model.Name} on {r.Devices} {result.Hardware.Name} ({result.DevicesPerNode} per node), {r.Engine}, {string.Join(" and ", r.Kinds.Select(DeploymentInit.Kind))}, " +
                     $"input {r.InputTokens} / output {r.OutputTokens} tokens; targets: {Targets(r)}";
        yield return $"{result.Enumerated} candidates (shape x batch sizes), {result.Valid} pass the verifier, {result.Shapes} distinct shapes " +
                     $"({result.Shapes - result.AggregatedShapes} disaggregated, {result.AggregatedShapes} aggregated), " +
                     $"{result.ShapesMeetingTargets} meet the targets (cost model: saturated-capacity estimates, TTFT and TPOT expected values)";
        foreach (var rejection in result.Rejections.Take(3))
        {
            yield return $"rejected by {rejection.Code}: {rejection.Candidates} candidates, e.g. {rejection.Example}";
        }

        if (result.ShapesMeetingTargets == 0)
        {
            yield return "no shape meets the targets: the fastest shapes are listed with what they miss, and the first is written";
        }
    }

    /// <summary>One row per ranked shape, in <see cref="Columns"/> order.</summary>
    public static IEnumerable<IReadOnlyList<string>> Rows(InitResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var rank = 0;
        foreach (var c in result.Ranked)
        {
            rank++;
            yield return
            [
                NumberText.Whole(rank),
                DeploymentInit.Kind(c.Kind),
                string.Join(" + ", c.Pools.Select(Describe)),
                NumberText.Whole(c.Devices),
                NumberText.Format(c.OutputTokensPerSecondPerDevice, "0"),
                NumberText.Format(c.Costed.TtftMilliseconds, "0"),
                NumberText.Format(c.Costed.TpotMilliseconds, "0.0"),
                NumberText.Format(c.CapacityRequestsPerSecond, "0.##"),
                NumberText.FormatOrDash(c.Costed.UsdPerMillionOutputTokens, "0.###"),
                $"{NumberText.FormatOrDash(c.Figures.PrefillImbalance, "0.00")}/{NumberText.FormatOrDash(c.Figures.DecodeImbalance, "0.00")}",
                c.MeetsTargets ? "met" : "missed: " + string.Join(", ", c.Misses),
            ];
        }
    }

    public static string Json(InitResult result, string? writtenPath)
    {
        ArgumentNullException.ThrowIfNull(result);
        return JsonOutput.Write(w => Write(w, result, writtenPath));
    }

    private static void Write(Utf8JsonWriter w, InitResult result, string? writtenPath)
    {
        var r = result.Request;
        w.WriteStartObject();
        w.WriteString("schema", "moeplan/init/v1");
        w.WriteString("model", result.Model.Name);
        w.WriteString("hardware", result.Hardware.Name);
        w.WriteNumber("devices", r.Devices);
        w.WriteNumber("devices_per_node", result.DevicesPerNode);
        w.WriteString("engine", r.Engine);
        w.WriteNumber("input_tokens", r.InputTokens);
        w.WriteNumber("output_tokens", r.OutputTokens);
        w.WriteNumberOrNull("ttft_target_ms", r.TtftMilliseconds);
        w.WriteNumberOrNull("tpot_target_ms", r.TpotMilliseconds);
        w.WriteNumberOrNull("rate_per_second", r.RatePerSecond);
        w.WriteNumberOrNull("price_usd_per_device_hour", r.PriceUsdPerDeviceHour);
        w.WriteNumber("enumerated", result.Enumerated);
        w.WriteNumber("valid", result.Valid);
        w.WriteNumber("shapes", result.Shapes);
        w.WriteNumber("aggregated_shapes", result.AggregatedShapes);
        w.WriteNumber("shapes_meeting_targets", result.ShapesMeetingTargets);
        w.WriteStartArray("candidates");
        var rank = 0;
        foreach (var c in result.Ranked)
        {
            var s = c.Costed.Settings;
            w.WriteStartObject();
            w.WriteNumber("rank", ++rank);
            w.WriteString("kind", DeploymentInit.Kind(c.Kind));
            foreach (var name in new[] { "prefill", "decode", "serve" })
            {
                if (c.Pools.FirstOrDefault(p => p.Name == name) is { } pool)
                {
                    w.WriteStartObject(name);
                    w.WriteNumber("instances", pool.Instances);
                    w.WriteNumber("dp", pool.DataParallel);
                    w.WriteNumber("tp", pool.TensorParallel);
                    w.WriteNumber("ep", pool.ExpertParallel);
                    w.WriteNumberOrNull("max_batch_tokens_per_device", pool.MaxBatchTokensPerDevice);
                    w.WriteNumberOrNull("max_batch_per_device", pool.MaxBatchPerDevice);
                    w.WriteEndObject();
                }
                else
                {
                    w.WriteNull(name);
                }
            }

            w.WriteNumber("redundant_experts", c.Costed.Settings.RedundantExperts);
            w.WriteNumber("devices", c.Devices);
            w.WriteNumber("ranks", c.Costed.Ranks);
            w.WriteNumberOrNull("output_tokens_per_second_per_device", c.OutputTokensPerSecondPerDevice);
            w.WriteNumberOrNull("ttft_ms", c.Costed.TtftMilliseconds);
            w.WriteNumberOrNull("tpot_ms", c.Costed.TpotMilliseconds);
            w.WriteNumberOrNull("capacity_requests_per_second", c.CapacityRequestsPerSecond);
            w.WriteNumberOrNull("usd_per_million_output_tokens", c.Costed.UsdPerMillionOutputTokens);
            w.WriteNumberOrNull("prefill_imbalance", c.Figures.PrefillImbalance);
            w.WriteNumberOrNull("decode_imbalance", c.Figures.DecodeImbalance);
            w.WriteBoolean("meets_targets", c.MeetsTargets);
            w.WriteStringArray("misses", c.Misses);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        SearchRejection.WriteJsonArray(w, result.Rejections);
        if (writtenPath is null)
        {
            w.WriteNull("written");
        }
        else
        {
            w.WriteString("written", writtenPath);
        }

        w.WriteString("plan", result.PlanText);
        w.WriteStartArray("plan_diagnostics");
        foreach (var d in result.PlanDiagnostics)
        {
            w.WriteStartObject();
            w.WriteString("code", d.Code);
            w.WriteString("severity", d.Severity.ToString().ToLowerInvariant());
            w.WriteString("message", d.Message);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>A pool as <c>prefill 1 x dp8 tp1 ep8 (2048 tok/step)</c>: instances x per-instance parallelism, then its batch sizes per device.</summary>
    private static string Describe(InitPool p)
    {
        var batches = new[] { p.MaxBatchPerDevice is { } b ? $"batch {b}" : null, p.MaxBatchTokensPerDevice is { } t ? $"{t} tok/step" : null }.OfType<string>();
        return $"{p.Name} {p.Instances} x dp{p.DataParallel} tp{p.TensorParallel} ep{p.ExpertParallel} ({string.Join(", ", batches)})";
    }

    private static string Targets(InitRequest r)
    {
        var parts = new List<string>();
        if (r.TtftMilliseconds is { } ttft)
        {
            parts.Add($"TTFT < {NumberText.Format(ttft, "0.###")} ms");
        }

        if (r.TpotMilliseconds is { } tpot)
        {
            parts.Add($"TPOT < {NumberText.Format(tpot, "0.###")} ms");
        }

        if (r.RatePerSecond is { } rate)
        {
            parts.Add($"{NumberText.Format(rate, "0.###")} req/s");
        }

        return parts.Count == 0 ? "none (ranked by throughput alone)" : string.Join(", ", parts);
    }
}

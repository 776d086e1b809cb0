using MoePlan.Core.Emit;

namespace MoePlan.Emulation.Functional;

/// <summary><c>moeplan run --functional --format json</c>: one document per run.</summary>
public static class FunctionalReportJson
{
    /// <summary>The report of a run of <paramref name="planFile"/> as one JSON document (no trailing newline).</summary>
    public static string Write(string planFile, FunctionalReport run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return JsonOutput.Write(w =>
        {
            var c = run.Config;
            w.WriteStartObject();
            w.WriteString("schema", "moeplan/run-functional/v1");
            w.WriteString("plan", planFile);
            w.WriteBoolean("passed", run.Passed);
            w.WriteNumber("max_rel_error", run.MaxRelError);
            w.WriteStartObject("scaled_model");
            w.WriteNumber("moe_layers_run", run.Layers.Count);
            w.WriteNumber("plan_layers", run.PlanLayers);
            w.WriteNumber("hidden", c.Hidden);
            w.WriteNumber("expert_intermediate", c.ExpertIntermediate);
            w.WriteNumber("routed_experts", c.RoutedExperts);
            w.WriteNumber("redundant_experts", run.Redundant);
            w.WriteNumber("top_k", c.TopK);
            w.WriteNumber("groups", c.Groups);
            w.WriteNumber("top_k_groups", c.TopKGroups);
            w.WriteNumber("shared_experts", c.SharedExperts);
            w.WriteString("scoring", c.Scoring.ToString().ToLowerInvariant());
            w.WriteString("weights", c.Weights.ToString().ToLowerInvariant());
            w.WriteString("dispatch", c.Dispatch.ToString().ToLowerInvariant());
            w.WriteString("combine", c.Combine.ToString().ToLowerInvariant());
            w.WriteNumber("plan_ep", run.PlanEp);
            w.WriteNumber("emulated_devices", run.Devices);
            w.WriteNumber("plan_ranks_per_device", run.Fold);
            w.WriteNumber("devices_per_node", run.DevicesPerNode);
            w.WriteNumber("tokens", run.Tokens);
            w.WriteEndObject();
            w.WriteStringArray("notes", run.Notes);
            w.WriteStartArray("layers");
            foreach (var l in run.Layers)
            {
                w.WriteStartObject();
                w.WriteNumber("layer", l.Layer);
                w.WriteBoolean("passed", l.Passed);
                w.WriteStartObject("moe");
                w.WriteNumber("rel_error", l.MoeRelError);
                w.WriteNumber("three_sigma_rel", l.MoeThreeSigmaRel);
                w.WriteBoolean("within_bound", l.MoeWithinBound); // elementwise worst-case bound and ||e|| <= 3 sigma
                w.WriteNumber("routing_flips", l.RoutingFlips);
                w.WriteNumber("routing_mismatches", l.RoutingMismatches);
                w.WriteNumber("dispatch_us", l.DispatchUs);
                w.WriteNumber("experts_us", l.ExpertsUs);
                w.WriteNumber("combine_us", l.CombineUs);
                w.WriteNumber("utilization", l.Utilization);
                w.WriteNumber("bytes_moved", l.BytesMoved);
                w.WriteEndObject();
                if (l.Attention is { } at)
                {
                    w.WriteStartObject("attention");
                    w.WriteNumber("prefill_rel_error", at.PrefillRelError);
                    w.WriteNumber("decode_rel_error", at.DecodeRelError);
                    w.WriteNumber("tolerance", at.Tolerance);
                    w.WriteNumber("flops", at.Flops);
                    w.WriteEndObject();
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
    }
}

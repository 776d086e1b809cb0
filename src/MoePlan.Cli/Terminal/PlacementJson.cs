using System.Text.Json;
using MoePlan.Core.Placement;

namespace MoePlan.Cli.Terminal;

/// <summary><c>moeplan place --format json</c>: one object per algorithm (with <c>--compare</c>, all of them under
/// <c>results</c>); the document names its schema (<c>schemas/place.schema.json</c>).</summary>
internal static class PlacementJson
{
    public const string Schema = "moeplan/place/v1";

    public static void Write(Utf8JsonWriter w, string planPath, string pool, bool compare, PlacementRunOutcome outcome)
    {
        var problem = outcome.Problem!;
        if (compare)
        {
            w.WriteStartObject();
            w.WriteString("schema", Schema);
            w.WriteStartArray("results");
        }

        foreach (var r in outcome.Results)
        {
            w.WriteStartObject();
            if (!compare)
            {
                w.WriteString("schema", Schema);
            }

            w.WriteString("plan", planPath);
            w.WriteString("pool", pool);
            w.WriteString("loads", problem.LoadsDescription);
            w.WriteString("algorithm", r.Algorithm);
            w.WriteBoolean("ok", r.Result.Metrics is not null);
            w.WriteNumber("experts", problem.Problem.Experts);
            w.WriteNumber("physical_experts", problem.Problem.PhysicalExperts);
            w.WriteNumber("devices", problem.Problem.Devices);
            w.WriteNumber("devices_per_node", problem.Problem.DevicesPerNode);
            w.WriteBoolean("uneven", problem.Problem.AllowUneven);
            if (r.Result.Metrics is { } m)
            {
                WriteMetrics(w, m);
                w.WriteNumber("min_slots_per_device", m.MinSlotsPerDevice);
                w.WriteNumber("max_slots_per_device", m.MaxSlotsPerDevice);
                w.WriteStartArray("layers");
                foreach (var layer in m.Layers)
                {
                    w.WriteStartObject();
                    w.WriteNumber("layer_id", layer.LayerId);
                    w.WriteNumber("imbalance", Round(layer.Imbalance));
                    w.WriteNumber("cross_node_fraction", Round(layer.CrossNodeShare));
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }

            if (r.Evaluation is { } evaluation)
            {
                w.WriteStartObject("evaluation");
                w.WriteStartArray("loads");
                foreach (var e in evaluation.Loads)
                {
                    w.WriteStartObject();
                    w.WriteString("loads", e.Name);
                    WriteMetrics(w, e.Metrics);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteStartObject("mean");
                w.WriteNumber("imbalance_mean", Round(evaluation.Mean.MeanLayerImbalance));
                w.WriteNumber("imbalance_max", Round(evaluation.Mean.WorstLayerImbalance));
                w.WriteNumber("imbalance_overall", Round(evaluation.Mean.Imbalance));
                w.WriteNumber("cross_node_fraction", Round(evaluation.Mean.CrossNodeShare));
                w.WriteEndObject();
                w.WriteEndObject();
            }

            DiagnosticPrinter.WriteJson(w, outcome.Diagnostics.Concat(r.Result.Diagnostics));
            w.WriteEndObject();
        }

        if (compare)
        {
            w.WriteEndArray();
            w.WriteEndObject();
        }
    }

    private static void WriteMetrics(Utf8JsonWriter w, PlacementMetrics m)
    {
        w.WriteNumber("imbalance_mean", Round(m.MeanLayerImbalance));
        w.WriteNumber("imbalance_max", Round(m.WorstLayerImbalance));
        w.WriteNumber("imbalance_max_layer", m.WorstLayerId);
        w.WriteNumber("imbalance_overall", Round(m.Imbalance));
        w.WriteNumber("cross_node_fraction", Round(m.CrossNodeShare));
    }

    private static double Round(double value) => Math.Round(value, 6, MidpointRounding.ToEven);
}

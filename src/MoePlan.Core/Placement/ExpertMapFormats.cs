using System.Buffers;
using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using MoePlan.Core.Diagnostics;

namespace MoePlan.Core.Placement;

/// <summary>A rendered map file, or the diagnostics that say why the placement cannot be written in the format.</summary>
public sealed record MapFileResult(string? Text, ImmutableArray<Diagnostic> Diagnostics)
{
    public bool Succeeded => Text is not null;
}

/// <summary>
/// Engine-side files for a placement, as strings (the CLI writes them). Deterministic: fixed property order, invariant
/// number formatting, '\n' line ends, number lists on one line.
/// </summary>
public static class ExpertMapFormats
{
    public const string PlacementFormatName = "moeplan-placement";

    public const int PlacementFormatVersion = 1;

    /// <summary>
    /// vllm-ascend's expert map (<c>expert_map_path</c>): <c>{"moe_layer_count": L, "layer_list": [{"layer_id": i,
    /// "device_count": D, "device_list": [{"device_id": d, "device_expert": [ids]}]}]}</c>. layer_id counts the placed
    /// (MoE) layers from 0, as vllm-ascend indexes MoE layers; model layer ids are in moeplan's placement.json.
    /// </summary>
    public static string VllmAscendExpertMap(ExpertPlacement placement)
    {
        ArgumentNullException.ThrowIfNull(placement);
        return Write(writer =>
        {
            writer.WriteStartObject();
            writer.WriteNumber("moe_layer_count", placement.Layers.Length);
            writer.WriteStartArray("layer_list");
            for (var i = 0; i < placement.Layers.Length; i++)
            {
                var layer = placement.Layers[i];
                writer.WriteStartObject();
                writer.WriteNumber("layer_id", i);
                writer.WriteNumber("device_count", layer.Devices);
                writer.WriteStartArray("device_list");
                for (var d = 0; d < layer.Devices; d++)
                {
                    writer.WriteStartObject();
                    writer.WriteNumber("device_id", d);
                    writer.WritePropertyName("device_expert");
                    writer.WriteRawValue(IntList(layer.DeviceExperts[d]));
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        });
    }

    /// <summary>
    /// SGLang's <c>--init-expert-location</c> file: <c>{"physical_to_logical_map": [[...] x layers]}</c>, one row per model
    /// layer (SGLang indexes every layer, dense ones included); physical slot p is on rank p / (slots per rank). Layers
    /// without a placement (dense layers) get the default map p -> p mod experts. Needs the same slot count on every device.
    /// </summary>
    /// <param name="modelLayers">Rows to write (the model's layer count); default: the highest placed layer id + 1.</param>
    public static MapFileResult SglangExpertLocation(ExpertPlacement placement, int? modelLayers = null)
    {
        ArgumentNullException.ThrowIfNull(placement);
        const string format = "SGLang init expert location";
        if (placement.Layers.Any(l => l.DeviceExperts.Any(d => d.Length != placement.PhysicalExperts / placement.Devices))
            || placement.PhysicalExperts % placement.Devices != 0)
        {
            return Failed(format, "SGLang needs the same number of experts on every rank in every layer");
        }

        var rows = modelLayers ?? (placement.Layers.Length == 0 ? 0 : placement.Layers.Max(l => l.LayerId) + 1);
        if (placement.Layers.Any(l => l.LayerId < 0 || l.LayerId >= rows))
        {
            return Failed(format, $"a placed layer id is outside the model's {rows} layers");
        }

        var byId = placement.Layers.ToDictionary(l => l.LayerId);
        var json = Write(writer =>
        {
            writer.WriteStartObject();
            writer.WriteStartArray("physical_to_logical_map");
            for (var id = 0; id < rows; id++)
            {
                var map = byId.TryGetValue(id, out var layer)
                    ? layer.DeviceExperts.SelectMany(d => d)
                    : Enumerable.Range(0, placement.PhysicalExperts).Select(p => p % placement.Experts);
                WriteRow(writer, map);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        });
        return new MapFileResult(json, []);
    }

    /// <summary>
    /// moeplan's placement.json: format name and version, algorithm, shape, overall metrics, then per layer the model layer
    /// id, replica counts, device -> experts and the layer's metrics.
    /// </summary>
    public static string PlacementJson(ExpertPlacement placement, PlacementMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(placement);
        ArgumentNullException.ThrowIfNull(metrics);
        var layerMetrics = metrics.Layers.ToDictionary(l => l.LayerId);
        return Write(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("format", PlacementFormatName);
            writer.WriteNumber("version", PlacementFormatVersion);
            writer.WriteString("algorithm", placement.Algorithm);
            writer.WriteNumber("experts", placement.Experts);
            writer.WriteNumber("physical_experts", placement.PhysicalExperts);
            writer.WriteNumber("devices", placement.Devices);
            writer.WriteNumber("devices_per_node", placement.DevicesPerNode);
            writer.WriteStartObject("metrics");
            writer.WriteNumber("imbalance", Round(metrics.Imbalance));
            writer.WriteNumber("mean_layer_imbalance", Round(metrics.MeanLayerImbalance));
            writer.WriteNumber("worst_layer_imbalance", Round(metrics.WorstLayerImbalance));
            writer.WriteNumber("worst_layer_id", metrics.WorstLayerId);
            writer.WriteNumber("cross_node_share", Round(metrics.CrossNodeShare));
            writer.WriteNumber("min_slots_per_device", metrics.MinSlotsPerDevice);
            writer.WriteNumber("max_slots_per_device", metrics.MaxSlotsPerDevice);
            writer.WriteEndObject();
            writer.WriteStartArray("layers");
            foreach (var layer in placement.Layers)
            {
                writer.WriteStartObject();
                writer.WriteNumber("layer_id", layer.LayerId);
                if (layerMetrics.TryGetValue(layer.LayerId, out var m))
                {
                    writer.WriteNumber("imbalance", Round(m.Imbalance));
                    writer.WriteNumber("cross_node_share", Round(m.CrossNodeShare));
                }

                writer.WritePropertyName("replica_counts");
                writer.WriteRawValue(IntList(layer.ReplicaCounts));
                writer.WriteStartArray("devices");
                foreach (var device in layer.DeviceExperts)
                {
                    WriteRow(writer, device);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        });
    }

    /// <summary>Six significant decimals keep files stable against last-bit differences and readable.</summary>
    private static double Round(double value) => Math.Round(value, 6, MidpointRounding.ToEven);

    private static string IntList(IEnumerable<int> values) =>
        "[" + string.Join(", ", values.Select(v => v.ToString(CultureInfo.InvariantCulture))) + "]";

    /// <summary>A number list as one line of an indented array (the writer indents raw values only after property names).</summary>
    private static void WriteRow(Utf8JsonWriter writer, IEnumerable<int> values) =>
        writer.WriteRawValue("\n" + new string(' ', 2 * writer.CurrentDepth) + IntList(values), skipInputValidation: true);

    private static MapFileResult Failed(string format, string reason) =>
        new(null, [DiagnosticCodes.MapFormatUnsupported.Create(null, format, reason)]);

    private static string Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions
        {
            Indented = true,
            IndentSize = 2,
            NewLine = "\n",
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }))
        {
            body(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }
}

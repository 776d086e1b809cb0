using System.Text.Json;
using MoePlan.Core.Catalog;

namespace MoePlan.Core.Emit;

/// <summary>
/// The one JSON layout of a model: <c>plan.json</c>'s <c>model</c> object and each entry of <c>moeplan models --format
/// json</c>. Parameter counts are derived from the architecture (<see cref="ParameterCounter"/>); the published figures
/// are the model card's, null when the catalog has none.
/// </summary>
public static class ModelJsonWriter
{
    /// <param name="configPath">The config.json the model was read from, as the plan wrote it; null for catalog models.</param>
    public static void Write(Utf8JsonWriter w, ModelEntry entry, string? configPath)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(entry);
        var a = entry.Architecture;
        var parameters = ParameterCounter.Count(a);
        w.WriteStartObject();
        w.WriteString("name", entry.Name);
        w.WriteString("display_name", entry.DisplayName);
        if (configPath is not null)
        {
            w.WriteString("config_json", configPath);
        }
        else
        {
            w.WriteNull("config_json");
        }

        w.WriteString("native_weight_precision", entry.NativeWeightPrecision);
        w.WriteNumber("layers", a.Layers);
        w.WriteNumber("dense_layers", a.FirstDenseLayers);
        w.WriteNumber("hidden_size", a.HiddenSize);
        w.WriteNumber("routed_experts", a.RoutedExperts);
        w.WriteNumber("shared_experts", a.SharedExperts);
        w.WriteNumber("experts_per_token", a.TopK);
        w.WriteNumber("moe_intermediate_size", a.MoeIntermediateSize);
        w.WriteString("attention", a.Attention is MlaAttention ? "mla" : "gqa");
        w.WriteNumber("attention_heads", a.Attention.Heads);
        w.WriteNumber("mtp_layers", a.MtpLayers);
        w.WriteNumber("total_parameters", parameters.TotalParameters);
        w.WriteNumber("main_parameters", parameters.MainModelParameters);
        w.WriteNumber("active_parameters", parameters.ActiveParameters);
        w.WriteNumberOrNull("published_total_billions", entry.Published?.TotalBillions);
        w.WriteNumberOrNull("published_active_billions", entry.Published?.ActiveBillions);
        // A model read from a config.json has that file as its source, as the plan names it (never an absolute path).
        w.WriteString("source", configPath ?? entry.Source);
        w.WriteEndObject();
    }
}

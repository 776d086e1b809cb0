using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Text;

namespace MoePlan.Core.Catalog;

/// <summary>The model read from a config.json (null when any error was reported) and what was reported.</summary>
public sealed record HuggingFaceConfigResult(ModelEntry? Model, ImmutableArray<Diagnostic> Diagnostics)
{
    public bool HasErrors => Diagnostics.Any(d => d.IsError);
}

/// <summary>
/// Reads a HuggingFace <c>config.json</c> into a <see cref="ModelEntry"/>. Understood:
/// <list type="bullet">
/// <item>DeepSeek-V3 fields: model_type <c>deepseek_v3</c>, <c>kimi_k2</c> (architecture DeepseekV3ForCausalLM);</item>
/// <item>Qwen MoE fields: <c>qwen3_moe</c>, <c>qwen2_moe</c> (num_experts, shared_expert_intermediate_size,
/// decoder_sparse_step, mlp_only_layers);</item>
/// <item>the openPangu spelling: <c>pangu_ultra_moe</c> / PanguUltraMoEForCausalLM (num_dense_layers,
/// num_routed_experts, attention_q_lora_dim, attention_kv_lora_dim, attention_qk_dim, attention_qk_rope_dim,
/// attention_v_dim).</item>
/// </list>
/// Fields that decide the parameter count are required; routing details default as in the model's
/// configuration class when absent (documented per field below). Problems are diagnostics (MP2101..MP2106)
/// pointing at <c>referencedAt</c>, the DSL token that named the file; the message names the JSON path.
/// </summary>
public static class HuggingFaceConfigReader
{
    private enum Family
    {
        DeepSeekV3,
        Pangu,
        Qwen3Moe,
        Qwen2Moe,
    }

    private static readonly ImmutableArray<(string ModelType, Family Family)> ModelTypes =
    [
        ("deepseek_v3", Family.DeepSeekV3),
        ("kimi_k2", Family.DeepSeekV3),
        ("pangu_ultra_moe", Family.Pangu),
        ("qwen2_moe", Family.Qwen2Moe),
        ("qwen3_moe", Family.Qwen3Moe),
    ];

    private static readonly ImmutableArray<(string Architecture, Family Family)> Architectures =
    [
        ("DeepseekV3ForCausalLM", Family.DeepSeekV3),
        ("PanguUltraMoEForCausalLM", Family.Pangu),
        ("Qwen2MoeForCausalLM", Family.Qwen2Moe),
        ("Qwen3MoeForCausalLM", Family.Qwen3Moe),
    ];

    private static readonly ImmutableArray<string> ConfigSuffixes = [".config.json", ".json"];

    public static HuggingFaceConfigResult Read(string jsonText, string displayPath, SourceSpan? referencedAt)
    {
        ArgumentNullException.ThrowIfNull(jsonText);
        ArgumentNullException.ThrowIfNull(displayPath);
        var reader = new Reader(displayPath, referencedAt);
        var model = reader.Read(jsonText);
        return new HuggingFaceConfigResult(reader.HasErrors ? null : model, reader.Diagnostics);
    }

    /// <summary>The model name for a config file path: file name without <c>.config.json</c> / <c>.json</c>, lower-cased.</summary>
    public static string ModelNameFromPath(string displayPath) => DisplayNameFromPath(displayPath).ToLowerInvariant();

    private static string DisplayNameFromPath(string displayPath)
    {
        var fileName = displayPath[(displayPath.LastIndexOfAny(['/', '\\']) + 1)..];
        foreach (var suffix in ConfigSuffixes)
        {
            if (fileName.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) && fileName.Length > suffix.Length)
            {
                return fileName[..^suffix.Length];
            }
        }

        return fileName;
    }

    private sealed class Reader(string file, SourceSpan? span)
    {
        private readonly ImmutableArray<Diagnostic>.Builder _diagnostics = ImmutableArray.CreateBuilder<Diagnostic>();
        private JsonElement _root;

        public ImmutableArray<Diagnostic> Diagnostics => _diagnostics.ToImmutable();

        public bool HasErrors => _diagnostics.Any(d => d.IsError);

        public ModelEntry? Read(string jsonText)
        {
            JsonDocument document;
            try
            {
                // Parse the UTF-8 bytes: a string with a lone surrogate must be a diagnostic, not an ArgumentException.
                document = JsonDocument.Parse(System.Text.Encoding.UTF8.GetBytes(jsonText));
            }
            catch (JsonException e)
            {
                var line = (e.LineNumber ?? 0) + 1;
                var column = (e.BytePositionInLine ?? 0) + 1;
                Report(DiagnosticCodes.ModelConfigInvalidJson, file, line, column, ParserMessage(e));
                return null;
            }

            using (document)
            {
                _root = document.RootElement;
                if (_root.ValueKind != JsonValueKind.Object)
                {
                    Invalid("$", "must be a JSON object", _root);
                    return null;
                }

                var family = ResolveFamily();
                if (family is null)
                {
                    return null;
                }

                var architecture = family == Family.DeepSeekV3 || family == Family.Pangu
                    ? ReadMlaModel(family.Value)
                    : ReadQwenModel(family.Value);
                var precision = ReadPrecision();
                if (architecture is null || HasErrors)
                {
                    return null;
                }

                var displayName = DisplayNameFromPath(file);
                return new ModelEntry(
                    displayName.ToLowerInvariant(),
                    displayName,
                    ImmutableArray<string>.Empty,
                    null,
                    precision,
                    architecture,
                    null,
                    file);
            }
        }

        // ---- model type -------------------------------------------------------------------------

        private Family? ResolveFamily()
        {
            string? modelType = null;
            if (_root.TryGetProperty("model_type", out var typeElement))
            {
                if (typeElement.ValueKind != JsonValueKind.String)
                {
                    Invalid("$.model_type", "must be a string", typeElement);
                    return null;
                }

                modelType = typeElement.GetString()!;
                foreach (var (name, family) in ModelTypes)
                {
                    if (name == modelType)
                    {
                        return family;
                    }
                }
            }

            // An unknown or absent model_type: the architectures list may still name a supported class.
            string? architecture = null;
            if (_root.TryGetProperty("architectures", out var list) && list.ValueKind == JsonValueKind.Array
                && list.GetArrayLength() > 0 && list[0].ValueKind == JsonValueKind.String)
            {
                architecture = list[0].GetString()!;
                foreach (var (name, family) in Architectures)
                {
                    if (name == architecture)
                    {
                        return family;
                    }
                }
            }

            var supported = string.Join(", ", ModelTypes.Select(t => t.ModelType))
                + " (or architectures " + string.Join(", ", Architectures.Select(a => a.Architecture)) + ")";
            if (modelType is not null)
            {
                Report(DiagnosticCodes.ModelConfigUnsupportedModelType, file, "$.model_type", modelType, supported);
            }
            else if (architecture is not null)
            {
                Report(DiagnosticCodes.ModelConfigUnsupportedModelType, file, "$.architectures[0]", architecture, supported);
            }
            else
            {
                Report(DiagnosticCodes.ModelConfigMissingField, file, "$.model_type", "it says which architecture the file describes; supported: " + supported);
            }

            return null;
        }

        // ---- MLA models: DeepSeek-V3 / Kimi-K2 and openPangu ------------------------------------

        private ModelArchitecture? ReadMlaModel(Family family)
        {
            var pangu = family == Family.Pangu;
            string Key(string deepSeek, string panguKey) => pangu ? panguKey : deepSeek;

            var layers = RequiredInt("num_hidden_layers", 1, "decoder layer count");
            var hidden = RequiredInt("hidden_size", 1, "model width");
            var denseIntermediate = RequiredInt("intermediate_size", 1, "dense FFN width");
            var moeIntermediate = RequiredInt("moe_intermediate_size", 1, "routed expert width");
            var routed = RequiredInt(Key("n_routed_experts", "num_routed_experts"), 1, "routed experts per MoE layer");
            var shared = RequiredInt(Key("n_shared_experts", "num_shared_experts"), 0, "shared experts per MoE layer", nullMeans: 0);
            var topK = RequiredInt("num_experts_per_tok", 1, "experts per token");
            var firstDense = RequiredInt(Key("first_k_dense_replace", "num_dense_layers"), 0, "leading dense layers");
            var heads = RequiredInt("num_attention_heads", 1, "attention heads");
            var qLora = RequiredInt(Key("q_lora_rank", "attention_q_lora_dim"), 0, "query low-rank width; null when queries are full-rank", nullMeans: 0);
            var kvLora = RequiredInt(Key("kv_lora_rank", "attention_kv_lora_dim"), 1, "compressed KV width");
            var nope = RequiredInt(Key("qk_nope_head_dim", "attention_qk_dim"), 1, "query/key head width without rotary part");
            var rope = RequiredInt(Key("qk_rope_head_dim", "attention_qk_rope_dim"), 0, "rotary head width");
            var v = RequiredInt(Key("v_head_dim", "attention_v_dim"), 1, "value head width");
            var vocab = RequiredInt("vocab_size", 1, "vocabulary size");

            // Optional, defaults of DeepseekV3Config / OpenPanguMoEConfig [2nd] when absent.
            var moeLayerFrequency = OptionalInt("moe_layer_freq", 1, 1);
            // MTP: DeepSeek writes num_nextn_predict_layers (absent = none); OpenPanguMoEConfig defaults num_mtp_layers to 1.
            var mtp = OptionalInt(Key("num_nextn_predict_layers", "num_mtp_layers"), 0, pangu ? 1 : 0);
            var groups = pangu ? 1 : OptionalInt("n_group", 1, 1, nullMeans: 1);
            var topKGroups = pangu ? 1 : OptionalInt("topk_group", 1, 1, nullMeans: 1);
            var scaling = OptionalPositiveNumber("routed_scaling_factor", pangu ? 2.5 : 1.0);
            var scoring = OptionalString("scoring_func", ["sigmoid", "softmax"], "sigmoid");
            var tie = OptionalBool("tie_word_embeddings", false);
            var sandwich = pangu && OptionalBool("sandwich_norm", false);
            var positions = OptionalInt("max_position_embeddings", 1, null);

            if (moeLayerFrequency is > 1)
            {
                Report(DiagnosticCodes.ModelConfigUnsupportedLayerLayout, file, "$.moe_layer_freq",
                    $"{moeLayerFrequency.Value.ToString(CultureInfo.InvariantCulture)} (a MoE layer every {moeLayerFrequency.Value.ToString(CultureInfo.InvariantCulture)} layers)");
            }

            if (HasErrors)
            {
                return null;
            }

            var architecture = new ModelArchitecture(
                layers!.Value, hidden!.Value, denseIntermediate!.Value, moeIntermediate!.Value, routed!.Value, shared!.Value,
                shared.Value == 0 ? 0 : moeIntermediate.Value, topK!.Value, firstDense!.Value, groups!.Value, topKGroups!.Value,
                new MlaAttention(heads!.Value, qLora!.Value, kvLora!.Value, nope!.Value, rope!.Value, v!.Value),
                vocab!.Value, mtp!.Value, tie, scaling!.Value, scoring!)
            {
                SandwichNorm = sandwich,
                MaxPositionEmbeddings = positions,
            };
            return CheckConsistency(architecture,
                topKPath: "$.num_experts_per_tok",
                expertsPath: "$." + Key("n_routed_experts", "num_routed_experts"),
                firstDensePath: "$." + Key("first_k_dense_replace", "num_dense_layers"));
        }

        // ---- Qwen MoE ----------------------------------------------------------------------------

        private ModelArchitecture? ReadQwenModel(Family family)
        {
            var qwen2 = family == Family.Qwen2Moe;
            var layers = RequiredInt("num_hidden_layers", 1, "decoder layer count");
            var hidden = RequiredInt("hidden_size", 1, "model width");
            var denseIntermediate = RequiredInt("intermediate_size", 1, "dense FFN width");
            var moeIntermediate = RequiredInt("moe_intermediate_size", 1, "routed expert width");
            var experts = RequiredInt("num_experts", 1, "routed experts per MoE layer");
            var topK = RequiredInt("num_experts_per_tok", 1, "experts per token");
            var heads = RequiredInt("num_attention_heads", 1, "attention heads");
            var vocab = RequiredInt("vocab_size", 1, "vocabulary size");
            var sharedWidth = qwen2 ? RequiredInt("shared_expert_intermediate_size", 0, "shared expert width (0 for none)") : 0;

            // Optional, defaults of Qwen2MoeConfig / Qwen3MoeConfig.
            var kvHeads = OptionalInt("num_key_value_heads", 1, heads, nullMeans: heads);
            var headDim = OptionalInt("head_dim", 1, null, nullMeans: null);
            var sparseStep = OptionalInt("decoder_sparse_step", 1, 1);
            var tie = OptionalBool("tie_word_embeddings", false);
            // Qwen2-MoE attention always has q/k/v biases; Qwen3-MoE follows attention_bias.
            var qkvBias = qwen2 || OptionalBool("attention_bias", false);
            var firstDense = ReadMlpOnlyLayers(layers);
            var positions = OptionalInt("max_position_embeddings", 1, null);

            if (headDim is null && hidden is not null && heads is not null)
            {
                if (hidden.Value % heads.Value == 0)
                {
                    headDim = hidden.Value / heads.Value;
                }
                else
                {
                    Invalid("$.num_attention_heads", $"must divide $.hidden_size ({Int(hidden.Value)}) when $.head_dim is absent", _root.GetProperty("num_attention_heads"));
                }
            }

            if (sparseStep is > 1 && layers is not null)
            {
                Report(DiagnosticCodes.ModelConfigUnsupportedLayerLayout, file, "$.decoder_sparse_step",
                    $"{Int(sparseStep.Value)} (a MoE layer every {Int(sparseStep.Value)} layers)");
            }

            if (HasErrors)
            {
                return null;
            }

            var sharedExperts = sharedWidth > 0 ? 1 : 0;
            var architecture = new ModelArchitecture(
                layers!.Value, hidden!.Value, denseIntermediate!.Value, moeIntermediate!.Value, experts!.Value, sharedExperts,
                sharedWidth!.Value, topK!.Value, firstDense!.Value, 1, 1,
                new GroupedQueryAttention(heads!.Value, kvHeads!.Value, headDim!.Value, qkvBias, QkNorm: !qwen2),
                vocab!.Value, 0, tie, 1.0, "softmax")
            {
                SharedExpertGate = qwen2 && sharedExperts > 0,
                MaxPositionEmbeddings = positions,
            };

            if (heads.Value % kvHeads.Value != 0)
            {
                Invalid("$.num_key_value_heads", $"must divide $.num_attention_heads ({Int(heads.Value)})", _root.GetProperty("num_key_value_heads"));
                return null;
            }

            return CheckConsistency(architecture, "$.num_experts_per_tok", "$.num_experts", "$.mlp_only_layers");
        }

        /// <summary>mlp_only_layers must be the prefix 0..k-1 (k dense layers, then MoE layers).</summary>
        private int? ReadMlpOnlyLayers(int? layers)
        {
            if (!_root.TryGetProperty("mlp_only_layers", out var list) || list.ValueKind == JsonValueKind.Null)
            {
                return 0;
            }

            if (list.ValueKind != JsonValueKind.Array)
            {
                Invalid("$.mlp_only_layers", "must be an array of layer indices", list);
                return null;
            }

            var indices = new List<int>();
            var index = 0;
            foreach (var item in list.EnumerateArray())
            {
                var path = $"$.mlp_only_layers[{Int(index++)}]";
                if (!TryWholeNumber(item, out var layer) || layer < 0 || (layers is not null && layer >= layers))
                {
                    Invalid(path, layers is null ? "must be a layer index" : $"must be a layer index below $.num_hidden_layers ({Int(layers.Value)})", item);
                    return null;
                }

                indices.Add(layer);
            }

            indices.Sort();
            var distinct = indices.Distinct().ToList();
            for (var i = 0; i < distinct.Count; i++)
            {
                if (distinct[i] != i)
                {
                    Report(DiagnosticCodes.ModelConfigUnsupportedLayerLayout, file, "$.mlp_only_layers",
                        "dense layers [" + string.Join(", ", distinct.Select(Int)) + "]");
                    return null;
                }
            }

            return distinct.Count;
        }

        private ModelArchitecture? CheckConsistency(ModelArchitecture a, string topKPath, string expertsPath, string firstDensePath)
        {
            if (a.TopK > a.RoutedExperts)
            {
                Invalid(topKPath, $"must not exceed {expertsPath} ({Int(a.RoutedExperts)})", _root.GetProperty(topKPath[2..]));
            }

            if (a.FirstDenseLayers > a.Layers && _root.TryGetProperty(firstDensePath[2..], out var firstDense))
            {
                Invalid(firstDensePath, $"must not exceed $.num_hidden_layers ({Int(a.Layers)})", firstDense);
            }

            if (a.TopKGroups > a.ExpertGroups)
            {
                Invalid("$.topk_group", $"must not exceed $.n_group ({Int(a.ExpertGroups)})", _root.GetProperty("topk_group"));
            }
            else if (a.RoutedExperts % a.ExpertGroups != 0)
            {
                Invalid("$.n_group", $"must divide {expertsPath} ({Int(a.RoutedExperts)})", _root.GetProperty("n_group"));
            }

            return HasErrors ? null : a;
        }

        // ---- precision ---------------------------------------------------------------------------

        private string ReadPrecision()
        {
            const string Fallback = "bf16";
            if (_root.TryGetProperty("quantization_config", out var quantization) && quantization.ValueKind == JsonValueKind.Object)
            {
                var method = quantization.TryGetProperty("quant_method", out var m) && m.ValueKind == JsonValueKind.String
                    ? m.GetString()!
                    : null;
                int? bits = quantization.TryGetProperty("bits", out var b) && TryWholeNumber(b, out var n) ? n : null;
                // ModelOpt writes {"quant_method": "modelopt", "quant_algo": "NVFP4"} (vLLM's modelopt.py reads the same keys).
                var algorithm = quantization.TryGetProperty("quant_algo", out var q) && q.ValueKind == JsonValueKind.String
                    ? q.GetString()!.ToUpperInvariant()
                    : null;
                switch (method, bits)
                {
                    case ("fp8", _):
                        return "fp8";
                    case ("modelopt", _) when algorithm == "NVFP4":
                        return "nvfp4";
                    case ("mxfp4", _):
                        return "mxfp4";
                    case ("gptq" or "awq", 4):
                        return "int4";
                    case ("gptq" or "awq", 8):
                        return "int8";
                }

                var fallback = TorchDtype() ?? Fallback;
                Report(DiagnosticCodes.ModelConfigUnknownPrecision, file, "$.quantization_config.quant_method",
                    method is null ? "is missing or not a string" : $"'{method}'" + (bits is null ? "" : $" with {Int(bits.Value)} bits") + " is not understood",
                    fallback);
                return fallback;
            }

            var dtypePath = _root.TryGetProperty("dtype", out _) && !_root.TryGetProperty("torch_dtype", out _) ? "$.dtype" : "$.torch_dtype";
            if (TorchDtype() is { } precision)
            {
                return precision;
            }

            var found = _root.TryGetProperty(dtypePath[2..], out var dtype) ? $"'{TextExcerpt.Of(dtype.GetRawText(), 40)}' is not understood" : "is missing";
            Report(DiagnosticCodes.ModelConfigUnknownPrecision, file, dtypePath, found, Fallback);
            return Fallback;
        }

        /// <summary>torch_dtype (or the newer <c>dtype</c>) as a precision name, or null.</summary>
        private string? TorchDtype()
        {
            if (!_root.TryGetProperty("torch_dtype", out var dtype) && !_root.TryGetProperty("dtype", out dtype))
            {
                return null;
            }

            return dtype.ValueKind != JsonValueKind.String ? null : dtype.GetString() switch
            {
                "bfloat16" => "bf16",
                "float16" => "fp16",
                "float32" => "fp32",
                _ => null,
            };
        }

        // ---- field helpers -------------------------------------------------------------------------

        private int? RequiredInt(string key, int minimum, string purpose, int? nullMeans = null)
        {
            var path = "$." + key;
            if (!_root.TryGetProperty(key, out var element))
            {
                Report(DiagnosticCodes.ModelConfigMissingField, file, path, purpose);
                return null;
            }

            return IntValue(path, element, minimum, nullMeans, nullMeans is not null);
        }

        private int? OptionalInt(string key, int minimum, int? defaultValue, int? nullMeans = null)
        {
            if (!_root.TryGetProperty(key, out var element))
            {
                return defaultValue;
            }

            return IntValue("$." + key, element, minimum, nullMeans, nullMeans is not null);
        }

        private int? IntValue(string path, JsonElement element, int minimum, int? nullMeans, bool allowNull)
        {
            if (element.ValueKind == JsonValueKind.Null && allowNull)
            {
                return nullMeans;
            }

            if (!TryWholeNumber(element, out var value))
            {
                Invalid(path, minimum > 0 ? "must be a positive integer" : "must be a non-negative integer", element);
                return null;
            }

            if (value < minimum)
            {
                Invalid(path, minimum > 0 ? "must be a positive integer" : "must be a non-negative integer", element);
                return null;
            }

            return value;
        }

        private double? OptionalPositiveNumber(string key, double defaultValue)
        {
            if (!_root.TryGetProperty(key, out var element))
            {
                return defaultValue;
            }

            if (element.ValueKind == JsonValueKind.Number && element.TryGetDouble(out var value) && double.IsFinite(value) && value > 0)
            {
                return value;
            }

            Invalid("$." + key, "must be a positive number", element);
            return null;
        }

        private string? OptionalString(string key, ImmutableArray<string> allowed, string defaultValue)
        {
            if (!_root.TryGetProperty(key, out var element))
            {
                return defaultValue;
            }

            if (element.ValueKind == JsonValueKind.String && allowed.Contains(element.GetString()!))
            {
                return element.GetString();
            }

            Invalid("$." + key, "must be one of " + string.Join(", ", allowed.Select(a => $"\"{a}\"")), element);
            return null;
        }

        private bool OptionalBool(string key, bool defaultValue)
        {
            if (!_root.TryGetProperty(key, out var element) || element.ValueKind == JsonValueKind.Null)
            {
                return defaultValue;
            }

            if (element.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                return element.GetBoolean();
            }

            Invalid("$." + key, "must be true or false", element);
            return defaultValue;
        }

        private static bool TryWholeNumber(JsonElement element, out int value)
        {
            value = 0;
            if (element.ValueKind != JsonValueKind.Number)
            {
                return false;
            }

            if (element.TryGetInt32(out value))
            {
                return true;
            }

            // 7168.0 is a whole number too.
            if (element.TryGetDouble(out var d) && d == Math.Floor(d) && d >= int.MinValue && d <= int.MaxValue)
            {
                value = (int)d;
                return true;
            }

            return false;
        }

        private void Invalid(string path, string problem, JsonElement found) =>
            Report(DiagnosticCodes.ModelConfigInvalidField, file, path, problem, Describe(found));

        private void Report(DiagnosticDescriptor descriptor, params object[] args) =>
            _diagnostics.Add(descriptor.Create(span, args));

        private static string Describe(JsonElement element) => element.ValueKind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.Null => "null",
            _ => TextExcerpt.Of(element.GetRawText(), 40),
        };

        private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

        /// <summary>JsonException's message without its trailing "LineNumber: .. | BytePositionInLine: .." (reported separately).</summary>
        private static string ParserMessage(JsonException e)
        {
            var message = e.Message;
            var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
            return (cut >= 0 ? message[..cut] : message).Trim();
        }
    }
}

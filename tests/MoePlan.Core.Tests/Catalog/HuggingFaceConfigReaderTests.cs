using System.Text.Json.Nodes;
using MoePlan.Core.Catalog;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Text;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Catalog;

public sealed class HuggingFaceConfigReaderTests
{
    /// <summary>Found by the config.json mutation tests (seed bsV_VHMzMSQ3): a lone surrogate threw ArgumentException.</summary>
    [Fact]
    public void A_lone_surrogate_is_a_diagnostic_not_an_exception()
    {
        var result = HuggingFaceConfigReader.Read("{\"model_type\": \"deepseek_v3\", \"hidden_size\": \ud800}", "bad.json", null);
        Assert.Null(result.Model);
        Assert.Contains(result.Diagnostics, d => d.Code == "MP2101");
    }

    private static readonly SourceSpan ModelToken = new("plan.moe", 42, 25, 3, 12);

    private static string ModelFile(string name) => TestData.ReadText("models", name);

    private static HuggingFaceConfigResult Read(string json, string path = "test.config.json") =>
        HuggingFaceConfigReader.Read(json, path, ModelToken);

    /// <summary>DeepSeek-V3's real config.json with <paramref name="edit"/> applied.</summary>
    private static string DeepSeekWith(Action<JsonObject> edit) => Edited("DeepSeek-V3.config.json", edit);

    private static string QwenWith(Action<JsonObject> edit) => Edited("Qwen3-235B-A22B.config.json", edit);

    private static string Edited(string file, Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(ModelFile(file))!.AsObject();
        edit(json);
        return json.ToJsonString();
    }

    private static Diagnostic Single(HuggingFaceConfigResult result, string code)
    {
        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal(code, diagnostic.Code);
        return diagnostic;
    }

    [Theory]
    [InlineData("DeepSeek-V3.config.json", "deepseek-v3")]
    [InlineData("DeepSeek-R1.config.json", "deepseek-r1")]
    [InlineData("Kimi-K2-Instruct.config.json", "kimi-k2")]
    [InlineData("Qwen3-235B-A22B.config.json", "qwen3-235b-a22b")]
    public void RealConfigFilesReadBackAsTheCatalogEntry(string file, string catalogName)
    {
        var result = HuggingFaceConfigReader.Read(ModelFile(file), "models/" + file, ModelToken);

        Assert.Empty(result.Diagnostics);
        var model = Assert.IsType<ModelEntry>(result.Model);
        var entry = EmbeddedCatalog.Instance.FindModel(catalogName)!;
        Assert.Equal(entry.Architecture, model.Architecture);
        Assert.Equal(entry.NativeWeightPrecision, model.NativeWeightPrecision);
        Assert.Equal(file[..^".config.json".Length].ToLowerInvariant(), model.Name);
        Assert.Equal(file[..^".config.json".Length], model.DisplayName);
        Assert.Equal("models/" + file, model.Source);
        Assert.Null(model.Published);
    }

    [Fact]
    public void OpenPanguSpellingReadsAsTheCatalogEntry()
    {
        // Built from tests/data/models/openPangu-Ultra-MoE-718B.arch_facts.md (no config.json copy exists):
        // every key and value is from its table. torch_dtype is NOT from the facts: it only keeps the
        // precision warning out of this test.
        const string json = """
            {
              "architectures": ["PanguUltraMoEForCausalLM"],
              "model_type": "pangu_ultra_moe",
              "num_dense_layers": 3,
              "hidden_size": 7680,
              "intermediate_size": 18432,
              "attention_kv_lora_dim": 512,
              "max_position_embeddings": 131072,
              "moe_intermediate_size": 2048,
              "num_routed_experts": 256,
              "num_shared_experts": 1,
              "num_attention_heads": 128,
              "num_experts_per_tok": 8,
              "num_hidden_layers": 61,
              "num_key_value_heads": 128,
              "num_mtp_layers": 1,
              "attention_q_lora_dim": 1536,
              "attention_qk_dim": 128,
              "attention_qk_rope_dim": 64,
              "rms_norm_eps": 1e-5,
              "rope_theta": 25600000,
              "routed_scaling_factor": 2.5,
              "sandwich_norm": true,
              "tie_word_embeddings": false,
              "attention_v_dim": 128,
              "vocab_size": 153600,
              "torch_dtype": "bfloat16"
            }
            """;
        var result = Read(json, "openPangu-Ultra-MoE-718B.json");

        Assert.Empty(result.Diagnostics);
        Assert.Equal("openpangu-ultra-moe-718b", result.Model!.Name);
        Assert.Equal(EmbeddedCatalog.Instance.FindModel("openpangu-ultra-moe-718b")!.Architecture, result.Model.Architecture);
    }

    [Fact]
    public void Qwen2MoeReadsAsTheCatalogEntry()
    {
        // Built from tests/data/models/Qwen1.5-MoE-A2.7B.arch_facts.md ("agreed values", base-model dtype).
        const string json = """
            {
              "architectures": ["Qwen2MoeForCausalLM"], "model_type": "qwen2_moe",
              "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 24,
              "num_attention_heads": 16, "num_key_value_heads": 16, "vocab_size": 151936,
              "num_experts": 60, "num_experts_per_tok": 4, "moe_intermediate_size": 1408,
              "shared_expert_intermediate_size": 5632, "norm_topk_prob": false, "decoder_sparse_step": 1,
              "max_window_layers": 21, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
              "sliding_window": 32768, "use_sliding_window": false, "tie_word_embeddings": false,
              "router_aux_loss_coef": 0.001, "output_router_logits": false, "torch_dtype": "bfloat16",
              "max_position_embeddings": 8192
            }
            """;
        var result = Read(json, "Qwen1.5-MoE-A2.7B.json");

        Assert.Empty(result.Diagnostics);
        var entry = EmbeddedCatalog.Instance.FindModel("qwen1.5-moe-a2.7b")!;
        Assert.Equal(entry.Architecture, result.Model!.Architecture);
        Assert.Equal(entry.NativeWeightPrecision, result.Model.NativeWeightPrecision);
        Assert.Equal("qwen1.5-moe-a2.7b", result.Model.Name);
    }

    [Theory]
    [InlineData("modelopt", "NVFP4", "nvfp4")] // ModelOpt's export: {"quant_method": "modelopt", "quant_algo": "NVFP4"} (vLLM's modelopt.py reads it)
    [InlineData("modelopt", "nvfp4", "nvfp4")] // vLLM upper-cases quant_algo: ModelOpt may write it lower-case
    [InlineData("mxfp4", null, "mxfp4")] // gpt-oss style MXFP4 checkpoints: quant_method mxfp4
    public void Fp4CheckpointsAreReadAsTheirFormat(string method, string? algorithm, string expected)
    {
        var result = Read(DeepSeekWith(j =>
        {
            var q = new JsonObject { ["quant_method"] = method };
            if (algorithm is not null)
            {
                q["quant_algo"] = algorithm;
            }

            j["quantization_config"] = q;
        }));
        Assert.Equal(expected, result.Model!.NativeWeightPrecision);
    }

    [Fact]
    public void GptqInt4QuantizationIsInt4()
    {
        // The arch facts mention the -Chat-GPTQ-Int4 variant: quant_method gptq, 4 bits, torch_dtype float16.
        var json = QwenWith(j =>
        {
            j["torch_dtype"] = "float16";
            j["quantization_config"] = new JsonObject { ["quant_method"] = "gptq", ["bits"] = 4 };
        });
        Assert.Equal("int4", Read(json).Model!.NativeWeightPrecision);
    }

    [Theory]
    [InlineData("models/DeepSeek-V3.config.json", "deepseek-v3")]
    [InlineData(@"C:\models\Foo-Bar.json", "foo-bar")]
    [InlineData("my.config.json", "my")]
    [InlineData("config", "config")]
    public void ModelNameIsTheLowerCasedFileName(string path, string name) =>
        Assert.Equal(name, HuggingFaceConfigReader.ModelNameFromPath(path));

    [Fact]
    public void ModelTypeMayBeMissingWhenArchitecturesNamesASupportedClass()
    {
        var json = QwenWith(j => j.Remove("model_type"));
        var result = Read(json);
        Assert.Empty(result.Diagnostics);
        Assert.Equal(EmbeddedCatalog.Instance.FindModel("qwen3-235b-a22b")!.Architecture, result.Model!.Architecture);
    }

    [Fact]
    public void WholeNumbersWrittenAsFloatsAreAccepted()
    {
        var result = Read(DeepSeekWith(j => j["hidden_size"] = JsonNode.Parse("7168.0")));
        Assert.Empty(result.Diagnostics);
        Assert.Equal(7168, result.Model!.Architecture.HiddenSize);
    }

    [Fact]
    public void MlpOnlyLayersPrefixBecomesLeadingDenseLayers()
    {
        var result = Read(QwenWith(j => j["mlp_only_layers"] = new JsonArray(1, 0)));
        Assert.Empty(result.Diagnostics);
        Assert.Equal(2, result.Model!.Architecture.FirstDenseLayers);
    }

    // ---- MP2101 invalid JSON -----------------------------------------------------------------------

    [Fact]
    public void InvalidJsonReportsOneBasedLineAndColumn()
    {
        // Line 3 is `  "vocab_size": }`: two spaces, 12 characters of key, ':' and a space put '}' at column 17.
        const string json = "{\n  \"hidden_size\": 7168,\n  \"vocab_size\": }";
        var result = Read(json);

        Assert.Null(result.Model);
        var diagnostic = Single(result, "MP2101");
        Assert.Contains("line 3, column 17", diagnostic.Message, StringComparison.Ordinal);
        Assert.Contains("test.config.json", diagnostic.Message, StringComparison.Ordinal);
        Assert.Equal(ModelToken, diagnostic.Span);
        Assert.True(diagnostic.IsError);
    }

    [Fact]
    public void TruncatedFileIsInvalidJson()
    {
        var text = ModelFile("DeepSeek-V3.config.json");
        var result = Read(text[..(text.Length / 2)]);
        Assert.Null(result.Model);
        Single(result, "MP2101");
    }

    [Fact]
    public void EmptyTextIsInvalidJson() => Single(Read(""), "MP2101");

    [Fact]
    public void NoPrefixOfARealConfigThrows()
    {
        // Every truncation of a real file: either a model (the full text) or diagnostics, never an exception.
        var text = ModelFile("Qwen3-235B-A22B.config.json");
        for (var length = 0; length < text.Length; length++)
        {
            var result = Read(text[..length]);
            if (result.Model is null)
            {
                Assert.NotEmpty(result.Diagnostics);
            }
            else
            {
                Assert.True(length >= text.TrimEnd().Length, $"prefix of length {length} produced a model");
            }
        }
    }

    // ---- MP2102 missing field ----------------------------------------------------------------------

    [Theory]
    [InlineData("kv_lora_rank")]
    [InlineData("hidden_size")]
    [InlineData("n_routed_experts")]
    [InlineData("first_k_dense_replace")]
    [InlineData("q_lora_rank")]
    public void MissingRequiredDeepSeekFieldIsNamed(string field)
    {
        var result = Read(DeepSeekWith(j => j.Remove(field)));
        Assert.Null(result.Model);
        var diagnostic = Single(result, "MP2102");
        Assert.Contains($"$.{field}", diagnostic.Message, StringComparison.Ordinal);
        Assert.Equal(ModelToken, diagnostic.Span);
    }

    [Fact]
    public void MissingRequiredQwenFieldIsNamed()
    {
        var diagnostic = Single(Read(QwenWith(j => j.Remove("num_experts"))), "MP2102");
        Assert.Contains("$.num_experts", diagnostic.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SeveralMissingFieldsAreAllReported()
    {
        var result = Read(DeepSeekWith(j =>
        {
            j.Remove("vocab_size");
            j.Remove("v_head_dim");
        }));
        Assert.Equal(["MP2102", "MP2102"], result.Diagnostics.Select(d => d.Code));
    }

    [Fact]
    public void MissingModelTypeAndArchitecturesIsMissingField()
    {
        var result = Read(DeepSeekWith(j =>
        {
            j.Remove("model_type");
            j.Remove("architectures");
        }));
        var diagnostic = Single(result, "MP2102");
        Assert.Contains("$.model_type", diagnostic.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NullQLoraRankMeansFullRankQueries()
    {
        var result = Read(DeepSeekWith(j => j["q_lora_rank"] = null));
        Assert.Empty(result.Diagnostics);
        Assert.Equal(0, Assert.IsType<MlaAttention>(result.Model!.Architecture.Attention).QLoraRank);
    }

    // ---- MP2103 wrong type or value ----------------------------------------------------------------

    [Theory]
    [InlineData("hidden_size", "\"7168\"")]
    [InlineData("hidden_size", "7168.5")]
    [InlineData("num_hidden_layers", "-61")]
    [InlineData("n_routed_experts", "0")]
    [InlineData("num_attention_heads", "null")]
    [InlineData("first_k_dense_replace", "-1")]
    [InlineData("routed_scaling_factor", "0")]
    [InlineData("scoring_func", "\"relu\"")]
    [InlineData("tie_word_embeddings", "\"no\"")]
    [InlineData("num_experts_per_tok", "300")]   // more than the 256 routed experts
    [InlineData("first_k_dense_replace", "62")]  // more than the 61 layers
    [InlineData("topk_group", "9")]              // more than the 8 groups
    [InlineData("n_group", "7")]                 // does not divide 256 experts
    [InlineData("model_type", "3")]
    public void WrongTypeOrValueIsReportedWithItsPath(string field, string jsonValue)
    {
        var result = Read(DeepSeekWith(j => j[field] = JsonNode.Parse(jsonValue)));
        Assert.Null(result.Model);
        var diagnostic = Single(result, "MP2103");
        Assert.Contains($"$.{field}", diagnostic.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MessagesNameTheFileAndTheJsonPath()
    {
        // MSBuild-style, located at the DSL token that named the file (plan.moe line 3, column 12).
        Assert.Equal(
            "plan.moe(3,12): error MP2103: model config 'test.config.json': $.hidden_size must be a positive integer, found \"7168\"",
            Single(Read(DeepSeekWith(j => j["hidden_size"] = "7168")), "MP2103").ToString());
        Assert.Equal(
            "plan.moe(3,12): error MP2102: model config 'test.config.json': required field $.kv_lora_rank is missing (compressed KV width)",
            Single(Read(DeepSeekWith(j => j.Remove("kv_lora_rank"))), "MP2102").ToString());
        Assert.Equal(
            "plan.moe(3,12): warning MP2106: model config 'test.config.json': weight precision not understood ($.torch_dtype is missing); assuming bf16 weights",
            Single(Read(QwenWith(j => j.Remove("torch_dtype"))), "MP2106").ToString());
    }

    [Fact]
    public void NoSharedExpertsMeansNoSharedExpertWidth()
    {
        var architecture = Read(DeepSeekWith(j => j["n_shared_experts"] = null)).Model!.Architecture;
        Assert.Equal(0, architecture.SharedExperts);
        Assert.Equal(0, architecture.SharedExpertIntermediateSize);
    }

    [Fact]
    public void RootMustBeAnObject()
    {
        var diagnostic = Single(Read("[1, 2]"), "MP2103");
        Assert.Contains("$ must be a JSON object", diagnostic.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void KeyValueHeadsMustDivideHeads()
    {
        var diagnostic = Single(Read(QwenWith(j => j["num_key_value_heads"] = 5)), "MP2103");
        Assert.Contains("$.num_key_value_heads", diagnostic.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MlpOnlyLayersOutOfRangeIsInvalid()
    {
        var diagnostic = Single(Read(QwenWith(j => j["mlp_only_layers"] = new JsonArray(0, 94))), "MP2103");
        Assert.Contains("$.mlp_only_layers[1]", diagnostic.Message, StringComparison.Ordinal);
    }

    // ---- MP2104 unsupported model type -------------------------------------------------------------

    [Fact]
    public void UnknownModelTypeListsTheSupportedOnes()
    {
        var json = """{ "model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 4096 }""";
        var result = Read(json);
        Assert.Null(result.Model);
        var diagnostic = Single(result, "MP2104");
        Assert.Contains("$.model_type", diagnostic.Message, StringComparison.Ordinal);
        Assert.Contains("'llama'", diagnostic.Message, StringComparison.Ordinal);
        foreach (var supported in new[] { "deepseek_v3", "kimi_k2", "qwen3_moe", "qwen2_moe", "pangu_ultra_moe" })
        {
            Assert.Contains(supported, diagnostic.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void UnknownArchitectureWithoutModelTypeIsUnsupported()
    {
        var diagnostic = Single(Read("""{ "architectures": ["MixtralForCausalLM"] }"""), "MP2104");
        Assert.Contains("$.architectures[0]", diagnostic.Message, StringComparison.Ordinal);
    }

    // ---- MP2105 unsupported layer layout -----------------------------------------------------------

    [Fact]
    public void SparseStepAboveOneIsUnsupported()
    {
        var diagnostic = Single(Read(QwenWith(j => j["decoder_sparse_step"] = 2)), "MP2105");
        Assert.Contains("$.decoder_sparse_step", diagnostic.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DenseLayersThatAreNotAPrefixAreUnsupported()
    {
        var diagnostic = Single(Read(QwenWith(j => j["mlp_only_layers"] = new JsonArray(0, 5))), "MP2105");
        Assert.Contains("$.mlp_only_layers", diagnostic.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MoeLayerFrequencyAboveOneIsUnsupported() =>
        Single(Read(DeepSeekWith(j => j["moe_layer_freq"] = 2)), "MP2105");

    // ---- MP2106 precision not understood -----------------------------------------------------------

    [Fact]
    public void UnknownQuantizationIsAWarningAndFallsBackToTorchDtype()
    {
        var result = Read(DeepSeekWith(j => j["quantization_config"] = new JsonObject { ["quant_method"] = "bitsandbytes" }));
        var diagnostic = Single(result, "MP2106");
        Assert.False(diagnostic.IsError);
        Assert.Contains("$.quantization_config.quant_method", diagnostic.Message, StringComparison.Ordinal);
        Assert.Equal("bf16", result.Model!.NativeWeightPrecision); // torch_dtype bfloat16
    }

    [Fact]
    public void MissingTorchDtypeIsAWarningAssumingBf16()
    {
        var result = Read(QwenWith(j => j.Remove("torch_dtype")));
        var diagnostic = Single(result, "MP2106");
        Assert.Contains("$.torch_dtype is missing", diagnostic.Message, StringComparison.Ordinal);
        Assert.Equal("bf16", result.Model!.NativeWeightPrecision);
    }

    [Fact]
    public void NewerDtypeKeyIsUnderstood()
    {
        var result = Read(QwenWith(j =>
        {
            j.Remove("torch_dtype");
            j["dtype"] = "float16";
        }));
        Assert.Empty(result.Diagnostics);
        Assert.Equal("fp16", result.Model!.NativeWeightPrecision);
    }

    // ---- all codes ---------------------------------------------------------------------------------

    [Fact]
    public void DiagnosticsHaveNoSpanWhenNoTokenIsGiven()
    {
        var diagnostic = Assert.Single(HuggingFaceConfigReader.Read("{", "x.json", null).Diagnostics);
        Assert.Null(diagnostic.Span);
        Assert.StartsWith("moeplan: error MP2101:", diagnostic.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void EveryModelConfigCodeIsTriggered()
    {
        var triggers = new Dictionary<string, string>
        {
            ["MP2101"] = "{",
            ["MP2102"] = DeepSeekWith(j => j.Remove("vocab_size")),
            ["MP2103"] = DeepSeekWith(j => j["vocab_size"] = -1),
            ["MP2104"] = """{ "model_type": "mixtral" }""",
            ["MP2105"] = QwenWith(j => j["decoder_sparse_step"] = 3),
            ["MP2106"] = QwenWith(j => j["torch_dtype"] = "float8"),
        };
        var codes = DiagnosticCodes.All.Select(d => d.Code).Where(c => string.CompareOrdinal(c, "MP2101") >= 0 && string.CompareOrdinal(c, "MP2149") <= 0);
        Assert.Equal(codes.Order(StringComparer.Ordinal), triggers.Keys.Order(StringComparer.Ordinal));
        foreach (var (code, json) in triggers)
        {
            Assert.Contains(code, Read(json).Diagnostics.Select(d => d.Code));
        }
    }
}

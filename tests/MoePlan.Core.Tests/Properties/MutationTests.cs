using System.Collections.Immutable;
using System.Text;
using CsCheck;
using MoePlan.Core.Catalog;
using MoePlan.Core.Compilation;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Formatting;
using MoePlan.Core.Parsing;
using MoePlan.Core.Placement;
using MoePlan.Core.Tests.Formatting;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Properties;

/// <summary>One edit: its kind, where (taken modulo the length), and which replacement.</summary>
public readonly record struct Mutation(int Kind, int Position, int Choice);

/// <summary>
/// Random byte and token mutations of real inputs (the sample plans, expert-load files, HuggingFace config.json)
/// must give diagnostics, never an unhandled exception, and never a hang (each case runs with a deadline).
/// </summary>
public sealed class MutationTests
{
    private const int PlanCases = 250;
    private const int FileCases = 150;

    /// <summary>Characters that matter to the readers, and some that should not appear at all.</summary>
    private static readonly string[] Fragments =
    [
        "{", "}", "(", ")", "\"", "#", "\n", "\r", "\t", " ", "-", "+", "*", "/", "<", "<=", "=", "%", "_", ".", ",", ":", "[", "]",
        "\\", "0", "9", "1e999", "-1", "NaN", "null", "true", "\0", "\uFEFF", "\u00e9", "\ud800", "\U0001F600", "x", "ms", "/s",
        "let", "import", "deployment", "GiB", "99999999999999999999", "0.0.0", "\"\"", "{}", "[]", "[[", "]]",
    ];

    private static readonly IReadOnlyList<string> Plans = RepositoryPaths.SamplePlans().Append("plans/common/slo.moe").ToList();

    private static readonly MemorySourceResolver Resolver = MemorySourceResolver.FromRepository([.. Plans]);

    private static readonly Gen<Mutation> MutationGen = Gen.Select(Gen.Int[0, 5], Gen.Int[0, int.MaxValue], Gen.Int[0, int.MaxValue], (k, p, c) => new Mutation(k, p, c));

    private static readonly Gen<(int Input, Mutation[] Mutations)> Cases = Gen.Select(Gen.Int[0, 1000], MutationGen.Array[1, 4], (i, m) => (i, m));

    /// <summary>Byte-level edits: insert, replace or delete characters, duplicate or drop a slice.</summary>
    public static string MutateBytes(string text, IEnumerable<Mutation> mutations) => MutateBytes(text, mutations, Fragments);

    private static string MutateBytes(string text, IEnumerable<Mutation> mutations, string[] fragments)
    {
        var s = new StringBuilder(text);
        foreach (var m in mutations)
        {
            var at = s.Length == 0 ? 0 : m.Position % (s.Length + 1);
            var fragment = fragments[m.Choice % fragments.Length];
            var length = Math.Min(s.Length - at, 1 + (m.Choice % 40));
            switch (m.Kind)
            {
                case 0:
                    s.Insert(at, fragment);
                    break;
                case 1 when at < s.Length:
                    s.Remove(at, 1).Insert(at, fragment);
                    break;
                case 2 when at < s.Length:
                    s.Remove(at, length);
                    break;
                case 3 when at < s.Length:
                    s.Insert(at, s.ToString(at, length));
                    break;
                case 4 when at < s.Length:
                    s[at] = (char)(m.Choice % 0x3000);
                    break;
                default:
                    s.Append(fragment);
                    break;
            }
        }

        return s.ToString();
    }

    /// <summary>Token-level edits of a plan: drop, duplicate, swap, or replace a token with another token's text or a fragment.</summary>
    public static string MutateTokens(string text, IEnumerable<Mutation> mutations)
    {
        foreach (var m in mutations)
        {
            var tokens = MoeTokenizer.Tokenize(text).Tokens;
            if (tokens.IsEmpty)
            {
                return text + Fragments[m.Choice % Fragments.Length];
            }

            var i = m.Position % tokens.Length;
            var start = tokens[i].Span.Position.Absolute;
            var length = tokens[i].Span.Length;
            var other = tokens[m.Choice % tokens.Length].ToStringValue();
            text = m.Kind switch
            {
                0 => text.Remove(start, length),
                1 => text.Insert(start, tokens[i].ToStringValue() + " "),
                2 when i + 1 < tokens.Length => Swap(text, tokens[i], tokens[i + 1]),
                3 => text.Remove(start, length).Insert(start, other),
                4 => text.Insert(start, Fragments[m.Choice % Fragments.Length]),
                _ => text.Insert(start, other + " "),
            };
        }

        return text;
    }

    private static string Swap(string text, Superpower.Model.Token<MoeToken> a, Superpower.Model.Token<MoeToken> b)
    {
        var aStart = a.Span.Position.Absolute;
        var bStart = b.Span.Position.Absolute;
        return text[..aStart] + b.ToStringValue() + text[(aStart + a.Span.Length)..bStart] + a.ToStringValue() + text[(bStart + b.Span.Length)..];
    }

    /// <summary>Compile and format a mutant: both must finish in time and report problems as diagnostics with a place.</summary>
    private static void CompileAndFormat(string plan, string mutant)
    {
        var compiled = TimeBound.Run(() => PlanCompiler.CompileText(plan, mutant, Resolver), $"compiling a mutant of {plan}");
        Assert.All(compiled.Diagnostics, d => Assert.NotNull(d.Span));
        Assert.Equal(compiled.HasErrors, compiled.Plan is null);

        var formatted = TimeBound.Run(() => PlanFormatter.Format(mutant, plan), $"formatting a mutant of {plan}");
        var parsed = MoeParser.Parse(mutant, plan);
        Assert.Equal(parsed.Succeeded, formatted.Succeeded);
        if (formatted.Text is { } text)
        {
            // A mutant that still parses must round-trip like any plan.
            var reparsed = MoeParser.Parse(text, plan).Syntax;
            Assert.NotNull(reparsed);
            Assert.Equal(SyntaxShape.Of(parsed.Syntax!), SyntaxShape.Of(reparsed));
            Assert.Equal(SyntaxShape.Comments(parsed.Syntax!), SyntaxShape.Comments(reparsed));
            Assert.Equal(text, PlanFormatter.Format(text, plan).Text);
        }
        else
        {
            Assert.Contains(formatted.Diagnostics, d => d.IsError && d.Code.StartsWith("MP1", StringComparison.Ordinal));
        }
    }

    private static string Read(string plan)
    {
        Assert.True(Resolver.TryRead(plan, out var text, out _));
        return text;
    }

    private static string Show((int Input, Mutation[] Mutations) c) => $"input {c.Input % Plans.Count}: {string.Join(", ", c.Mutations)}";

    [Fact]
    public void Byte_mutations_of_the_sample_plans_give_diagnostics()
    {
        Cases.Sample(c =>
        {
            var plan = Plans[c.Input % Plans.Count];
            CompileAndFormat(plan, MutateBytes(Read(plan), c.Mutations));
        }, iter: PlanCases, print: Show);
    }

    [Fact]
    public void Token_mutations_of_the_sample_plans_give_diagnostics()
    {
        Cases.Sample(c =>
        {
            var plan = Plans[c.Input % Plans.Count];
            CompileAndFormat(plan, MutateTokens(Read(plan), c.Mutations));
        }, iter: PlanCases, print: Show);
    }

    private static readonly string[] LoadFiles =
    [
        File.ReadAllText(RepositoryPaths.PathOf("plans", "data", "deepseek-v3-sglang-decode_in2000out100.json")),
        "layer,expert,load\n0,0,10\n0,1,20\n0,2,5\n0,3,0\n1,0,7\n1,1,7\n1,2,1\n1,3,3\n",
        "[[10, 20, 5, 0], [7, 7, 1, 3.5]]\n",
        "{\"logical_count\": [[[1, 2, 3, 4], [4, 3, 2, 1]], [[0, 0, 1, 1], [2, 2, 2, 2]]]}\n",
    ];

    private static void AssertDiagnosticsOnly<T>(Func<T> read, Func<T, ImmutableArray<Diagnostic>> diagnostics, Func<T, bool> succeeded, string what)
    {
        var result = TimeBound.Run(read, what);
        Assert.True(succeeded(result) || diagnostics(result).Any(d => d.IsError), $"{what}: no result and no error");
        Assert.All(diagnostics(result), d => Assert.NotNull(d.Span));
    }

    [Fact]
    public void Mutations_of_expert_load_files_give_diagnostics()
    {
        Gen.Select(Cases, Gen.Bool, Gen.Int[0, 3], (c, bytes, format) => (c, bytes, format)).Sample(x =>
        {
            var original = LoadFiles[x.c.Input % LoadFiles.Length];
            var mutant = x.bytes ? MutateBytes(original, x.c.Mutations) : MutateSlices(original, x.c.Mutations);
            var format = (ExpertLoadFormat)x.format;
            AssertDiagnosticsOnly(() => ExpertLoadReader.Read(mutant, "loads.json", format, x.format % 2 == 0 ? null : 2, x.format % 2 == 0 ? null : 4),
                r => r.Diagnostics, r => r.Loads is not null, "reading a mutated load file");
        }, iter: FileCases, print: x => $"{Show(x.c)} bytes={x.bytes} format={x.format}");
    }

    private const string DeepSeekConfig = """
        {
          "architectures": ["DeepseekV3ForCausalLM"],
          "model_type": "deepseek_v3",
          "hidden_size": 7168,
          "intermediate_size": 18432,
          "moe_intermediate_size": 2048,
          "num_hidden_layers": 61,
          "first_k_dense_replace": 3,
          "n_routed_experts": 256,
          "n_shared_experts": 1,
          "num_experts_per_tok": 8,
          "n_group": 8,
          "topk_group": 4,
          "num_attention_heads": 128,
          "num_key_value_heads": 128,
          "kv_lora_rank": 512,
          "q_lora_rank": 1536,
          "qk_nope_head_dim": 128,
          "qk_rope_head_dim": 64,
          "v_head_dim": 128,
          "num_nextn_predict_layers": 1,
          "vocab_size": 129280,
          "max_position_embeddings": 163840,
          "tie_word_embeddings": false,
          "torch_dtype": "bfloat16",
          "quantization_config": { "quant_method": "fp8", "weight_block_size": [128, 128] }
        }
        """;

    private const string QwenConfig = """
        { "architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "hidden_size": 4096, "intermediate_size": 12288,
          "moe_intermediate_size": 1536, "num_hidden_layers": 94, "num_experts": 128, "num_experts_per_tok": 8,
          "num_attention_heads": 64, "num_key_value_heads": 4, "head_dim": 128, "vocab_size": 151936,
          "max_position_embeddings": 40960, "decoder_sparse_step": 1, "mlp_only_layers": [], "torch_dtype": "bfloat16" }
        """;

    /// <summary>Config diagnostics point at the plan's <c>model from "..."</c> (the message names the place in the JSON).</summary>
    private static readonly MoePlan.Core.Text.SourceSpan ReferencedAt = new("plan.moe", 40, 27, 3, 9);

    [Fact]
    public void Mutations_of_huggingface_configs_give_diagnostics()
    {
        string[] configs = [DeepSeekConfig, QwenConfig];
        Gen.Select(Cases, Gen.Bool, (c, bytes) => (c, bytes)).Sample(x =>
        {
            var original = configs[x.c.Input % configs.Length];
            var mutant = x.bytes ? MutateBytes(original, x.c.Mutations, Fragments) : MutateSlices(original, x.c.Mutations);
            AssertDiagnosticsOnly(() => HuggingFaceConfigReader.Read(mutant, "models/config.json", ReferencedAt),
                r => r.Diagnostics, r => r.Model is not null, "reading a mutated config.json");
        }, iter: FileCases, print: x => $"{Show(x.c)} bytes={x.bytes}");
    }

    /// <summary>Structure-aware edits of JSON and CSV: numbers become other values, punctuation is dropped or doubled.</summary>
    private static string MutateSlices(string text, IEnumerable<Mutation> mutations)
    {
        string[] values = ["-1", "0", "1e309", "-0", "3.5", "\"7\"", "null", "[]", "{}", "true", "2147483648", "NaN", "", "1,", "[1]"];
        foreach (var m in mutations)
        {
            var numbers = System.Text.RegularExpressions.Regex.Matches(text, @"-?\d+(\.\d+)?|[\[\]{},:]");
            if (numbers.Count == 0)
            {
                return text + values[m.Choice % values.Length];
            }

            var match = numbers[m.Position % numbers.Count];
            text = (m.Kind % 3) switch
            {
                0 => text.Remove(match.Index, match.Length).Insert(match.Index, values[m.Choice % values.Length]),
                1 => text.Remove(match.Index, match.Length),
                _ => text.Insert(match.Index, match.Value),
            };
        }

        return text;
    }
}

using System.Text;
using CsCheck;
using MoePlan.Core.Syntax;

namespace MoePlan.Core.Tests.Properties;

/// <summary>White space and comments around one item: comment lines and blank lines before it, a trailing comment, the gap between its tokens.</summary>
internal sealed record Decor(string? CommentBefore, int BlankLinesBefore, string? Trailing, string Gap, string Indent);

internal sealed record GeneratedSetting(string Name, string[] Arguments, GeneratedBlock? Block, Decor Decor);

internal sealed record GeneratedBlock(GeneratedSetting[] Settings, bool OneLine, string? CommentBeforeClose);

internal sealed record GeneratedLet(string Name, string Value, Decor Decor);

internal sealed record GeneratedPlan(bool Import, GeneratedLet[] Lets, string Name, GeneratedBlock Body, Decor DeploymentDecor, string? TailComment, bool Crlf)
{
    /// <summary>The plan as text, laid out as its decorations say.</summary>
    public string Render()
    {
        var text = new StringBuilder();
        if (Import)
        {
            text.Append("import \"common/slo.moe\"\n");
        }

        foreach (var let in Lets)
        {
            Before(text, let.Decor);
            text.Append("let").Append(let.Decor.Gap).Append(let.Name).Append(let.Decor.Gap).Append('=').Append(let.Decor.Gap).Append(let.Value);
            Trailing(text, let.Decor);
        }

        Before(text, DeploymentDecor);
        text.Append("deployment").Append(DeploymentDecor.Gap).Append('"').Append(Name).Append('"').Append(DeploymentDecor.Gap);
        RenderBlock(text, Body, DeploymentDecor, forceMultiLine: true);
        if (TailComment is not null)
        {
            text.Append(TailComment).Append('\n');
        }

        var result = text.ToString();
        return Crlf ? result.Replace("\n", "\r\n", StringComparison.Ordinal) : result;
    }

    private static void Before(StringBuilder text, Decor decor)
    {
        for (var i = 0; i < decor.BlankLinesBefore; i++)
        {
            text.Append('\n');
        }

        if (decor.CommentBefore is not null)
        {
            text.Append(decor.Indent).Append(decor.CommentBefore).Append('\n');
        }

        text.Append(decor.Indent);
    }

    private static void Trailing(StringBuilder text, Decor decor)
    {
        if (decor.Trailing is not null)
        {
            text.Append(decor.Gap).Append(decor.Trailing);
        }

        text.Append('\n');
    }

    private static void SettingText(StringBuilder text, GeneratedSetting setting)
    {
        text.Append(setting.Name);
        foreach (var argument in setting.Arguments)
        {
            text.Append(setting.Decor.Gap).Append(argument);
        }
    }

    /// <summary>Renders <c>{ ... }</c> and ends the line of its owner.</summary>
    private static void RenderBlock(StringBuilder text, GeneratedBlock block, Decor owner, bool forceMultiLine)
    {
        if (block.OneLine && !forceMultiLine)
        {
            RenderOneLine(text, block);
            Trailing(text, owner);
            return;
        }

        text.Append('{');
        Trailing(text, owner);
        foreach (var setting in block.Settings)
        {
            Before(text, setting.Decor);
            SettingText(text, setting);
            if (setting.Block is { } child)
            {
                text.Append(setting.Decor.Gap);
                RenderBlock(text, child, setting.Decor, forceMultiLine: false);
            }
            else
            {
                Trailing(text, setting.Decor);
            }
        }

        if (block.CommentBeforeClose is not null)
        {
            text.Append(block.CommentBeforeClose).Append('\n');
        }

        text.Append('}');
    }

    private static void RenderOneLine(StringBuilder text, GeneratedBlock block)
    {
        text.Append('{');
        foreach (var setting in block.Settings)
        {
            text.Append(setting.Decor.Gap);
            SettingText(text, setting);
            if (setting.Block is { } child)
            {
                text.Append(setting.Decor.Gap);
                RenderOneLine(text, child);
            }
        }

        text.Append(block.Settings.Length == 0 ? "" : " ").Append('}');
    }
}

/// <summary>
/// Random plans from the grammar: a deployment whose blocks hold random subsets of the settings
/// <see cref="LanguageSchema"/> lists, with realistic values (numbers, quantities, names, let arithmetic),
/// laid out at random (one-line or multi-line blocks, gaps, tabs, blank lines, comments, CRLF).
/// </summary>
internal static class PlanGenerator
{
    private static readonly string[] LetNames = ["prefill_nodes", "decode_nodes", "n", "ttft_goal", "rate"];

    private static readonly Gen<string> Gap = Gen.Frequency((6, Gen.Const(" ")), (2, Gen.Const("  ")), (1, Gen.Const("\t")), (1, Gen.Const(" \t ")));

    private static readonly Gen<string?> Comment = Gen.Frequency(
        (12, Gen.Const((string?)null)),
        (1, Gen.Const<string?>("# note")),
        (1, Gen.Const<string?>("#")),
        (1, Gen.Const<string?>("#tight   ")),
        (1, Gen.Const<string?>("# ünïcode ✓ { } \" ( -")),
        (1, Gen.Int[0, 999].Select(i => (string?)$"# comment {i}")));

    private static readonly Gen<Decor> DecorGen =
        Gen.Select(Comment, Gen.Frequency((6, Gen.Const(0)), (2, Gen.Const(1)), (1, Gen.Const(3))), Comment, Gap,
            Gen.OneOf("", "  ", "    ", "\t", " "),
            (before, blank, trailing, gap, indent) => new Decor(before, blank, trailing, gap, indent));

    private static readonly Gen<string> Integer = Gen.Frequency(
        (4, Gen.Int[1, 512].Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))),
        (1, Gen.OneOf("16_384", "4096", "0", "1_000_000", "144")));

    private static readonly Gen<string> Decimal = Gen.OneOf("0.7", "0.3", "56.3%", "70%", "1.5");

    private static readonly Gen<string> Atom = Gen.Frequency((5, Integer), (1, Decimal), (2, Gen.OneOf(LetNames)));

    private static readonly Gen<string> NumberExpression = Expression(Atom, 2, Gen.Const(" "));

    private static readonly Gen<string> Duration = Gen.Frequency((4, Gen.OneOf("2s", "50ms", "500us", "1.5s", "70ms")), (1, Gen.OneOf("ttft_goal", "interactive_ttft", "interactive_tpot")));

    private static readonly Gen<string> Precision = Gen.OneOf("bf16", "fp8", "int8");

    private static readonly Gen<string> OnOff = Gen.OneOf("on", "off");

    /// <summary>Arithmetic: atoms, binary operators (maybe glued on the left), parentheses, negation.</summary>
    private static Gen<string> Expression(Gen<string> atom, int depth, Gen<string> afterOperator)
    {
        if (depth == 0)
        {
            return atom;
        }

        var inner = Expression(atom, depth - 1, afterOperator);
        return Gen.Frequency(
            (5, atom),
            (2, Gen.Select(inner, Gen.OneOf(" ", "", "  "), Gen.OneOf('+', '-', '*', '/'), afterOperator, inner,
                (left, before, op, after, right) => left + before + op + after + right)),
            (1, inner.Select(e => "(" + e + ")")),
            (1, Gen.Select(Gen.OneOf("(", " ( "), inner, (open, e) => open + e + ")")),
            (1, atom.Select(a => "-" + a)));
    }

    private static Gen<string[]> Args(params Gen<string>[] parts) =>
        parts.Aggregate(Gen.Const((string[])[]), (acc, part) => Gen.Select(acc, part, (a, p) => (string[])[.. a, p]));

    private static Gen<string[]> Words(params string[] words) => Gen.Const(words);

    /// <summary>Arguments for a setting, by block kind and name; null child block kind when the setting takes none.</summary>
    private static Gen<(string[] Arguments, string? Child)> ValueOf(string kind, string name)
    {
        Gen<(string[], string?)> Plain(Gen<string[]> args) => args.Select(a => (a, (string?)null));
        Gen<(string[], string?)> WithBlock(Gen<string[]> args, string child) => args.Select(a => (a, (string?)child));
        return (kind, name) switch
        {
            (_, "engine") => Plain(Args(Gen.OneOf("vllm", "sglang", "omni-infer"))),
            (_, "model") => Gen.Frequency(
                (4, Plain(Args(Gen.OneOf("deepseek-v3", "qwen3-235b-a22b", "qwen1.5-moe-a2.7b", "openpangu-ultra-moe-718b", "kimi-k2")))),
                (1, Plain(Words("from", "\"models/config.json\"")))),
            (LanguageSchema.Deployment, "precision") => Gen.Frequency((1, Plain(Args(Precision))), (2, WithBlock(Args(Precision), "precision"))),
            ("precision", _) => Plain(Args(Precision)),
            (_, "hardware") => Plain(Args(Gen.OneOf("h800", "h100", "h200", "ascend-910c", "ascend-910b"))),
            (_, "cluster" or "prefill" or "decode" or "placement" or "proxy" or "slo" or "workload" or "parallel") => WithBlock(Words(), name),
            (_, "price") => Plain(Args(Gen.OneOf("2.0usd/device-hour", "3.5usd/device-hour"))),
            (_, "scale_up_bandwidth" or "scale_out_bandwidth") => Plain(Args(Gen.OneOf("400GB/s", "200Gbps", "1.6Tbps", "56GiB/s"))),
            (_, "max_batch_tokens" or "max_batch") => Plain(Gen.Frequency((3, Args(NumberExpression, Gen.Const("per"), Gen.Const("device"))), (1, Args(NumberExpression)))),
            (_, "mtp") => Gen.Frequency((1, Plain(Words("off"))), (2, WithBlock(Words(), "mtp"))),
            (_, "microbatch_overlap" or "uneven" or "apc" or "tokenizer_reuse") => Plain(Args(OnOff)),
            (_, "acceptance" or "prefix_share") => Plain(Args(Decimal)),
            (_, "algorithm") => Plain(Args(Gen.OneOf("moeplan", "eplb-hierarchical", "eplb-global", "omni"))),
            (_, "loads") => Plain(Gen.Frequency((1, Args(Gen.OneOf("\"data/loads.json\"", "\"a \\\"quoted\\\" \\\\ path.csv\""))), (1, Args(Gen.Const("synthetic"), Gen.Const("seed"), Integer)))),
            (_, "mode") => Plain(Args(Gen.OneOf("sequential", "parallel"))),
            (_, "policy") => Plain(Gen.Frequency((3, Args(Gen.OneOf("omni", "round-robin", "least-load", "cache-aware"))), (1, Words("script", "\"policy.csx\"")))),
            (_, "ttft" or "tpot") => Plain(Args(Gen.OneOf("p99", "p90", "mean", "p99.9"), Gen.OneOf("<", "<="), Expression(Duration, 1, Gen.Const(" ")))),
            (_, "trace") => Plain(Args(Gen.Const("\"trace.csv\""), Gen.Const("format"), Gen.OneOf("mooncake", "azure"))),
            (_, "arrivals") => Plain(Args(Gen.OneOf("poisson", "constant"), Gen.Frequency((3, Gen.OneOf("40/s", "200/min", "1.5/s")), (1, Gen.Const("rate"))))),
            (_, "input" or "output") => Gen.Frequency(
                (2, Plain(Args(Gen.Const("fixed"), NumberExpression))),
                (1, WithBlock(Words("uniform"), "distribution")),
                (2, WithBlock(Words("lognormal"), "distribution"))),
            _ => Plain(Args(NumberExpression)),
        };
    }

    private static Gen<GeneratedSetting> Setting(string kind, string name, int depth) =>
        ValueOf(kind, name).SelectMany(value => Gen.Select(
            value.Child is { } child && depth < 4 ? Block(child, depth + 1).Select(b => (GeneratedBlock?)b) : Gen.Const((GeneratedBlock?)null),
            DecorGen,
            (block, decor) => new GeneratedSetting(name, value.Arguments, block, decor)));

    /// <summary>A block of <paramref name="kind"/>: a random subset of its settings in a random order.</summary>
    public static Gen<GeneratedBlock> Block(string kind, int depth)
    {
        var names = LanguageSchema.Blocks[kind].Select(s => s.Name).ToArray();
        return Gen.Int[0, names.Length].SelectMany(count =>
            Gen.Shuffle(names, count).SelectMany(chosen =>
                Gen.Select(
                    chosen.Aggregate(Gen.Const((GeneratedSetting[])[]), (acc, name) => Gen.Select(acc, Setting(kind, name, depth), (a, s) => (GeneratedSetting[])[.. a, s])),
                    Gen.Frequency((2, Gen.Const(true)), (3, Gen.Const(false))),
                    Comment,
                    (settings, oneLine, close) => new GeneratedBlock(settings, oneLine, close))));
    }

    private static readonly Gen<GeneratedLet> Let =
        Gen.Select(Gen.OneOf(LetNames), Expression(Gen.Frequency((4, Atom), (1, Duration)), 3, Gen.OneOf(" ", " ", " ", "\n    ", " \n")), DecorGen,
            (name, value, decor) => new GeneratedLet(name, value, decor));

    public static readonly Gen<GeneratedPlan> Plan =
        Gen.Select(Gen.Bool, Let.Array[0, 4], Gen.OneOf("plan-a", "deepseek-v3-h800", "x y"), Block(LanguageSchema.Deployment, 0), DecorGen, Comment, Gen.Frequency((4, Gen.Const(false)), (1, Gen.Const(true))),
            (import, lets, name, body, decor, tail, crlf) => new GeneratedPlan(import, lets, name, body, decor, tail, crlf));
}

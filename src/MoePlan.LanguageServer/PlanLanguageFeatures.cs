using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MoePlan.Core.Binding;
using MoePlan.Core.Catalog;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Formatting;
using MoePlan.Core.Placement;
using MoePlan.Core.Plan;
using MoePlan.Core.Syntax;
using MoePlan.Core.Text;

namespace MoePlan.LanguageServer;

/// <summary>Hover, completion, definition, formatting and code actions on one analysed document.</summary>
public static partial class PlanLanguageFeatures
{
    private static readonly string[] OnOff = ["on", "off"];

    /// <summary>The values a setting takes where they are a closed list (catalog names, policies, words).</summary>
    private static IEnumerable<(string Label, string Detail)> ValuesOf(string setting) => setting switch
    {
        "model" => EmbeddedCatalog.Instance.Models.Select(m => (m.Name, m.DisplayName)),
        "hardware" => EmbeddedCatalog.Instance.Hardware.Select(h => (h.Name, h.DisplayName)),
        "engine" => DeploymentBinder.Engines.Select(e => (e, "engine")),
        "policy" => RoutingPolicyCatalog.All.Select(p => (p.Name, p.Summary)),
        "algorithm" => PlacementAlgorithms.Names.Select(a => (a, "placement algorithm")),
        "mode" => new[] { ("sequential", "P/D mode (vLLM)"), ("parallel", "P/D mode (SGLang)") },
        "worker_state" => new[] { ("shared", "one master view"), ("independent", "each worker its own view") },
        "attention" or "experts" or "dense" or "kv_cache" or "dispatch" or "combine" or "precision" => DeploymentBinder.Formats.Select(f => (f, "numeric format")),
        "microbatch_overlap" or "uneven" or "apc" or "tokenizer_reuse" or "mtp" => OnOff.Select(o => (o, "switch")),
        "arrivals" => new[] { ("poisson", "Poisson arrivals at a rate"), ("constant", "constant arrivals at a rate") },
        "input" or "output" => new[] { ("fixed", "fixed length"), ("uniform", "uniform lengths"), ("lognormal", "lognormal lengths") },
        _ => [],
    };

    // ---- hover ----

    public static JsonObject? Hover(PlanAnalysis analysis, int offset)
    {
        if (analysis.Compilation.Syntax is not { } file)
        {
            return null;
        }

        foreach (var let in file.Statements.OfType<LetSyntax>())
        {
            if (Contains(let.Name.Range, offset))
            {
                return Markdown(LetText(analysis, let.Name.Name), let.Name.Range, analysis.Lines);
            }

            if (IdentifierAt(let.Value, offset) is { } used && analysis.Scope.TryGet(used.Name, out _))
            {
                return Markdown(LetText(analysis, used.Name), used.Range, analysis.Lines);
            }
        }

        foreach (var (setting, kind) in Settings(file))
        {
            if (Contains(setting.Name.Range, offset))
            {
                return Markdown(SettingText(analysis, setting, kind), setting.Name.Range, analysis.Lines);
            }

            foreach (var argument in setting.Arguments)
            {
                if (argument is ExpressionSyntax expression && Contains(argument.Range, offset))
                {
                    if (IdentifierAt(expression, offset) is { } used && analysis.Scope.TryGet(used.Name, out _))
                    {
                        return Markdown(LetText(analysis, used.Name), used.Range, analysis.Lines);
                    }

                    return Markdown(SettingText(analysis, setting, kind), argument.Range, analysis.Lines);
                }
            }
        }

        return null;
    }

    private static string LetText(PlanAnalysis analysis, string name)
    {
        analysis.Scope.TryGet(name, out var value);
        analysis.Scope.TryGetDefinition(name, out var span);
        return $"**`let {name}`** = {Show(value)}\n\ndefined at {Path.GetFileName(span.File)}({span.Line},{span.Column})";
    }

    private static string Show(BoundValue? value) => value switch
    {
        { Quantity: { } q } => $"`{ExpressionEvaluator.Show(q)}` ({Units.Describe(q.Dimension)})",
        { Text: { } t } => $"`{t}`",
        _ => "(no value: see the diagnostics)",
    };

    private static string SettingText(PlanAnalysis analysis, SettingSyntax setting, string kind)
    {
        var text = new StringBuilder();
        var schema = LanguageSchema.Blocks.TryGetValue(kind, out var settings) ? settings.FirstOrDefault(s => s.Name == setting.Name.Name) : null;
        text.Append(CultureInfo.InvariantCulture, $"**`{setting.Name.Name}`** in `{kind}`: {schema?.Summary ?? "not a setting of this block"}");

        // The arguments after `let` arithmetic, with the unit kind each carries.
        var values = new List<string>();
        var evaluator = new ExpressionEvaluator(analysis.Document.Path, analysis.Scope, new List<Diagnostic>());
        foreach (var argument in setting.Arguments.OfType<ExpressionSyntax>())
        {
            // Words (`sglang`, `per`, `device`) and file names are not values to show; let names are.
            if (argument is StringLiteralSyntax || (argument is IdentifierSyntax ident && !analysis.Scope.TryGet(ident.Name, out _)))
            {
                continue;
            }

            values.Add(Show(evaluator.Evaluate(argument)));
        }

        if (values.Count > 0)
        {
            text.Append("\n\nvalue: ").Append(string.Join(", ", values));
        }

        if (kind == LanguageSchema.Deployment && setting.Name.Name is "prefill" or "decode" or "serve")
        {
            var role = setting.Name.Name switch { "prefill" => PoolRole.Prefill, "serve" => PoolRole.Serve, _ => PoolRole.Decode };
            text.Append("\n\n").Append(PoolText(analysis, role));
        }

        return text.ToString();
    }

    /// <summary>A pool's per-rank memory (the verifier's model) and step time (the cost model's).</summary>
    private static string PoolText(PlanAnalysis analysis, PoolRole role)
    {
        if (analysis.Compilation.Plan is not { } plan)
        {
            return "_memory and step time: the plan has errors_";
        }

        var pool = role == PoolRole.Prefill ? plan.Prefill : plan.Decode;
        var m = MemoryModel.Compute(plan, pool);
        static string Gb(double bytes) => (bytes / 1e9).ToString("0.0", CultureInfo.InvariantCulture);
        var text = new StringBuilder("per-rank memory (GB):\n\n| part | GB |\n|---|---|\n");
        text.Append(CultureInfo.InvariantCulture, $"| weights | {Gb(m.WeightBytes)} |\n| KV cache | {Gb(m.KvCacheBytes)} |\n| activations | {Gb(m.ActivationBytes)} |\n");
        text.Append(CultureInfo.InvariantCulture, $"| communication buffers | {Gb(m.CommunicationBufferBytes)} |\n| **total** | **{Gb(m.TotalBytes)}** of {Gb(m.UsableBytes)} usable ({Gb(m.CapacityBytes)} HBM) |\n");
        if (analysis.Compilation.Cost?.Report is { } report)
        {
            var step = role == PoolRole.Prefill ? report.Prefill.Step : report.Decode.Step;
            text.Append(CultureInfo.InvariantCulture, $"\nstep time: {step.StepMilliseconds:0.00} ms (compute {step.ComputeMilliseconds:0.00} ms, communication {step.CommunicationMilliseconds:0.00} ms)");
            // A serve pool's balanced mixed step gives its TPOT; its TTFT comes from the full-chunk step.
            text.Append(role switch
            {
                PoolRole.Prefill => string.Create(CultureInfo.InvariantCulture, $"; TTFT {report.Prefill.TtftMilliseconds:0} ms"),
                PoolRole.Serve => string.Create(CultureInfo.InvariantCulture, $"; TTFT {report.Prefill.TtftMilliseconds:0} ms, TPOT {report.Decode.TpotMilliseconds:0.0} ms"),
                _ => string.Create(CultureInfo.InvariantCulture, $"; TPOT {report.Decode.TpotMilliseconds:0.0} ms"),
            });
        }

        return text.ToString();
    }

    // ---- completion ----

    public static JsonArray Completion(PlanAnalysis analysis, int offset)
    {
        var text = analysis.Document.Text;
        offset = Math.Clamp(offset, 0, text.Length);
        var lineStart = text.LastIndexOf('\n', Math.Max(0, offset - 1)) + 1;
        if (offset == 0)
        {
            lineStart = 0;
        }

        var linePrefix = text[lineStart..offset];
        var kind = BlockKindAt(text, lineStart);
        var words = Regex.Split(linePrefix.Trim(), @"[\s{]+").Where(w => w.Length > 0).ToArray();
        var items = new JsonArray();
        var typingFirstWord = words.Length == 0 || (words.Length == 1 && !char.IsWhiteSpace(linePrefix[^1]));
        if (typingFirstWord)
        {
            if (kind is null)
            {
                foreach (var keyword in new[] { "deployment", "let", "import" })
                {
                    items.Add(Item(keyword, 14, "keyword"));
                }
            }
            else if (LanguageSchema.Blocks.TryGetValue(kind, out var settings))
            {
                foreach (var setting in settings)
                {
                    items.Add(Item(setting.Name, 10, setting.Summary));
                }
            }

            return items;
        }

        // A unit right after a number: `50` -> `50ms`.
        if (offset > 0 && char.IsDigit(text[offset - 1]))
        {
            foreach (var unit in Units.All)
            {
                items.Add(Item(unit.Key, 11, Units.Describe(unit.Value.Dimension)));
            }

            return items;
        }

        foreach (var (label, detail) in ValuesOf(words[0]))
        {
            items.Add(Item(label, 12, detail));
        }

        foreach (var name in analysis.Scope.Names.Order(StringComparer.Ordinal))
        {
            analysis.Scope.TryGet(name, out var value);
            items.Add(Item(name, 21, "let = " + Show(value)));
        }

        return items;
    }

    private static JsonObject Item(string label, int kind, string detail) => new() { ["label"] = label, ["kind"] = kind, ["detail"] = detail };

    /// <summary>
    /// The kind of the block the text at <paramref name="offset"/> sits in, read lexically (it works on text that does
    /// not parse): each `{` opens the child block of the setting before it; null outside any block.
    /// </summary>
    public static string? BlockKindAt(string text, int offset)
    {
        var stack = new Stack<string>();
        var lastWord = "";
        var i = 0;
        while (i < offset && i < text.Length)
        {
            var c = text[i];
            if (c == '#')
            {
                while (i < text.Length && text[i] != '\n')
                {
                    i++;
                }

                continue;
            }

            if (c == '"')
            {
                i++;
                while (i < text.Length && text[i] != '"' && text[i] != '\n')
                {
                    i++;
                }

                i++;
                continue;
            }

            if (char.IsLetter(c) || c == '_')
            {
                var start = i;
                while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] is '_' or '.' or '-'))
                {
                    i++;
                }

                var word = text[start..i];

                // The setting a block belongs to is the first word of its line (or `deployment`).
                var lineStart = text.LastIndexOf('\n', Math.Max(0, start - 1)) + 1;
                if (start == 0 || text[lineStart..start].Trim().Length == 0 || (stack.Count > 0 && LanguageSchema.SettingNames(stack.Peek()).Contains(word)))
                {
                    lastWord = word;
                }

                continue;
            }

            if (c == '{')
            {
                stack.Push(stack.Count == 0 ? (lastWord == "deployment" ? LanguageSchema.Deployment : LanguageSchema.Unknown) : LanguageSchema.ChildBlockKind(stack.Peek(), lastWord));
            }
            else if (c == '}' && stack.Count > 0)
            {
                stack.Pop();
            }

            i++;
        }

        return stack.Count > 0 ? stack.Peek() : null;
    }

    // ---- definition ----

    public static JsonObject? Definition(PlanAnalysis analysis, PlanWorkspace workspace, int offset)
    {
        if (analysis.Compilation.Syntax is not { } file)
        {
            return null;
        }

        foreach (var import in file.Statements.OfType<ImportSyntax>())
        {
            if (Contains(import.Path.Range, offset))
            {
                return FileLocation(workspace, workspace.Resolve(analysis.Document.Path, import.Path.Value));
            }
        }

        var expressions = file.Statements.OfType<LetSyntax>().Select(l => l.Value)
            .Concat(Settings(file).SelectMany(s => s.Setting.Arguments.OfType<ExpressionSyntax>()));
        foreach (var expression in expressions)
        {
            if (!Contains(expression.Range, offset))
            {
                continue;
            }

            if (IdentifierAt(expression, offset) is { } used && analysis.Scope.TryGetDefinition(used.Name, out var span))
            {
                var lines = span.File == analysis.Document.Path ? analysis.Lines : workspace.TryRead(span.File, out var t, out _) ? new LineMap(t) : null;
                return new JsonObject { ["uri"] = PlanWorkspace.UriOf(span.File), ["range"] = PlanAnalysis.RangeOf(span, lines) };
            }

            // A file named in a setting (a scheduler script, load statistics, a trace, a config.json).
            if (expression is StringLiteralSyntax path)
            {
                return FileLocation(workspace, workspace.Resolve(analysis.Document.Path, path.Value));
            }
        }

        return null;
    }

    private static JsonObject? FileLocation(PlanWorkspace workspace, string path) =>
        workspace.TryRead(path, out _, out _) ? new JsonObject { ["uri"] = PlanWorkspace.UriOf(path), ["range"] = PlanAnalysis.Range(0, 0, 0, 0) } : null;

    // ---- formatting ----

    public static JsonArray Formatting(PlanAnalysis analysis)
    {
        var formatted = PlanFormatter.Format(analysis.Document.Text, analysis.Document.Path);
        if (formatted.Text is not { } text || text == analysis.Document.Text)
        {
            return [];
        }

        var (endLine, endColumn) = analysis.Lines.PositionOf(analysis.Document.Text.Length);
        return [new JsonObject { ["range"] = PlanAnalysis.Range(0, 0, endLine, endColumn), ["newText"] = text }];
    }

    // ---- code actions ----

    [GeneratedRegex("did you mean `([^`]+)`\\?")]
    private static partial Regex DidYouMean();

    [GeneratedRegex("^use (\\d+) redundant experts")]
    private static partial Regex UseRedundantExperts();

    /// <summary>Quick fixes for the diagnostics in <paramref name="startOffset"/>..<paramref name="endOffset"/> whose hint is a concrete edit.</summary>
    public static JsonArray CodeActions(PlanAnalysis analysis, int startOffset, int endOffset)
    {
        var actions = new JsonArray();
        var document = analysis.Document;
        foreach (var diagnostic in analysis.Diagnostics)
        {
            if (diagnostic.Span is not { } span || span.File != document.Path || span.End < startOffset || span.Start > endOffset)
            {
                continue;
            }

            // The compiler's own fix, where the hint is a concrete edit (the hint property test applies each of them).
            if (diagnostic.Fix is { } fix && fix.Edits.All(e => e.Span.File == document.Path))
            {
                actions.Add(Action(fix.Title, analysis, diagnostic, [.. fix.Edits.Select(e => Edit(analysis.Lines, e.Span.Start, e.Span.End, e.NewText))]));
                continue;
            }

            if (DidYouMean().Match(diagnostic.Message) is { Success: true } suggestion)
            {
                var replacement = suggestion.Groups[1].Value;
                actions.Add(Action($"Replace with `{replacement}`", analysis, diagnostic, [Edit(analysis.Lines, span.Start, span.End, replacement)]));
            }

            if (diagnostic.Hint is { } hint && UseRedundantExperts().Match(hint) is { Success: true } use && RedundantExpertsEdit(analysis, use.Groups[1].Value) is { } edit)
            {
                actions.Add(Action($"Use {use.Groups[1].Value} redundant experts", analysis, diagnostic, [edit]));
            }
        }

        return actions;
    }

    /// <summary>Sets <c>placement { redundant_experts N }</c>: the value replaced, or the setting added.</summary>
    private static JsonObject? RedundantExpertsEdit(PlanAnalysis analysis, string count)
    {
        if (analysis.Compilation.Syntax is not { } file || file.Statements.OfType<DeploymentSyntax>().FirstOrDefault() is not { } deployment)
        {
            return null;
        }

        var placement = deployment.Body.Settings.FirstOrDefault(s => s.Name.Name == "placement");
        if (placement?.Block?.Settings.FirstOrDefault(s => s.Name.Name == "redundant_experts") is { } setting && setting.Arguments.Length > 0)
        {
            var first = setting.Arguments[0].Range;
            var last = setting.Arguments[^1].Range;
            return Edit(analysis.Lines, first.Start, last.End, count);
        }

        if (placement?.Block is { } block)
        {
            // After the opening brace.
            return Edit(analysis.Lines, block.Range.Start + 1, block.Range.Start + 1, $" redundant_experts {count} ");
        }

        // Before the deployment's closing brace.
        var close = deployment.Body.Range.End - 1;
        return Edit(analysis.Lines, close, close, $"  placement {{ redundant_experts {count} }}\n");
    }

    private static JsonObject Edit(LineMap lines, int start, int end, string newText)
    {
        var (startLine, startColumn) = lines.PositionOf(start);
        var (endLine, endColumn) = lines.PositionOf(end);
        return new JsonObject { ["range"] = PlanAnalysis.Range(startLine, startColumn, endLine, endColumn), ["newText"] = newText };
    }

    private static JsonObject Action(string title, PlanAnalysis analysis, Diagnostic diagnostic, JsonArray edits) => new()
    {
        ["title"] = title,
        ["kind"] = "quickfix",
        ["diagnostics"] = new JsonArray(PlanAnalysis.ToLsp(diagnostic, analysis.Lines)),
        ["isPreferred"] = true,
        ["edit"] = new JsonObject { ["changes"] = new JsonObject { [analysis.Document.Uri] = edits } },
    };

    // ---- syntax walking ----

    /// <summary>Every setting of the deployment with the kind of block it sits in.</summary>
    public static IEnumerable<(SettingSyntax Setting, string Kind)> Settings(FileSyntax file)
    {
        var pending = new Stack<(BlockSyntax Block, string Kind)>();
        foreach (var deployment in file.Statements.OfType<DeploymentSyntax>())
        {
            pending.Push((deployment.Body, LanguageSchema.Deployment));
        }

        while (pending.Count > 0)
        {
            var (block, kind) = pending.Pop();
            foreach (var setting in block.Settings)
            {
                yield return (setting, kind);
                if (setting.Block is { } child && LanguageSchema.Blocks.ContainsKey(kind))
                {
                    pending.Push((child, LanguageSchema.ChildBlockKind(kind, setting.Name.Name)));
                }
            }
        }
    }

    /// <summary>The identifier under the offset inside an expression (iterative: expressions may nest deeply).</summary>
    private static IdentifierSyntax? IdentifierAt(ExpressionSyntax root, int offset)
    {
        var pending = new Stack<ExpressionSyntax>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            var e = pending.Pop();
            if (!Contains(e.Range, offset))
            {
                continue;
            }

            switch (e)
            {
                case IdentifierSyntax id:
                    return id;
                case BinaryExpressionSyntax b:
                    pending.Push(b.Left);
                    pending.Push(b.Right);
                    break;
                case NegationSyntax n:
                    pending.Push(n.Operand);
                    break;
                case ParenthesizedSyntax p:
                    pending.Push(p.Inner);
                    break;
            }
        }

        return null;
    }

    private static bool Contains(TextRange range, int offset) => offset >= range.Start && offset <= range.End;

    private static JsonObject Markdown(string text, TextRange range, LineMap lines)
    {
        var (startLine, startColumn) = lines.PositionOf(range.Start);
        var (endLine, endColumn) = lines.PositionOf(range.End);
        return new JsonObject
        {
            ["contents"] = new JsonObject { ["kind"] = "markdown", ["value"] = text },
            ["range"] = PlanAnalysis.Range(startLine, startColumn, endLine, endColumn),
        };
    }
}

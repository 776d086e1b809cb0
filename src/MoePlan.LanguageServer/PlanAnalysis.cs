using System.Collections.Immutable;
using System.Text.Json.Nodes;
using MoePlan.Core.Binding;
using MoePlan.Core.Compilation;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Parsing;
using MoePlan.Core.Placement;
using MoePlan.Core.Syntax;
using MoePlan.Core.Text;
using MoePlan.Scripting;

namespace MoePlan.LanguageServer;

/// <summary>One compilation of an open document, as <c>moeplan check</c> does it, with what the editor features need.</summary>
public sealed record PlanAnalysis(OpenDocument Document, LineMap Lines, CompilationResult Compilation, ImmutableArray<Diagnostic> Diagnostics, LetScope Scope)
{
    /// <summary>Compiles the document (imports read through the workspace), then the plan's scheduler script.</summary>
    /// <param name="placements">The document's placements from earlier compilations: an edit that leaves a pool's
    /// placement problem as it was (most edits) does not place its experts again.</param>
    public static PlanAnalysis Run(OpenDocument document, PlanWorkspace workspace, PlacementMemo? placements = null)
    {
        var compilation = PlanCompiler.CompileText(document.Path, document.Text, workspace, placements: placements);
        var diagnostics = compilation.Diagnostics;
        if (compilation.Plan is { Proxy.ScriptPath: not null } plan && ServingPolicies.CheckPlanScript(document.Path, plan) is { Count: > 0 } script)
        {
            diagnostics = diagnostics.AddRange(script);
        }

        return new PlanAnalysis(document, new LineMap(document.Text), compilation, diagnostics, Lets(document, compilation.Syntax, workspace));
    }

    /// <summary>The <c>let</c> constants in scope (imported files first), evaluated; errors are check's to report.</summary>
    private static LetScope Lets(OpenDocument document, FileSyntax? syntax, PlanWorkspace workspace)
    {
        var scope = new LetScope();
        if (syntax is null)
        {
            return scope;
        }

        var visited = new HashSet<string>(StringComparer.Ordinal) { document.Path };
        void Define(string path, FileSyntax file, int depth)
        {
            foreach (var import in file.Statements.OfType<ImportSyntax>())
            {
                var resolved = workspace.Resolve(path, import.Path.Value);
                if (depth < 16 && visited.Add(resolved) && workspace.TryRead(resolved, out var text, out _) && MoeParser.Parse(text, resolved).Syntax is { } imported)
                {
                    Define(resolved, imported, depth + 1);
                }
            }

            var evaluator = new ExpressionEvaluator(path, scope, new List<Diagnostic>());
            foreach (var let in file.Statements.OfType<LetSyntax>())
            {
                if (!scope.TryGetDefinition(let.Name.Name, out _) && evaluator.Evaluate(let.Value) is { } value)
                {
                    scope.Define(let.Name.Name, value, let.Name.Range.In(path));
                }
            }
        }

        Define(document.Path, syntax, 0);
        return scope;
    }

    /// <summary>LSP diagnostics by file: this document's, and those of the imports and scripts it reaches.</summary>
    public IReadOnlyDictionary<string, JsonArray> DiagnosticsByPath(Func<string, LineMap?> linesOf)
    {
        var byPath = new Dictionary<string, JsonArray>(StringComparer.Ordinal) { [Document.Path] = [] };
        foreach (var diagnostic in Diagnostics)
        {
            var path = diagnostic.Span?.File ?? Document.Path;
            var lines = path == Document.Path ? Lines : linesOf(path);
            if (!byPath.TryGetValue(path, out var list))
            {
                byPath[path] = list = [];
            }

            list.Add(ToLsp(diagnostic, lines));
        }

        return byPath;
    }

    public static JsonObject ToLsp(Diagnostic diagnostic, LineMap? lines)
    {
        var lsp = new JsonObject
        {
            ["range"] = RangeOf(diagnostic.Span, lines),
            ["severity"] = diagnostic.Severity switch { DiagnosticSeverity.Error => 1, DiagnosticSeverity.Warning => 2, _ => 3 },
            ["code"] = diagnostic.Code,
            ["source"] = "moeplan",
            ["message"] = diagnostic.Hint is null ? diagnostic.Message : $"{diagnostic.Message} [hint: {diagnostic.Hint}]",
        };
        if (diagnostic.Hint is not null)
        {
            lsp["data"] = new JsonObject { ["hint"] = diagnostic.Hint };
        }

        return lsp;
    }

    /// <summary>A span as an LSP range; without the file's text, from its line and column over its length.</summary>
    public static JsonObject RangeOf(SourceSpan? span, LineMap? lines)
    {
        if (span is not { } s)
        {
            return Range(0, 0, 0, 0);
        }

        if (lines is not null && s.End <= lines.TextLength)
        {
            var (startLine, startColumn) = lines.PositionOf(s.Start);
            var (endLine, endColumn) = lines.PositionOf(s.End);
            return Range(startLine, startColumn, endLine, endColumn);
        }

        var line = Math.Max(0, s.Line - 1);
        var column = Math.Max(0, s.Column - 1);
        return Range(line, column, line, column + Math.Max(0, s.Length));
    }

    public static JsonObject Range(int startLine, int startColumn, int endLine, int endColumn) => new()
    {
        ["start"] = new JsonObject { ["line"] = startLine, ["character"] = startColumn },
        ["end"] = new JsonObject { ["line"] = endLine, ["character"] = endColumn },
    };
}

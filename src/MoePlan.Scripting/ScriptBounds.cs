using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Text;
using Diagnostic = MoePlan.Core.Diagnostics.Diagnostic;

namespace MoePlan.Scripting;

/// <summary>
/// Bounds a script's size and syntactic depth before the compiler sees it (MP4009). The C# compiler recurses
/// once per nesting level and is quadratic in some long operator chains: <c>return</c> and 10,000 nested
/// parentheses overflows its stack (killing the process; .NET cannot catch that), and a sum of 100,000 terms
/// compiles for minutes. The check reads the lexer's flat token list in one loop (no recursion, linear time).
/// </summary>
internal static class ScriptBounds
{
    /// <summary>Characters of a script. The shipped scripts are 1 to 3 KB; a scheduling rule is not a megabyte.</summary>
    public const int MaxCharacters = 256 * 1024;

    /// <summary>Bytes read from a script file (UTF-8 is at most 4 bytes per character; the character bound applies after).</summary>
    public const long MaxFileBytes = 4L * MaxCharacters;

    /// <summary>Nesting of (), [] and {} (and of holes in interpolated strings). Hand-written code nests a dozen deep.</summary>
    public const int MaxDepth = 100;

    /// <summary>Tokens between two statement boundaries (<c>;</c>, <c>{</c>, <c>}</c>): bounds operator chains and conditional chains.</summary>
    public const int MaxStatementTokens = 4000;

    public static IReadOnlyList<Diagnostic> Check(string path, string text)
    {
        var source = SourceText.From(text);
        if (text.Length > MaxCharacters)
        {
            return [DiagnosticCodes.ScriptTooComplex.Create(At(path, source, 0), $"the script has {text.Length:N0} characters", $"{MaxCharacters:N0}")];
        }

        int depth = 0, statementTokens = 0, statementStart = 0;
        var options = new CSharpParseOptions(LanguageVersion.Latest, kind: SourceCodeKind.Script);
        foreach (var token in SyntaxFactory.ParseTokens(text, options: options))
        {
            switch (token.Kind())
            {
                case SyntaxKind.OpenParenToken or SyntaxKind.OpenBracketToken or SyntaxKind.OpenBraceToken:
                    depth++;
                    break;
                case SyntaxKind.CloseParenToken or SyntaxKind.CloseBracketToken or SyntaxKind.CloseBraceToken:
                    depth = Math.Max(0, depth - 1);
                    break;
                case SyntaxKind.InterpolatedStringToken:
                    // An interpolated string is one token here; its holes nest as the compiler will parse them.
                    if (depth + HoleDepth(token.Text) > MaxDepth)
                    {
                        return [TooDeep(path, source, token.SpanStart)];
                    }

                    break;
            }

            if (depth > MaxDepth)
            {
                return [TooDeep(path, source, token.SpanStart)];
            }

            if (token.Kind() is SyntaxKind.SemicolonToken or SyntaxKind.OpenBraceToken or SyntaxKind.CloseBraceToken)
            {
                statementTokens = 0;
                statementStart = token.Span.End;
            }
            else if (++statementTokens > MaxStatementTokens)
            {
                return [DiagnosticCodes.ScriptTooComplex.Create(At(path, source, statementStart), $"a statement or expression of more than {MaxStatementTokens:N0} tokens starts here", $"{MaxStatementTokens:N0} tokens between ';', '{{' and '}}'")];
            }
        }

        return [];
    }

    /// <summary>The deepest nesting of brackets inside an interpolated string's text (holes included).</summary>
    private static int HoleDepth(string text)
    {
        int depth = 0, max = 0;
        foreach (char c in text)
        {
            if (c is '(' or '[' or '{')
            {
                max = Math.Max(max, ++depth);
            }
            else if (c is ')' or ']' or '}')
            {
                depth = Math.Max(0, depth - 1);
            }
        }

        return max;
    }

    private static Diagnostic TooDeep(string path, SourceText source, int position) =>
        DiagnosticCodes.ScriptTooComplex.Create(At(path, source, position), "brackets nest too deeply here", $"{MaxDepth} levels of (), [] and {{}}");

    private static SourceSpan At(string path, SourceText source, int position)
    {
        var line = source.Lines.GetLinePosition(position);
        return new SourceSpan(path, position, 1, line.Line + 1, line.Character + 1);
    }
}

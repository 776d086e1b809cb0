using System.Collections.Immutable;
using System.Text;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Parsing;
using MoePlan.Core.Syntax;

namespace MoePlan.Core.Formatting;

/// <summary>The canonical text of a plan, or the diagnostics that stopped it from parsing.</summary>
public sealed record FormatResult(string? Text, ImmutableArray<Diagnostic> Diagnostics)
{
    public bool Succeeded => Text is not null;
}

/// <summary>
/// <c>moeplan fmt</c>: prints a parsed plan in its canonical form (docs/dsl.md, "Formatting"). Pure: text in,
/// text out. Two-space indentation; one setting per line, except that a block written on one line whose
/// settings have no nested blocks stays on one line; single spaces between arguments and around binary
/// operators; parentheses as written; at most one blank line where the source had one or more; every
/// comment kept, own-line comments before what they preceded, trailing comments at the end of the line that
/// holds the token they followed. The result parses to the same tree and formats to itself.
/// </summary>
public static class PlanFormatter
{
    public const string Indent = "  ";

    /// <summary>Separator between the settings of a block printed on one line: <c>{ dp 32  ep 32 }</c>.</summary>
    public const string InlineSettingSeparator = "  ";

    public static FormatResult Format(string text, string displayPath)
    {
        var parsed = MoeParser.Parse(text, displayPath);
        if (parsed.Syntax is null)
        {
            return new FormatResult(null, parsed.Diagnostics);
        }

        var tokens = MoeTokenizer.Tokenize(text).Tokens;
        return new FormatResult(new Printer(text, parsed.Syntax, tokens).Print(), []);
    }

    /// <summary>The line break the output uses: the file's first one (CRLF or LF); LF when it has none.</summary>
    public static string LineBreakOf(string text)
    {
        var first = text.IndexOf('\n', StringComparison.Ordinal);
        return first > 0 && text[first - 1] == '\r' ? "\r\n" : "\n";
    }

    /// <summary>A comment, the end of the token before it (-1 at the start of the file), and whether that token is on its line.</summary>
    private readonly record struct Comment(int Start, int End, string Text, int PrecedingTokenEnd, bool Trailing);

    private sealed class Printer
    {
        private readonly string source;
        private readonly FileSyntax file;
        private readonly Comment[] comments;
        private readonly string lineBreak;
        private readonly StringBuilder output = new();
        private readonly StringBuilder line = new();
        private int depth;
        private int nextComment;
        private int lastPrintedEnd = -1;
        private int previousSourceEnd;
        private bool atBlockStart = true;

        public Printer(string source, FileSyntax file, ImmutableArray<Superpower.Model.Token<MoeToken>> tokens)
        {
            this.source = source;
            this.file = file;
            lineBreak = LineBreakOf(source);
            comments = new Comment[file.Comments.Length];
            var t = 0;
            for (var i = 0; i < comments.Length; i++)
            {
                var c = file.Comments[i];
                while (t < tokens.Length && tokens[t].Span.Position.Absolute < c.Range.Start)
                {
                    t++;
                }

                var preceding = t > 0 ? tokens[t - 1] : (Superpower.Model.Token<MoeToken>?)null;
                var precedingEnd = preceding is { } p ? p.Span.Position.Absolute + p.Span.Length : -1;
                var trailing = preceding is { } q && q.Span.Position.Line == c.Range.Line;
                comments[i] = new Comment(c.Range.Start, c.Range.End, c.Text.TrimEnd(), precedingEnd, trailing);
            }
        }

        public string Print()
        {
            foreach (var statement in file.Statements)
            {
                switch (statement)
                {
                    case ImportSyntax import:
                        BeginItem(import.Range.Start);
                        line.Append("import ").Append(import.Path.Text);
                        EndLine(import.Range.End);
                        break;
                    case LetSyntax let:
                        BeginItem(let.Range.Start);
                        line.Append("let ").Append(let.Name.Name).Append(" = ");
                        AppendExpression(let.Value);
                        EndLine(let.Range.End);
                        break;
                    case DeploymentSyntax deployment:
                        BeginItem(deployment.Range.Start);
                        line.Append("deployment ").Append(deployment.Name.Text);
                        AppendBlock(deployment.Body, allowInline: false);
                        break;
                }
            }

            EmitOwnLineComments(int.MaxValue);
            return output.ToString();
        }

        /// <summary>Own-line comments before <paramref name="start"/>, a blank line if the source had one, then a new line.</summary>
        private void BeginItem(int start)
        {
            EmitOwnLineComments(start);
            BlankLineIfAny(start);
            StartLine();
        }

        private void EmitOwnLineComments(int before)
        {
            while (nextComment < comments.Length && comments[nextComment].Start < before)
            {
                var comment = comments[nextComment++];
                BlankLineIfAny(comment.Start);
                StartLine();
                line.Append(comment.Text);
                WriteLine();
                previousSourceEnd = Math.Max(previousSourceEnd, comment.End);
            }
        }

        private void BlankLineIfAny(int start)
        {
            if (!atBlockStart && CountLineBreaks(previousSourceEnd, start) >= 2)
            {
                output.Append(lineBreak);
            }
        }

        private int CountLineBreaks(int from, int to)
        {
            var count = 0;
            for (var i = from; i < to; i++)
            {
                if (source[i] == '\n')
                {
                    count++;
                }
            }

            return count;
        }

        private void StartLine()
        {
            for (var i = 0; i < depth; i++)
            {
                line.Append(Indent);
            }
        }

        /// <summary>Ends the current line, whose last token ends at <paramref name="printedEnd"/>, with the trailing comment that followed a token on it.</summary>
        private void EndLine(int printedEnd)
        {
            lastPrintedEnd = Math.Max(lastPrintedEnd, printedEnd);
            previousSourceEnd = Math.Max(previousSourceEnd, printedEnd);
            if (nextComment < comments.Length && comments[nextComment] is { Trailing: true } comment && comment.PrecedingTokenEnd <= lastPrintedEnd)
            {
                line.Append(' ').Append(comment.Text);
                previousSourceEnd = Math.Max(previousSourceEnd, comment.End);
                nextComment++;
            }

            WriteLine();
        }

        private void WriteLine()
        {
            output.Append(line).Append(lineBreak);
            line.Clear();
            atBlockStart = false;
        }

        /// <summary>Appends <c> {...}</c> to the current line: inline, or as the opening line of a multi-line block.</summary>
        private void AppendBlock(BlockSyntax block, bool allowInline)
        {
            var open = block.Range.Start;
            var close = block.Range.End - 1;
            var commentInside = comments.Any(c => c.Start > open && c.Start < close);
            if (block.Settings.IsEmpty && !commentInside)
            {
                line.Append(" {}");
                EndLine(block.Range.End);
                return;
            }

            if (allowInline && !commentInside && block.Settings.All(s => s.Block is null) && source.IndexOf('\n', open, close - open) < 0)
            {
                line.Append(" { ");
                for (var i = 0; i < block.Settings.Length; i++)
                {
                    if (i > 0)
                    {
                        line.Append(InlineSettingSeparator);
                    }

                    AppendNameAndArguments(block.Settings[i]);
                }

                line.Append(" }");
                EndLine(block.Range.End);
                return;
            }

            line.Append(" {");
            EndLine(open + 1);
            depth++;
            atBlockStart = true;
            foreach (var setting in block.Settings)
            {
                BeginItem(setting.Range.Start);
                AppendNameAndArguments(setting);
                if (setting.Block is { } child)
                {
                    AppendBlock(child, allowInline: true);
                }
                else
                {
                    EndLine(setting.Range.End);
                }
            }

            EmitOwnLineComments(close);
            depth--;
            StartLine();
            line.Append('}');
            EndLine(block.Range.End);
        }

        private void AppendNameAndArguments(SettingSyntax setting)
        {
            line.Append(setting.Name.Name);
            foreach (var argument in setting.Arguments)
            {
                line.Append(' ');
                if (argument is OperatorSyntax op)
                {
                    line.Append(op.Text);
                }
                else
                {
                    AppendExpression((ExpressionSyntax)argument);
                }
            }
        }

        /// <summary>Recursion is bounded: the parser refuses expressions deeper than <see cref="MoeParser.MaxExpressionDepth"/>.</summary>
        private void AppendExpression(ExpressionSyntax expression)
        {
            switch (expression)
            {
                case NumberLiteralSyntax number:
                    line.Append(number.Text);
                    break;
                case QuantityLiteralSyntax quantity:
                    line.Append(quantity.Text);
                    break;
                case StringLiteralSyntax text:
                    line.Append(text.Text);
                    break;
                case IdentifierSyntax identifier:
                    line.Append(identifier.Name);
                    break;
                case BinaryExpressionSyntax binary:
                    AppendExpression(binary.Left);
                    line.Append(' ').Append(binary.Operator).Append(' ');
                    AppendExpression(binary.Right);
                    break;
                case NegationSyntax negation:
                    line.Append('-');
                    AppendExpression(negation.Operand);
                    break;
                case ParenthesizedSyntax parenthesized:
                    line.Append('(');
                    AppendExpression(parenthesized.Inner);
                    line.Append(')');
                    break;
                default:
                    throw new InvalidOperationException($"no printer for {expression.GetType().Name}");
            }
        }
    }
}

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
        private readonly string _source;
        private readonly FileSyntax _file;
        private readonly Comment[] _comments;
        private readonly string _lineBreak;
        private readonly StringBuilder _output = new();
        private readonly StringBuilder _line = new();
        private int _depth;
        private int _nextComment;
        private int _lastPrintedEnd = -1;
        private int _previousSourceEnd;
        private bool _atBlockStart = true;

        public Printer(string source, FileSyntax file, ImmutableArray<Superpower.Model.Token<MoeToken>> tokens)
        {
            this._source = source;
            this._file = file;
            _lineBreak = LineBreakOf(source);
            _comments = new Comment[file.Comments.Length];
            var t = 0;
            for (var i = 0; i < _comments.Length; i++)
            {
                var c = file.Comments[i];
                while (t < tokens.Length && tokens[t].Span.Position.Absolute < c.Range.Start)
                {
                    t++;
                }

                var preceding = t > 0 ? tokens[t - 1] : (Superpower.Model.Token<MoeToken>?)null;
                var precedingEnd = preceding is { } p ? p.Span.Position.Absolute + p.Span.Length : -1;
                var trailing = preceding is { } q && q.Span.Position.Line == c.Range.Line;
                _comments[i] = new Comment(c.Range.Start, c.Range.End, c.Text.TrimEnd(), precedingEnd, trailing);
            }
        }

        public string Print()
        {
            foreach (var statement in _file.Statements)
            {
                switch (statement)
                {
                    case ImportSyntax import:
                        BeginItem(import.Range.Start);
                        _line.Append("import ").Append(import.Path.Text);
                        EndLine(import.Range.End);
                        break;
                    case LetSyntax let:
                        BeginItem(let.Range.Start);
                        _line.Append("let ").Append(let.Name.Name).Append(" = ");
                        AppendExpression(let.Value);
                        EndLine(let.Range.End);
                        break;
                    case DeploymentSyntax deployment:
                        BeginItem(deployment.Range.Start);
                        _line.Append("deployment ").Append(deployment.Name.Text);
                        AppendBlock(deployment.Body, allowInline: false);
                        break;
                }
            }

            EmitOwnLineComments(int.MaxValue);
            return _output.ToString();
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
            while (_nextComment < _comments.Length && _comments[_nextComment].Start < before)
            {
                var comment = _comments[_nextComment++];
                BlankLineIfAny(comment.Start);
                StartLine();
                _line.Append(comment.Text);
                WriteLine();
                _previousSourceEnd = Math.Max(_previousSourceEnd, comment.End);
            }
        }

        private void BlankLineIfAny(int start)
        {
            if (!_atBlockStart && CountLineBreaks(_previousSourceEnd, start) >= 2)
            {
                _output.Append(_lineBreak);
            }
        }

        private int CountLineBreaks(int from, int to)
        {
            var count = 0;
            for (var i = from; i < to; i++)
            {
                if (_source[i] == '\n')
                {
                    count++;
                }
            }

            return count;
        }

        private void StartLine()
        {
            for (var i = 0; i < _depth; i++)
            {
                _line.Append(Indent);
            }
        }

        /// <summary>Ends the current line, whose last token ends at <paramref name="printedEnd"/>, with the trailing comment that followed a token on it.</summary>
        private void EndLine(int printedEnd)
        {
            _lastPrintedEnd = Math.Max(_lastPrintedEnd, printedEnd);
            _previousSourceEnd = Math.Max(_previousSourceEnd, printedEnd);
            if (_nextComment < _comments.Length && _comments[_nextComment] is { Trailing: true } comment && comment.PrecedingTokenEnd <= _lastPrintedEnd)
            {
                _line.Append(' ').Append(comment.Text);
                _previousSourceEnd = Math.Max(_previousSourceEnd, comment.End);
                _nextComment++;
            }

            WriteLine();
        }

        private void WriteLine()
        {
            _output.Append(_line).Append(_lineBreak);
            _line.Clear();
            _atBlockStart = false;
        }

        /// <summary>Appends <c> {...}</c> to the current line: inline, or as the opening line of a multi-line block.</summary>
        private void AppendBlock(BlockSyntax block, bool allowInline)
        {
            var open = block.Range.Start;
            var close = block.Range.End - 1;
            var commentInside = _comments.Any(c => c.Start > open && c.Start < close);
            if (block.Settings.IsEmpty && !commentInside)
            {
                _line.Append(" {}");
                EndLine(block.Range.End);
                return;
            }

            if (allowInline && !commentInside && block.Settings.All(s => s.Block is null) && _source.IndexOf('\n', open, close - open) < 0)
            {
                _line.Append(" { ");
                for (var i = 0; i < block.Settings.Length; i++)
                {
                    if (i > 0)
                    {
                        _line.Append(InlineSettingSeparator);
                    }

                    AppendNameAndArguments(block.Settings[i]);
                }

                _line.Append(" }");
                EndLine(block.Range.End);
                return;
            }

            _line.Append(" {");
            EndLine(open + 1);
            _depth++;
            _atBlockStart = true;
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
            _depth--;
            StartLine();
            _line.Append('}');
            EndLine(block.Range.End);
        }

        private void AppendNameAndArguments(SettingSyntax setting)
        {
            _line.Append(setting.Name.Name);
            foreach (var argument in setting.Arguments)
            {
                _line.Append(' ');
                if (argument is OperatorSyntax op)
                {
                    _line.Append(op.Text);
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
                    _line.Append(number.Text);
                    break;
                case QuantityLiteralSyntax quantity:
                    _line.Append(quantity.Text);
                    break;
                case StringLiteralSyntax text:
                    _line.Append(text.Text);
                    break;
                case IdentifierSyntax identifier:
                    _line.Append(identifier.Name);
                    break;
                case BinaryExpressionSyntax binary:
                    AppendExpression(binary.Left);
                    _line.Append(' ').Append(binary.Operator).Append(' ');
                    AppendExpression(binary.Right);
                    break;
                case NegationSyntax negation:
                    _line.Append('-');
                    AppendExpression(negation.Operand);
                    break;
                case ParenthesizedSyntax parenthesized:
                    _line.Append('(');
                    AppendExpression(parenthesized.Inner);
                    _line.Append(')');
                    break;
                default:
                    throw new InvalidOperationException($"no printer for {expression.GetType().Name}");
            }
        }
    }
}

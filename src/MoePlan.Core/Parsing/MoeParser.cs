using System.Collections.Immutable;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Syntax;
using MoePlan.Core.Text;
using Superpower.Model;

namespace MoePlan.Core.Parsing;

/// <summary>A parsed file, or the diagnostics that stopped it.</summary>
public sealed record ParseResult(FileSyntax? Syntax, ImmutableArray<Diagnostic> Diagnostics)
{
    public bool Succeeded => Syntax is not null;
}

/// <summary>Entry point of the front end: text to syntax tree.</summary>
public static class MoeParser
{
    /// <summary>
    /// The deepest nesting the front end accepts: parentheses, blocks, negations and chained operators all nest.
    /// The grammar and every later stage recurse on them, so a limit keeps a hostile or generated file
    /// (100,000 <c>(</c>) a diagnostic (MP1006) instead of a stack overflow.
    /// </summary>
    public const int MaxExpressionDepth = 128;

    public static ParseResult Parse(string text, string displayPath)
    {
        var tokenized = MoeTokenizer.Tokenize(text);
        if (tokenized.Error is { } error)
        {
            var descriptor = error.Kind switch
            {
                TokenizeErrorKind.UnterminatedString => DiagnosticCodes.UnterminatedString,
                TokenizeErrorKind.MalformedNumber => DiagnosticCodes.MalformedNumber,
                _ => DiagnosticCodes.UnexpectedCharacter,
            };
            return new ParseResult(null, [descriptor.Create(error.Range.In(displayPath), error.Found)]);
        }

        // The grammar recurses on parentheses and negations: refuse deep nesting before parsing.
        if (FirstTooDeepToken(tokenized.Tokens) is { } deepToken)
        {
            return new ParseResult(null, [DiagnosticCodes.NestingTooDeep.Create(MoeGrammar.Range(deepToken).In(displayPath), MaxExpressionDepth)]);
        }

        var tokens = new TokenList<MoeToken>(tokenized.Tokens.ToArray());
        var result = RunGrammar(tokens);
        if (result.HasValue)
        {
            // Chained operators parse in a loop but build a left-nested tree that later stages recurse on.
            if (FirstTooDeepExpression(result.Value) is { } deepExpression)
            {
                return new ParseResult(null, [DiagnosticCodes.NestingTooDeep.Create(deepExpression.Range.In(displayPath), MaxExpressionDepth)]);
            }

            var range = new TextRange(0, text.Length, 1, 1);
            return new ParseResult(new FileSyntax(range, result.Value, tokenized.Comments), []);
        }

        return new ParseResult(null, [SyntaxError(result, text, displayPath)]);
    }

    /// <summary>
    /// Stack of the parsing thread. Superpower's combinators take dozens of frames per nesting level, so 128 levels
    /// can exceed the 1.5 MB of a thread-pool or test-runner thread; a reservation costs no memory until touched.
    /// </summary>
    private const int GrammarStackBytes = 64 * 1024 * 1024;

    /// <summary>Runs the grammar on a thread with a large stack: the depth limit above is safe on it whatever thread called.</summary>
    private static TokenListParserResult<MoeToken, ImmutableArray<StatementSyntax>> RunGrammar(TokenList<MoeToken> tokens)
    {
        TokenListParserResult<MoeToken, ImmutableArray<StatementSyntax>> result = default;
        Exception? failure = null;
        var thread = new Thread(
            () =>
            {
                try
                {
                    result = MoeGrammar.File(tokens);
                }
                catch (Exception e)
                {
                    failure = e;
                }
            },
            GrammarStackBytes)
        { Name = "moeplan grammar" };
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }

        return result;
    }

    private static Diagnostic SyntaxError(TokenListParserResult<MoeToken, ImmutableArray<StatementSyntax>> result, string text, string displayPath)
    {
        var expected = result.Expectations is { Length: > 0 } expectations
            ? Describe(expectations)
            : "`import`, `let` or `deployment`";

        // Superpower reports where the deepest alternative failed; find the token there.
        var location = result.Location;
        if (location.IsAtEnd)
        {
            var (line, column) = EndPosition(text);
            var span = new SourceSpan(displayPath, text.Length, 0, line, column);
            return DiagnosticCodes.UnexpectedEndOfFile.Create(span, expected);
        }

        var token = location.First();
        var range = MoeGrammar.Range(token);
        var found = token.Kind switch
        {
            MoeToken.Identifier => $"name `{token.ToStringValue()}`",
            MoeToken.Number => $"number `{token.ToStringValue()}`",
            MoeToken.Quantity => $"quantity `{token.ToStringValue()}`",
            MoeToken.String => $"string {token.ToStringValue()}",
            _ => $"`{token.ToStringValue()}`",
        };
        return DiagnosticCodes.UnexpectedToken.Create(range.In(displayPath), found, expected);
    }

    /// <summary>
    /// The first token at which open parentheses and braces plus a run of <c>-</c> exceed the depth limit, or at which
    /// one run of chained operators does: Superpower's <c>Chain</c> recurses once per operator while parsing, so
    /// thousands of <c>+</c> overflow a small thread stack before the tree could be measured.
    /// </summary>
    private static Token<MoeToken>? FirstTooDeepToken(ImmutableArray<Token<MoeToken>> tokens)
    {
        var parentheses = 0;
        var minusRun = 0;
        var chained = 0;
        var previousWasOperand = false;
        foreach (var token in tokens)
        {
            var isOperator = token.Kind is MoeToken.Plus or MoeToken.Minus or MoeToken.Star or MoeToken.Slash;
            var isOperand = token.Kind is MoeToken.Identifier or MoeToken.Number or MoeToken.Quantity or MoeToken.String;
            if (isOperator)
            {
                chained++;
            }
            else if (isOperand && previousWasOperand)
            {
                // Two operands side by side end an expression (`dp 32 ep 32`, a new line's setting).
                chained = 0;
            }
            else if (token.Kind is MoeToken.LeftBrace or MoeToken.RightBrace)
            {
                chained = 0;
            }

            previousWasOperand = isOperand || token.Kind == MoeToken.RightParenthesis;
            if (chained > MaxExpressionDepth)
            {
                return token;
            }

            switch (token.Kind)
            {
                case MoeToken.LeftParenthesis or MoeToken.LeftBrace:
                    parentheses++;
                    break;
                case MoeToken.RightParenthesis or MoeToken.RightBrace:
                    parentheses = Math.Max(0, parentheses - 1);
                    minusRun = 0;
                    break;
                case MoeToken.Minus:
                    minusRun++;
                    break;
                default:
                    minusRun = 0;
                    break;
            }

            if (parentheses + minusRun > MaxExpressionDepth)
            {
                return token;
            }
        }

        return null;
    }

    /// <summary>The first expression node deeper than the limit, found without recursion.</summary>
    private static ExpressionSyntax? FirstTooDeepExpression(ImmutableArray<StatementSyntax> statements)
    {
        var pending = new Stack<(ExpressionSyntax Expression, int Depth)>();
        var blocks = new Stack<BlockSyntax>();
        foreach (var statement in statements)
        {
            switch (statement)
            {
                case LetSyntax let:
                    pending.Push((let.Value, 0));
                    break;
                case DeploymentSyntax deployment:
                    blocks.Push(deployment.Body);
                    break;
            }
        }

        while (blocks.TryPop(out var block))
        {
            foreach (var setting in block.Settings)
            {
                foreach (var argument in setting.Arguments)
                {
                    if (argument is ExpressionSyntax expression)
                    {
                        pending.Push((expression, 0));
                    }
                }

                if (setting.Block is { } child)
                {
                    blocks.Push(child);
                }
            }
        }

        while (pending.TryPop(out var item))
        {
            if (item.Depth > MaxExpressionDepth)
            {
                return item.Expression;
            }

            switch (item.Expression)
            {
                case BinaryExpressionSyntax binary:
                    pending.Push((binary.Left, item.Depth + 1));
                    pending.Push((binary.Right, item.Depth + 1));
                    break;
                case NegationSyntax negation:
                    pending.Push((negation.Operand, item.Depth + 1));
                    break;
                case ParenthesizedSyntax parenthesized:
                    pending.Push((parenthesized.Inner, item.Depth + 1));
                    break;
            }
        }

        return null;
    }

    private static string Describe(string[] expectations)
    {
        var distinct = expectations.Distinct(StringComparer.Ordinal).ToArray();
        return distinct.Length switch
        {
            1 => distinct[0],
            2 => $"{distinct[0]} or {distinct[1]}",
            _ => string.Join(", ", distinct[..^1]) + " or " + distinct[^1],
        };
    }

    private static (int Line, int Column) EndPosition(string text)
    {
        var line = 1;
        var column = 1;
        foreach (var c in text)
        {
            if (c == '\n')
            {
                line++;
                column = 1;
            }
            else
            {
                column++;
            }
        }

        return (line, column);
    }
}

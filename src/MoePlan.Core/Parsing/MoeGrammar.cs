using System.Collections.Frozen;
using System.Collections.Immutable;
using MoePlan.Core.Syntax;
using Superpower;
using Superpower.Model;
using Superpower.Parsers;

namespace MoePlan.Core.Parsing;

/// <summary>
/// The grammar of <c>.moe</c> files, bottom-up. A file is imports, lets and one deployment; a deployment is
/// a block of settings; a setting is a name, the arguments on its line, and an optional nested block.
/// Which names start a setting comes from <see cref="LanguageSchema"/>, so several settings may share a line.
/// </summary>
public static class MoeGrammar
{
    private static readonly TokenListParser<MoeToken, ExpressionSyntax> NumberLiteral =
        Token.EqualTo(MoeToken.Number).Select(t =>
            (ExpressionSyntax)new NumberLiteralSyntax(Range(t), MoeTokenizer.ParseNumber(t.ToStringValue()), t.ToStringValue()));

    private static readonly TokenListParser<MoeToken, ExpressionSyntax> QuantityLiteral =
        Token.EqualTo(MoeToken.Quantity).Select(t =>
        {
            var text = t.ToStringValue();
            var (value, unit) = MoeTokenizer.SplitQuantity(text);
            return (ExpressionSyntax)new QuantityLiteralSyntax(Range(t), value, unit, text);
        });

    private static readonly TokenListParser<MoeToken, StringLiteralSyntax> StringLiteral =
        Token.EqualTo(MoeToken.String).Select(t => new StringLiteralSyntax(Range(t), Unquote(t.ToStringValue()), t.ToStringValue()))
            .Named("string");

    private static readonly TokenListParser<MoeToken, IdentifierSyntax> Identifier =
        Token.EqualTo(MoeToken.Identifier).Select(t => new IdentifierSyntax(Range(t), t.ToStringValue())).Named("name");

    private static readonly TokenListParser<MoeToken, ExpressionSyntax> Parenthesized =
        from open in Token.EqualTo(MoeToken.LeftParenthesis)
        from inner in Parse.Ref(() => Expression!)
        from close in Token.EqualTo(MoeToken.RightParenthesis)
        select (ExpressionSyntax)new ParenthesizedSyntax(Range(open).Through(Range(close)), inner);

    private static readonly TokenListParser<MoeToken, ExpressionSyntax> Negation =
        from minus in Token.EqualTo(MoeToken.Minus)
        from operand in Parse.Ref(() => Factor!)
        select (ExpressionSyntax)new NegationSyntax(Range(minus).Through(operand.Range), operand);

    private static readonly TokenListParser<MoeToken, ExpressionSyntax> Factor =
        NumberLiteral
            .Or(QuantityLiteral)
            .Or(StringLiteral.Select(s => (ExpressionSyntax)s))
            .Or(Identifier.Select(i => (ExpressionSyntax)i))
            .Or(Parenthesized)
            .Or(Negation)
            .Named("value");

    private static readonly TokenListParser<MoeToken, char> MultiplyOperator =
        Token.EqualTo(MoeToken.Star).Value('*').Or(Token.EqualTo(MoeToken.Slash).Value('/'));

    private static readonly TokenListParser<MoeToken, char> AddOperator =
        Token.EqualTo(MoeToken.Plus).Value('+').Or(Token.EqualTo(MoeToken.Minus).Value('-'));

    private static readonly TokenListParser<MoeToken, ExpressionSyntax> Term =
        Parse.Chain(MultiplyOperator, Factor, MakeBinary);

    /// <summary>Arithmetic on numbers and quantities: <c>nodes_prefill * 2 + 18</c>.</summary>
    public static readonly TokenListParser<MoeToken, ExpressionSyntax> Expression =
        Parse.Chain(AddOperator, Term, MakeBinary).Named("expression");

    private static readonly FrozenDictionary<string, TokenListParser<MoeToken, BlockSyntax>> Blocks =
        LanguageSchema.Blocks.Keys.ToFrozenDictionary(kind => kind, BlockOf, StringComparer.Ordinal);

    private static readonly TokenListParser<MoeToken, StatementSyntax> Import =
        from keyword in Keyword("import")
        from path in StringLiteral
        select (StatementSyntax)new ImportSyntax(Range(keyword).Through(path.Range), path);

    private static readonly TokenListParser<MoeToken, StatementSyntax> Let =
        from keyword in Keyword("let")
        from name in Identifier
        from assign in Token.EqualTo(MoeToken.Equals)
        from value in Expression
        select (StatementSyntax)new LetSyntax(Range(keyword).Through(value.Range), name, value);

    private static readonly TokenListParser<MoeToken, StatementSyntax> Deployment =
        from keyword in Keyword("deployment")
        from name in StringLiteral
        from body in Blocks[LanguageSchema.Deployment]
        select (StatementSyntax)new DeploymentSyntax(Range(keyword).Through(body.Range), name, body);

    /// <summary>A whole file.</summary>
    public static readonly TokenListParser<MoeToken, ImmutableArray<StatementSyntax>> File =
        Import.Or(Let).Or(Deployment).Named("`import`, `let` or `deployment`")
            .Many()
            .Select(statements => statements.ToImmutableArray())
            .AtEnd();

    internal static TextRange Range(Token<MoeToken> token) =>
        new(token.Span.Position.Absolute, token.Span.Length, token.Span.Position.Line, token.Span.Position.Column);

    private static TokenListParser<MoeToken, Token<MoeToken>> Keyword(string word) =>
        Token.EqualToValue(MoeToken.Identifier, word).Named($"`{word}`");

    private static ExpressionSyntax MakeBinary(char op, ExpressionSyntax left, ExpressionSyntax right) =>
        new BinaryExpressionSyntax(left.Range.Through(right.Range), left, op, right);

    private static string Unquote(string text) =>
        text[1..^1].Replace("\\\"", "\"", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal);

    private static TokenListParser<MoeToken, BlockSyntax> BlockOf(string kind)
    {
        var setting = SettingIn(kind);
        return from open in Token.EqualTo(MoeToken.LeftBrace)
               from settings in setting.Many()
               from close in Token.EqualTo(MoeToken.RightBrace).Named("`}` or a setting")
               select new BlockSyntax(Range(open).Through(Range(close)), settings.ToImmutableArray());
    }

    private static TokenListParser<MoeToken, SettingSyntax> SettingIn(string kind)
    {
        var names = LanguageSchema.SettingNames(kind);
        return from name in Identifier
               from arguments in ArgumentOnLine(names, name.Range.Line).Many()
               from block in Parse.Ref(() => Blocks[LanguageSchema.ChildBlockKind(kind, name.Name)]).Select(b => (BlockSyntax?)b).OptionalOrDefault()
               select new SettingSyntax(
                   name.Range.Through(block?.Range ?? (arguments.Length > 0 ? arguments[^1].Range : name.Range)),
                   name,
                   arguments.ToImmutableArray(),
                   block);
    }

    /// <summary>An argument starts on the setting's own line and is not the name of another setting of the block.</summary>
    private static TokenListParser<MoeToken, ArgumentSyntax> ArgumentOnLine(FrozenSet<string> settingNames, int line) =>
        input =>
        {
            var next = input.ConsumeToken();
            if (!next.HasValue || next.Value.Position.Line != line ||
                (next.Value.Kind == MoeToken.Identifier && settingNames.Contains(next.Value.ToStringValue())))
            {
                return TokenListParserResult.Empty<MoeToken, ArgumentSyntax>(input);
            }

            if (next.Value.Kind is MoeToken.LessThan or MoeToken.LessThanOrEqual or MoeToken.GreaterThan)
            {
                return TokenListParserResult.Value<MoeToken, ArgumentSyntax>(
                    new OperatorSyntax(Range(next.Value), next.Value.ToStringValue()), input, next.Remainder);
            }

            if (next.Value.Kind is MoeToken.LeftBrace or MoeToken.RightBrace)
            {
                return TokenListParserResult.Empty<MoeToken, ArgumentSyntax>(input);
            }

            var expression = Expression(input);
            return expression.HasValue
                ? TokenListParserResult.Value<MoeToken, ArgumentSyntax>(expression.Value, input, expression.Remainder)
                : TokenListParserResult.CastEmpty<MoeToken, ExpressionSyntax, ArgumentSyntax>(expression);
        };
}

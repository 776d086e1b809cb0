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

        var tokens = new TokenList<MoeToken>(tokenized.Tokens.ToArray());
        var result = MoeGrammar.File(tokens);
        if (result.HasValue)
        {
            var range = new TextRange(0, text.Length, 1, 1);
            return new ParseResult(new FileSyntax(range, result.Value, tokenized.Comments), []);
        }

        return new ParseResult(null, [SyntaxError(result, text, displayPath)]);
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

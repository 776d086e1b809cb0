using System.Collections.Immutable;
using System.Globalization;
using MoePlan.Core.Syntax;
using Superpower.Model;

namespace MoePlan.Core.Parsing;

/// <summary>Tokens of one file, the comments the parser skips (kept for the formatter), or the first lexical error.</summary>
public sealed record TokenizeResult(
    ImmutableArray<Token<MoeToken>> Tokens,
    ImmutableArray<CommentTrivia> Comments,
    TokenizeError? Error);

/// <summary>A lexical error: which kind (it selects the diagnostic code), where, and what was found.</summary>
public sealed record TokenizeError(TokenizeErrorKind Kind, TextRange Range, string Found);

public enum TokenizeErrorKind
{
    UnexpectedCharacter,
    UnterminatedString,
    MalformedNumber,
}

/// <summary>
/// Turns plan text into tokens. Hand-written because units attach to numbers (<c>50ms</c>, <c>200/s</c>,
/// <c>2.0usd/device-hour</c>) and names may contain inner <c>-</c> and <c>.</c> (<c>qwen1.5-moe-a2.7b</c>):
/// write subtraction with spaces, <c>a - b</c>, as in Terraform.
/// </summary>
public static class MoeTokenizer
{
    public static TokenizeResult Tokenize(string source)
    {
        var tokens = ImmutableArray.CreateBuilder<Token<MoeToken>>();
        var comments = ImmutableArray.CreateBuilder<CommentTrivia>();
        var scanner = new Scanner(source);
        while (true)
        {
            scanner.SkipWhiteSpace();
            if (scanner.AtEnd)
            {
                return new TokenizeResult(tokens.ToImmutable(), comments.ToImmutable(), null);
            }

            var start = scanner.Mark();
            var c = scanner.Peek();
            if (c == '#')
            {
                while (!scanner.AtEnd && scanner.Peek() != '\n')
                {
                    scanner.Advance();
                }

                var text = source[start.Absolute..scanner.Position].TrimEnd('\r');
                comments.Add(new CommentTrivia(Range(start, text.Length), text));
                continue;
            }

            if (char.IsAsciiDigit(c))
            {
                var error = ScanNumber(scanner, start, out var kind);
                if (error is not null)
                {
                    return new TokenizeResult(tokens.ToImmutable(), comments.ToImmutable(), error);
                }

                tokens.Add(Token(source, start, scanner.Position, kind));
                continue;
            }

            if (IsNameStart(c))
            {
                ScanName(scanner);
                tokens.Add(Token(source, start, scanner.Position, MoeToken.Identifier));
                continue;
            }

            if (c == '"')
            {
                scanner.Advance();
                var closed = false;
                while (!scanner.AtEnd && scanner.Peek() != '\n')
                {
                    var d = scanner.Advance();
                    if (d == '\\' && !scanner.AtEnd && scanner.Peek() != '\n')
                    {
                        scanner.Advance();
                    }
                    else if (d == '"')
                    {
                        closed = true;
                        break;
                    }
                }

                if (!closed)
                {
                    var found = source[start.Absolute..scanner.Position].TrimEnd('\r');
                    return new TokenizeResult(tokens.ToImmutable(), comments.ToImmutable(),
                        new TokenizeError(TokenizeErrorKind.UnterminatedString, Range(start, found.Length), found));
                }

                tokens.Add(Token(source, start, scanner.Position, MoeToken.String));
                continue;
            }

            scanner.Advance();
            MoeToken punctuation;
            switch (c)
            {
                case '{': punctuation = MoeToken.LeftBrace; break;
                case '}': punctuation = MoeToken.RightBrace; break;
                case '(': punctuation = MoeToken.LeftParenthesis; break;
                case ')': punctuation = MoeToken.RightParenthesis; break;
                case '+': punctuation = MoeToken.Plus; break;
                case '-': punctuation = MoeToken.Minus; break;
                case '*': punctuation = MoeToken.Star; break;
                case '/': punctuation = MoeToken.Slash; break;
                case '=': punctuation = MoeToken.Equals; break;
                case '<':
                    if (!scanner.AtEnd && scanner.Peek() == '=')
                    {
                        scanner.Advance();
                        punctuation = MoeToken.LessThanOrEqual;
                    }
                    else
                    {
                        punctuation = MoeToken.LessThan;
                    }

                    break;
                case '>': punctuation = MoeToken.GreaterThan; break;
                default:
                    var shown = char.IsControl(c) ? $"U+{(int)c:X4}" : c.ToString();
                    return new TokenizeResult(tokens.ToImmutable(), comments.ToImmutable(),
                        new TokenizeError(TokenizeErrorKind.UnexpectedCharacter, Range(start, 1), shown));
            }

            tokens.Add(Token(source, start, scanner.Position, punctuation));
        }
    }

    /// <summary>Splits a quantity token's text into its number and unit (<c>3.35TB/s</c> -> 3.35, <c>TB/s</c>).</summary>
    public static (double Value, string Unit) SplitQuantity(string text)
    {
        var i = 0;
        while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.' || text[i] == '_'))
        {
            i++;
        }

        return (ParseNumber(text[..i]), text[i..]);
    }

    public static double ParseNumber(string text) =>
        double.Parse(text.Replace("_", "", StringComparison.Ordinal), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);

    private static TokenizeError? ScanNumber(Scanner scanner, Mark start, out MoeToken kind)
    {
        kind = MoeToken.Number;
        ScanDigits(scanner);
        if (!scanner.AtEnd && scanner.Peek() == '.' && char.IsAsciiDigit(scanner.PeekAt(1)))
        {
            scanner.Advance();
            ScanDigits(scanner);
        }

        if (!scanner.AtEnd)
        {
            var c = scanner.Peek();
            if (c == '%')
            {
                scanner.Advance();
                kind = MoeToken.Quantity;
            }
            else if (char.IsAsciiLetter(c))
            {
                while (!scanner.AtEnd && char.IsAsciiLetter(scanner.Peek()))
                {
                    scanner.Advance();
                }

                ScanPerUnit(scanner);
                kind = MoeToken.Quantity;
            }
            else if (c == '/' && char.IsAsciiLetter(scanner.PeekAt(1)))
            {
                ScanPerUnit(scanner);
                kind = MoeToken.Quantity;
            }
        }

        // "2s3", "4.5.6", "12abc_" : a number glued to something that is not a unit.
        if (!scanner.AtEnd && (char.IsAsciiLetterOrDigit(scanner.Peek()) || scanner.Peek() is '_' or '.' or '%'))
        {
            while (!scanner.AtEnd && (char.IsAsciiLetterOrDigit(scanner.Peek()) || scanner.Peek() is '_' or '.' or '%' or '/'))
            {
                scanner.Advance();
            }

            var found = scanner.Source[start.Absolute..scanner.Position];
            return new TokenizeError(TokenizeErrorKind.MalformedNumber, Range(start, found.Length), found);
        }

        return null;
    }

    private static void ScanDigits(Scanner scanner)
    {
        while (!scanner.AtEnd && (char.IsAsciiDigit(scanner.Peek()) || (scanner.Peek() == '_' && char.IsAsciiDigit(scanner.PeekAt(1)))))
        {
            scanner.Advance();
        }
    }

    // "/s", "/device-hour": a slash and letters, with inner hyphens between letters.
    private static void ScanPerUnit(Scanner scanner)
    {
        if (scanner.AtEnd || scanner.Peek() != '/' || !char.IsAsciiLetter(scanner.PeekAt(1)))
        {
            return;
        }

        scanner.Advance();
        while (!scanner.AtEnd)
        {
            var c = scanner.Peek();
            if (char.IsAsciiLetter(c) || (c == '-' && char.IsAsciiLetter(scanner.PeekAt(1))))
            {
                scanner.Advance();
            }
            else
            {
                break;
            }
        }
    }

    private static bool IsNameStart(char c) => char.IsAsciiLetter(c) || c == '_';

    private static void ScanName(Scanner scanner)
    {
        scanner.Advance();
        while (!scanner.AtEnd)
        {
            var c = scanner.Peek();
            if (char.IsAsciiLetterOrDigit(c) || c == '_')
            {
                scanner.Advance();
            }
            else if ((c == '-' || c == '.') && char.IsAsciiLetterOrDigit(scanner.PeekAt(1)))
            {
                scanner.Advance();
            }
            else
            {
                break;
            }
        }
    }

    private static TextRange Range(Mark start, int length) => new(start.Absolute, length, start.Line, start.Column);

    private static Token<MoeToken> Token(string source, Mark start, int end, MoeToken kind) =>
        new(kind, new TextSpan(source, new Position(start.Absolute, start.Line, start.Column), end - start.Absolute));

    private readonly record struct Mark(int Absolute, int Line, int Column);

    private sealed class Scanner(string source)
    {
        private int _line = 1;
        private int _column = 1;

        public string Source { get; } = source;

        public int Position { get; private set; }

        public bool AtEnd => Position >= Source.Length;

        public char Peek() => Source[Position];

        public char PeekAt(int offset) => Position + offset < Source.Length ? Source[Position + offset] : '\0';

        public Mark Mark() => new(Position, _line, _column);

        public char Advance()
        {
            var c = Source[Position++];
            if (c == '\n')
            {
                _line++;
                _column = 1;
            }
            else
            {
                _column++;
            }

            return c;
        }

        public void SkipWhiteSpace()
        {
            while (!AtEnd && Peek() is ' ' or '\t' or '\r' or '\n' or '\uFEFF')
            {
                Advance();
            }
        }
    }
}

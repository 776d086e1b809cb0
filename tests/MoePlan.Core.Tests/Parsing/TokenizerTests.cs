using MoePlan.Core.Parsing;
using Xunit;

namespace MoePlan.Core.Tests.Parsing;

public sealed class TokenizerTests
{
    private static List<(MoeToken Kind, string Text)> Tokens(string source)
    {
        var result = MoeTokenizer.Tokenize(source);
        Assert.Null(result.Error);
        return result.Tokens.Select(t => (t.Kind, t.ToStringValue())).ToList();
    }

    [Fact]
    public void Units_attach_to_numbers_and_names_keep_inner_hyphens_and_dots()
    {
        Assert.Equal(
            [
                (MoeToken.Identifier, "model"), (MoeToken.Identifier, "qwen1.5-moe-a2.7b"),
                (MoeToken.Quantity, "50ms"), (MoeToken.Quantity, "3.35TB/s"), (MoeToken.Quantity, "200/s"),
                (MoeToken.Quantity, "2.0usd/device-hour"), (MoeToken.Quantity, "56.3%"), (MoeToken.Number, "16_384"),
            ],
            Tokens("model qwen1.5-moe-a2.7b 50ms 3.35TB/s 200/s 2.0usd/device-hour 56.3% 16_384"));
    }

    [Fact]
    public void Division_needs_no_spaces_but_subtraction_of_names_does()
    {
        // "8/2" is a division (a digit follows the slash); "a-b" is one name, "a - b" a subtraction.
        Assert.Equal([(MoeToken.Number, "8"), (MoeToken.Slash, "/"), (MoeToken.Number, "2")], Tokens("8/2"));
        Assert.Equal([(MoeToken.Identifier, "a-b")], Tokens("a-b"));
        Assert.Equal([(MoeToken.Identifier, "a"), (MoeToken.Minus, "-"), (MoeToken.Identifier, "b")], Tokens("a - b"));
    }

    [Fact]
    public void Comments_are_kept_aside_with_their_position()
    {
        var result = MoeTokenizer.Tokenize("let x = 1 # one\r\n# two\nlet y = 2");
        Assert.Equal(8, result.Tokens.Length);
        Assert.Equal(["# one", "# two"], result.Comments.Select(c => c.Text));
        Assert.Equal((1, 11), (result.Comments[0].Range.Line, result.Comments[0].Range.Column));
        Assert.Equal((2, 1), (result.Comments[1].Range.Line, result.Comments[1].Range.Column));
    }

    [Theory]
    [InlineData("let s = \"open", TokenizeErrorKind.UnterminatedString, 1, 9)]
    [InlineData("nodes 4\n  dp 2s3", TokenizeErrorKind.MalformedNumber, 2, 6)]
    [InlineData("nodes 4 ; dp 2", TokenizeErrorKind.UnexpectedCharacter, 1, 9)]
    public void Lexical_errors_say_what_and_where(string source, TokenizeErrorKind kind, int line, int column)
    {
        var error = MoeTokenizer.Tokenize(source).Error;
        Assert.NotNull(error);
        Assert.Equal(kind, error.Kind);
        Assert.Equal((line, column), (error.Range.Line, error.Range.Column));
    }
}

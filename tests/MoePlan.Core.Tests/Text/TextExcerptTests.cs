using MoePlan.Core.Text;
using Xunit;

namespace MoePlan.Core.Tests.Text;

public sealed class TextExcerptTests
{
    [Theory]
    [InlineData("short", "short")]
    [InlineData("a\r\nb\tc", "a\\r\\nb\\tc")]
    [InlineData("tiny\rinjected: true\r#", "tiny\\rinjected: true\\r#")]
    [InlineData("nel\u0085 ls\u2028 ps\u2029", "nel\\u0085 ls\\u2028 ps\\u2029")]
    public void Control_characters_and_line_separators_are_escaped(string text, string expected) =>
        Assert.Equal(expected, TextExcerpt.Of(text));

    [Fact]
    public void Long_text_is_cut_and_its_length_said()
    {
        Assert.Equal(new string('x', 60) + "... (70 characters)", TextExcerpt.Of(new string('x', 70)));
        Assert.Equal(new string('x', 60), TextExcerpt.Of(new string('x', 60)));
    }

    [Fact]
    public void A_surrogate_pair_is_never_split()
    {
        // 59 letters then U+1F600 (two UTF-16 units at 59 and 60): cutting at 60 would keep half of it.
        var text = new string('a', 59) + "\U0001F600" + "tail";
        Assert.Equal(new string('a', 59) + "... (65 characters)", TextExcerpt.Of(text));
    }
}

using MoePlan.Core.Binding;
using Xunit;

namespace MoePlan.Core.Tests.Binding;

/// <summary>DNS-1123 deployment names, checked character by character against the rule written out here.</summary>
public sealed class NameRulesTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("qwen-tiny.v2")]
    [InlineData("deepseek-v3-h800")]
    [InlineData("0")]
    public void Lower_case_letters_digits_dashes_and_dots_between_alphanumerics_are_names(string name) =>
        Assert.Null(NameRules.DeploymentNameProblem(name));

    [Theory]
    [InlineData("tin\0injected: true", "U+0000")]
    [InlineData("\0", "U+0000")]
    [InlineData("a\0", "U+0000")]
    [InlineData("a\u0010b", "U+0010")]
    [InlineData("a b", "U+0020")]
    [InlineData("a\u2028b", "U+2028")]
    [InlineData("A", "`A`")]
    [InlineData("a_b", "`_`")]
    public void A_name_with_any_other_character_is_refused_naming_it(string name, string named)
    {
        // NUL is default(char): a "first bad character or default" search read it as "none" and bound the name
        // (found by the `escaping` fuzz target).
        var problem = NameRules.DeploymentNameProblem(name);
        Assert.NotNull(problem);
        Assert.Contains(named, problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-a")]
    [InlineData("a.")]
    public void A_name_must_start_and_end_with_a_letter_or_digit(string name) =>
        Assert.Equal("does not start and end with a letter or digit", NameRules.DeploymentNameProblem(name));
}

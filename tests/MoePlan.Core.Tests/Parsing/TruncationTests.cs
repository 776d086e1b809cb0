using MoePlan.Core.Compilation;
using MoePlan.Core.Parsing;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Parsing;

/// <summary>
/// Every sample plan cut at every token boundary must yield error diagnostics, never an exception
/// (a cut that drops no token, e.g. inside the final comment, is the whole plan and checks clean).
/// </summary>
public sealed class TruncationTests
{
    public static TheoryData<string> Plans()
    {
        var data = new TheoryData<string>();
        foreach (var plan in RepositoryPaths.SamplePlans())
        {
            data.Add(plan);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void Every_truncation_gives_errors_and_never_throws(string plan)
    {
        var resolver = MemorySourceResolver.FromRepository(plan, "plans/common/slo.moe");
        Assert.True(resolver.TryRead(plan, out var text, out _));
        var tokens = MoeTokenizer.Tokenize(text).Tokens;
        Assert.NotEmpty(tokens);

        var cuts = tokens.SelectMany(t => new[] { t.Span.Position.Absolute, t.Span.Position.Absolute + t.Span.Length })
            .Append(0)
            .Distinct()
            .Where(c => c < tokens[^1].Span.Position.Absolute + tokens[^1].Span.Length)
            .Order()
            .ToList();
        Assert.True(cuts.Count > 2 * tokens.Length - 2);
        foreach (var cut in cuts)
        {
            var result = PlanCompiler.CompileText(plan, text[..cut], resolver);
            Assert.True(result.HasErrors, $"{plan} cut at {cut} compiled without errors");
            Assert.All(result.Diagnostics, d => Assert.NotNull(d.Span));
        }

        Assert.False(PlanCompiler.CompileText(plan, text, resolver).HasErrors);
    }
}

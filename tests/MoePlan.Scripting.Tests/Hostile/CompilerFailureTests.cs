using MoePlan.Core.Diagnostics;

namespace MoePlan.Scripting.Tests.Hostile;

/// <summary>An exception out of the C# compiler is MP4010 at the script's first line, never a crash of moeplan.</summary>
public sealed class CompilerFailureTests
{
    [Fact]
    public void A_compiler_that_throws_gives_MP4010_at_the_first_line()
    {
        var (pe, _, diagnostics) = SchedulerScriptCompiler.Compile(
            "broken.csx", "new S()\n", (_, _) => throw new InvalidOperationException("the compiler fell over"));
        Assert.Null(pe);
        var d = Assert.Single(diagnostics);
        Assert.Equal("MP4010", d.Descriptor.Code);
        Assert.Equal(("broken.csx", 1, 1), (d.Span!.Value.File, d.Span.Value.Line, d.Span.Value.Column));
        Assert.Contains("InvalidOperationException: the compiler fell over", d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bounds_are_checked_before_the_compiler_runs()
    {
        bool ran = false;
        var (_, _, diagnostics) = SchedulerScriptCompiler.Compile(
            "deep.csx", "return " + new string('(', 500) + "0" + new string(')', 500) + ";\n", (_, _) =>
            {
                ran = true;
                return (null, null, []);
            });
        Assert.False(ran);
        Assert.Equal("MP4009", Assert.Single(diagnostics).Descriptor.Code);
    }
}

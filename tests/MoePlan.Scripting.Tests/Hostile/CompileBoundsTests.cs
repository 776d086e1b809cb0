using MoePlan.Core.Diagnostics;
using MoePlan.Scheduling;

namespace MoePlan.Scripting.Tests.Hostile;

/// <summary>
/// Hostile scripts aimed at the compiler (issue #21): each is refused before Roslyn sees it (MP4009), located, and
/// nothing crashes or runs for minutes. Also the determinism rules (GetHashCode) and the catch that would swallow the
/// budget's stop.
/// </summary>
public sealed class CompileBoundsTests
{
    private static IReadOnlyList<Diagnostic> Diagnose(string name, string text)
    {
        var load = ScriptHarness.Load(ScriptHarness.WriteTemp(name, text));
        Assert.Null(load.Script);
        return load.Diagnostics;
    }

    [Fact(Timeout = 60_000)]
    public async Task Ten_thousand_nested_parentheses_are_refused_before_the_compiler_recurses()
    {
        await Task.Yield();
        // "return " is columns 1-7, the first '(' column 8, so the 101st (one past the 100 levels) is column 108.
        var d = Assert.Single(Diagnose("parens.csx", "return " + new string('(', 10_000) + "0" + new string(')', 10_000) + ";\n"));
        Assert.Equal(DiagnosticCodes.ScriptTooComplex, d.Descriptor);
        Assert.Equal((1, 108), (d.Span!.Value.Line, d.Span.Value.Column));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_sum_of_100k_terms_is_refused_at_the_start_of_its_statement()
    {
        await Task.Yield();
        var text = "using MoePlan.Scheduling;\nclass S : Scheduler { }\nint x = " + string.Join("+", Enumerable.Repeat("1", 100_000)) + ";\nnew S()\n";
        var d = Assert.Single(Diagnose("sum.csx", text));
        Assert.Equal(DiagnosticCodes.ScriptTooComplex, d.Descriptor);
        // The statement starts after the '}' ending line 2: line 2, column 24 (the '}' is column 23).
        Assert.Equal((2, 24), (d.Span!.Value.Line, d.Span.Value.Column));
    }

    [Fact(Timeout = 60_000)]
    public async Task Nested_interpolated_strings_count_as_nesting()
    {
        await Task.Yield();
        var text = "using MoePlan.Scheduling;\nclass S : Scheduler { }\nstring s = $\"" + string.Concat(Enumerable.Repeat("{$\"", 3000)) + "x" + string.Concat(Enumerable.Repeat("\"}", 3000)) + "\";\nnew S()\n";
        Assert.Equal(DiagnosticCodes.ScriptTooComplex, Assert.Single(Diagnose("interpolated.csx", text)).Descriptor);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_script_over_the_size_limit_is_refused()
    {
        await Task.Yield();
        var text = "using MoePlan.Scheduling;\nclass S : Scheduler { }\nnew S()\n" + new string('/', ScriptBounds.MaxCharacters);
        var d = Assert.Single(Diagnose("large.csx", text));
        Assert.Equal((DiagnosticCodes.ScriptTooComplex, 1, 1), (d.Descriptor, d.Span!.Value.Line, d.Span.Value.Column));
    }

    [Fact]
    public void Code_within_the_bounds_compiles()
    {
        // 1,000 terms (1,999 tokens) and 50 levels of parentheses are within the bounds.
        var text = "using MoePlan.Scheduling;\nclass S : Scheduler { }\nint x = " + string.Join("+", Enumerable.Repeat("1", 1000)) + ";\nint y = "
            + new string('(', 50) + "1" + new string(')', 50) + ";\nnew S()\n";
        var load = ScriptHarness.Load(ScriptHarness.WriteTemp("bounded.csx", text));
        Assert.True(load.Script is not null, string.Join("\n", load.Diagnostics));
    }

    [Theory]
    [InlineData("\"abc\".GetHashCode()", "String.GetHashCode")]
    [InlineData("((object)1.5).GetHashCode()", "Object.GetHashCode")]
    [InlineData("(1, \"a\").GetHashCode()", "ValueTuple.GetHashCode")]
    [InlineData("StringComparer.Ordinal.GetHashCode(\"a\")", "StringComparer.GetHashCode")]
    [InlineData("EqualityComparer<string>.Default.GetHashCode(\"a\")", "EqualityComparer.GetHashCode")]
    [InlineData("new R(\"a\").GetHashCode()", "R.GetHashCode")]
    public void Per_process_hash_codes_are_rejected(string call, string named)
    {
        var text = $"using MoePlan.Scheduling;\nrecord R(string Name);\nclass S : Scheduler {{ public override int ChoosePrefill(IRequestView r, IClusterState c) => {call} & 1; }}\nnew S()\n";
        var d = Assert.Single(Diagnose("hash.csx", text));
        Assert.Equal(DiagnosticCodes.ScriptForbiddenApi, d.Descriptor);
        Assert.Contains(named, d.Message, StringComparison.Ordinal);
        Assert.Equal(3, d.Span!.Value.Line);
    }

    [Fact]
    public void Hashes_of_numbers_and_StableHash_are_allowed()
    {
        var text = "using MoePlan.Scheduling;\nclass S : Scheduler { public override int ChoosePrefill(IRequestView r, IClusterState c) => (int)((StableHash.Of(\"x\") ^ (ulong)r.Id.GetHashCode() ^ (ulong)(2.5).GetHashCode()) % 2); }\nnew S()\n";
        var load = ScriptHarness.Load(ScriptHarness.WriteTemp("stable.csx", text));
        Assert.True(load.Script is not null, string.Join("\n", load.Diagnostics));
    }

    [Fact]
    public void StableHash_is_64_bit_FNV_1a()
    {
        // Test vectors of the FNV reference (Landon Curt Noll's FNV page, test suite for FNV-1a 64):
        // "" -> cbf29ce484222325, "a" -> af63dc4c8601ec8c, "foobar" -> 85944171f73967e8.
        Assert.Equal(0xcbf29ce484222325UL, StableHash.Of(""));
        Assert.Equal(0xaf63dc4c8601ec8cUL, StableHash.Of("a"));
        Assert.Equal(0x85944171f73967e8UL, StableHash.Of("foobar"));
        // A long's eight bytes, least significant first: 97 ('a') then seven zero bytes equals hashing "a\0\0\0\0\0\0\0".
        Assert.Equal(StableHash.Of("a\0\0\0\0\0\0\0"), StableHash.Of(97L));
        Assert.Equal(StableHash.Of("a\0\0\0\0\0\0\0"), StableHash.Combine(0xcbf29ce484222325UL, 97UL));
    }

    [Fact]
    public void A_catch_of_a_type_parameter_is_a_catch_all()
    {
        // A generic helper instantiated with Exception would swallow the budget's stop. Line 4: "    catch (T) { }" (column 5).
        const string text = "using MoePlan.Scheduling;\nstatic bool Try<T>(Func<bool> f) where T : Exception {\n    try { return f(); }\n    catch (T) { return false; }\n}\nclass S : Scheduler { }\nnew S()\n";
        var d = Assert.Single(Diagnose("generic-catch.csx", text));
        Assert.Equal((DiagnosticCodes.ScriptCatchAll, 4, 5), (d.Descriptor, d.Span!.Value.Line, d.Span.Value.Column));
    }

    [Theory]
    [InlineData("/proc/self/mem", "cannot read the scheduler script '/proc/self/mem'")]
    [InlineData("/dev/zero", "character device")]
    public void A_script_path_that_is_not_a_regular_file_is_a_located_diagnostic(string path, string reason)
    {
        var load = ScriptHarness.Load(path);
        Assert.Null(load.Script);
        var d = Assert.Single(load.Diagnostics);
        Assert.Equal(DiagnosticCodes.ScriptNotFound, d.Descriptor);
        Assert.StartsWith($"{path}(1,1): error MP4008", d.ToString(), StringComparison.Ordinal);
        Assert.Contains(reason, d.Message, StringComparison.Ordinal);
    }
}

using MoePlan.Core.Diagnostics;

namespace MoePlan.Scripting.Tests;

/// <summary>Compiling, checking and caching scripts.</summary>
public sealed class CompileTests
{
    [Fact]
    public void Compile_errors_point_into_the_script()
    {
        // Line 5 is "    public override int ChoosePrefill(IRequestView r, IClusterState c) => r.Tokens;":
        // 'Tokens' (no such member) starts at column 77 (4 spaces + 72 characters before it).
        const string text = """
            using MoePlan.Scheduling;

            class S : Scheduler
            {
                public override int ChoosePrefill(IRequestView r, IClusterState c) => r.Tokens;
                public override bool Admit(IRequestView r, IClusterState c) => 1;
            }

            new S()
            """;
        var path = ScriptHarness.WriteTemp("errors.csx", text);
        var load = ScriptHarness.Load(path);
        Assert.Null(load.Script);
        Assert.All(load.Diagnostics, d => Assert.Equal(DiagnosticCodes.ScriptCompileError, d.Descriptor));
        var first = load.Diagnostics[0];
        Assert.Equal((path, 5, 77), (first.Span!.Value.File, first.Span.Value.Line, first.Span.Value.Column));
        Assert.Contains("CS1061", first.Message, StringComparison.Ordinal);
        // Line 6: "    public override bool Admit(IRequestView r, IClusterState c) => 1;": the 1 is at column 68.
        var second = load.Diagnostics[1];
        Assert.Equal((6, 68), (second.Span!.Value.Line, second.Span.Value.Column));
        Assert.Equal($"{path}(5,77): error MP4001: CS1061: {first.Message["CS1061: ".Length..]}", first.ToString());
    }

    [Fact]
    public void A_second_load_takes_the_cached_image_and_does_not_compile()
    {
        var path = ScriptHarness.WriteTemp("cached.csx", "using MoePlan.Scheduling;\nclass S : Scheduler { }\nnew S()\n");
        var first = ScriptHarness.Load(path);
        var second = ScriptHarness.Load(path);
        Assert.False(first.FromCache);
        Assert.True(second.FromCache);
        Assert.NotNull(second.Script);

        // A changed script is a different key: compiled again.
        File.AppendAllText(path, "// changed\n");
        Assert.False(ScriptHarness.Load(path).FromCache);
    }

    [Fact]
    public void Scripts_with_errors_are_not_cached()
    {
        var path = ScriptHarness.WriteTemp("broken.csx", "using MoePlan.Scheduling;\nclass S : Scheduler { int x = \"a\"; }\nnew S()\n");
        Assert.False(ScriptHarness.Load(path).FromCache);
        Assert.False(ScriptHarness.Load(path).FromCache);
    }

    [Fact]
    public void Allowed_code_compiles_and_runs_on_the_allow_list()
    {
        // Collections, LINQ, Math, tuples, records, lambdas, local functions, iterators, a catch of a specific
        // exception, static readonly immutable state and consts are all fine.
        const string text = """
            using MoePlan.Scheduling;

            record Pick(int Index, double Score);

            class S : Scheduler
            {
                static readonly double Weight = 0.5;
                const int Spare = 1;
                readonly Dictionary<long, int> seen = new();

                public override int ChoosePrefill(IRequestView r, IClusterState c)
                {
                    IEnumerable<Pick> Picks() { foreach (var p in c.Prefill) yield return new Pick(p.Index, Score(p)); }
                    double Score(IPrefillInstanceView p) => Math.Sqrt(p.QueuedTokens + Spare) * Weight;
                    var (index, _) = Picks().OrderBy(p => p.Score).ThenBy(p => p.Index).Select(p => (p.Index, p.Score)).First();
                    seen[r.Id] = index;
                    try { return checked(index + 0); }
                    catch (OverflowException) { return 0; }
                }
            }

            new S()
            """;
        var load = ScriptHarness.Load(ScriptHarness.WriteTemp("allowed.csx", text));
        Assert.True(load.Script is not null, string.Join("\n", load.Diagnostics));
        var result = ScriptHarness.RunSmall(new ScriptPolicy(load.Script, ScriptBudgetOptions.Default, fallback: false));
        Assert.Equal(20, result.Completed.Count);
    }
}

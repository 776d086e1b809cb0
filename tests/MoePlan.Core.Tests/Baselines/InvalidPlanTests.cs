using ApprovalTests;
using ApprovalTests.Namers;
using ApprovalTests.Reporters;
using MoePlan.Core.Compilation;
using MoePlan.Core.Diagnostics;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Baselines;

/// <summary>
/// One invalid plan per diagnostic code (Baselines/Invalid/*.moe, first line <c># expect: CODE</c>).
/// Each must produce its code, and its full diagnostics are kept as an approved baseline.
/// </summary>
[UseReporter(typeof(BaselineReporter))]
[UseApprovalSubdirectory("Approved")]
public sealed class InvalidPlanTests
{
    private static readonly string Folder = RepositoryPaths.PathOf("tests", "MoePlan.Core.Tests", "Baselines", "Invalid");

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Folder, "*.moe").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileNameWithoutExtension(file));
        }

        return data;
    }

    private static MemorySourceResolver Resolver() =>
        new(Directory.GetFiles(Folder).ToDictionary(f => "Invalid/" + Path.GetFileName(f), File.ReadAllText, StringComparer.Ordinal));

    private static string ExpectedCode(string name) =>
        File.ReadLines(Path.Combine(Folder, name + ".moe")).First().Replace("# expect:", "", StringComparison.Ordinal).Trim();

    private static CompilationResult Compile(string name) => PlanCompiler.Compile($"Invalid/{name}.moe", Resolver());

    [Theory]
    [MemberData(nameof(Cases))]
    public void Produces_its_expected_code(string name)
    {
        var result = Compile(name);
        Assert.Contains(result.Diagnostics, d => d.Code == ExpectedCode(name));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Diagnostics_match_the_baseline(string name)
    {
        var result = Compile(name);
        var text = string.Join("\n", result.Diagnostics.Select(d => d.ToString())) + "\n";
        using (ApprovalResults.ForScenario(name))
        {
            Approvals.Verify(text);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Diagnostics_come_in_reading_order(string name)
    {
        // By file, then position; the stages find them in their own order (binding before verification).
        var located = Compile(name).Diagnostics.Where(d => d.Span is not null).Select(d => d.Span!.Value).ToList();
        for (var i = 1; i < located.Count; i++)
        {
            var (previous, next) = (located[i - 1], located[i]);
            var ordered = string.CompareOrdinal(previous.File, next.File) < 0 || (previous.File == next.File && previous.Start <= next.Start);
            Assert.True(ordered, $"{previous} before {next}");
        }
    }

    /// <summary>Every syntax, binding and verification code has a case here (model-config codes MP21xx have
    /// their own tests in Catalog/, expert-load codes MP51xx in Placement/, the inventory-against-plan codes MP307x,
    /// which need an inventory file besides the plan, in MoePlan.Cli.Tests' InventoryTests).</summary>
    [Fact]
    public void Every_plan_level_code_has_a_case()
    {
        var covered = Directory.GetFiles(Folder, "*.moe")
            .Select(f => ExpectedCode(Path.GetFileNameWithoutExtension(f)))
            .ToHashSet(StringComparer.Ordinal);
        var planLevel = DiagnosticCodes.All
            .Where(d => d.Code.StartsWith("MP1", StringComparison.Ordinal) ||
                        (d.Code.StartsWith("MP2", StringComparison.Ordinal) && !d.Code.StartsWith("MP21", StringComparison.Ordinal)) ||
                        (d.Code.StartsWith("MP3", StringComparison.Ordinal) && !d.Code.StartsWith("MP307", StringComparison.Ordinal)))
            .Select(d => d.Code)
            .Where(code => !covered.Contains(code))
            .ToList();
        Assert.True(planLevel.Count == 0, "codes without a case: " + string.Join(", ", planLevel));
    }
}

using MoePlan.Core.Compilation;
using MoePlan.Core.Diagnostics;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Baselines;

/// <summary>
/// Hints that land on a fix: every diagnostic of the invalid-plan baselines whose hint is a concrete edit is applied to
/// the plan's text and the plan checked again. That diagnostic must be gone and no other may appear (each code at most
/// as often as before, the fixed code less often).
/// </summary>
public sealed class HintFixTests
{
    private static readonly string Folder = RepositoryPaths.PathOf("tests", "MoePlan.Core.Tests", "Baselines", "Invalid");

    /// <summary>Baselines whose diagnostics carry a fix; the fact below checks this list is the whole of them.</summary>
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var name in Directory.GetFiles(Folder, "*.moe").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal))
        {
            if (Compile(name!, Sources()).Diagnostics.Any(d => d.Fix is not null))
            {
                data.Add(name!);
            }
        }

        return data;
    }

    private static Dictionary<string, string> Sources() =>
        Directory.GetFiles(Folder).ToDictionary(f => "Invalid/" + Path.GetFileName(f), File.ReadAllText, StringComparer.Ordinal);

    private static CompilationResult Compile(string name, Dictionary<string, string> sources) =>
        PlanCompiler.Compile($"Invalid/{name}.moe", new MemorySourceResolver(sources));

    [Theory]
    [MemberData(nameof(Cases))]
    public void Applying_a_fix_removes_its_diagnostic_and_adds_none(string name)
    {
        var sources = Sources();
        var before = Compile(name, sources);
        foreach (var diagnostic in before.Diagnostics.Where(d => d.Fix is not null))
        {
            var fixedSources = new Dictionary<string, string>(sources, StringComparer.Ordinal);
            foreach (var group in diagnostic.Fix!.Edits.GroupBy(e => e.Span.File))
            {
                var text = fixedSources[group.Key];
                // Back to front, so earlier offsets stay valid.
                foreach (var edit in group.OrderByDescending(e => e.Span.Start))
                {
                    text = text[..edit.Span.Start] + edit.NewText + text[edit.Span.End..];
                }

                fixedSources[group.Key] = text;
            }

            var after = Compile(name, fixedSources);
            var counts = Counts(before);
            var afterCounts = Counts(after);
            var described = $"{diagnostic} fixed by \"{diagnostic.Fix.Title}\" gave:\n{string.Join("\n", after.Diagnostics)}";
            Assert.True(afterCounts.GetValueOrDefault(diagnostic.Code) < counts[diagnostic.Code], described);
            Assert.True(afterCounts.All(c => c.Value <= counts.GetValueOrDefault(c.Key)), described);
        }
    }

    [Fact]
    public void The_concrete_hints_of_the_baselines_carry_fixes()
    {
        // Codes whose baseline hint names a single edit of the plan (a value to set, a name to use), written out here
        // from the approved baselines so that losing a fix fails.
        string[] expected = ["MP2001", "MP2003", "MP2004", "MP2005", "MP2015", "MP2021", "MP2022", "MP2050", "MP3004", "MP3007", "MP3020", "MP3030", "MP3031", "MP3060", "MP3061", "MP3062"];
        var sources = Sources();
        var withFixes = Directory.GetFiles(Folder, "*.moe").Select(Path.GetFileNameWithoutExtension)
            .SelectMany(name => Compile(name!, sources).Diagnostics.Where(d => d.Fix is not null).Select(d => d.Code))
            .ToHashSet(StringComparer.Ordinal);
        Assert.Equal(expected, withFixes.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("MP3020-memory-does-not-fit", "MP3020", "max_batch 12 per device")] // the hint: "lower max_batch to 12 per device"
    [InlineData("MP3004-experts-not-divisible", "MP3004", "placement { redundant_experts 32 }")]
    [InlineData("MP2015-unknown-unit", "MP2015", "arrivals poisson 10/s")]
    [InlineData("MP2050-invalid-deployment-name", "MP2050", "deployment \"my-plan\" {")]
    public void A_fix_writes_what_its_hint_says(string name, string code, string line)
    {
        var sources = Sources();
        var diagnostic = Compile(name, sources).Diagnostics.First(d => d.Code == code);
        var path = $"Invalid/{name}.moe";
        var text = sources[path];
        foreach (var edit in diagnostic.Fix!.Edits.OrderByDescending(e => e.Span.Start))
        {
            text = text[..edit.Span.Start] + edit.NewText + text[edit.Span.End..];
        }

        Assert.Contains(line, text.Split('\n').Select(l => l.Trim()));
    }

    private static Dictionary<string, int> Counts(CompilationResult result) =>
        result.Diagnostics.GroupBy(d => d.Code).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
}

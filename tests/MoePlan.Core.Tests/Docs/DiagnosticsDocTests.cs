using System.Text;
using MoePlan.Core.Diagnostics;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Docs;

/// <summary>docs/diagnostics.md is generated from the central list of codes; this test keeps them equal.
/// Regenerate with MOEPLAN_ACCEPT_BASELINES=1.</summary>
public sealed class DiagnosticsDocTests
{
    private static string Generate()
    {
        var text = new StringBuilder();
        text.Append("# Diagnostic codes\n\n");
        text.Append("Generated from `src/MoePlan.Core/Diagnostics/DiagnosticCodes*.cs` by `DiagnosticsDocTests` ");
        text.Append("(regenerate: `MOEPLAN_ACCEPT_BASELINES=1 dotnet test`). Codes are never renumbered.\n\n");
        text.Append("Printed as `file(line,col): severity CODE: message [hint: ...]`. Ranges: MP1xxx syntax, ");
        text.Append("MP2xxx binding (MP21xx model config.json files), MP3xxx verification, MP4xxx scripts, MP5xxx runtime and input files ");
        text.Append("(MP51xx expert-load files).\n\n");
        text.Append("Diagnostics come sorted by file and position. A hint that is one concrete edit of the plan (a name for a misspelt ");
        text.Append("one, a value to set: MP2001, MP2003-MP2005, MP2015, MP2050, MP3004, MP3007, MP3020, MP3060-MP3062) also carries it as ");
        text.Append("a fix, which `moeplan lsp` offers as a quick fix; applied, it removes its diagnostic without causing another ");
        text.Append("(`HintFixTests` applies each over the invalid-plan baselines). Where pools share a setting the fix is joint: ");
        text.Append("MP3004's redundant-expert count divides by every pool's EP.\n\n");
        text.Append("| code | severity | title | message |\n|---|---|---|---|\n");
        foreach (var d in DiagnosticCodes.All)
        {
            var message = d.MessageFormat.Replace("|", "\\|", StringComparison.Ordinal);
            text.Append($"| {d.Code} | {d.Severity.ToString().ToLowerInvariant()} | {d.Title} | {message} |\n");
        }

        return text.ToString();
    }

    [Fact]
    public void Docs_list_every_code()
    {
        var path = RepositoryPaths.PathOf("docs", "diagnostics.md");
        var expected = Generate();
        if (Environment.GetEnvironmentVariable("MOEPLAN_ACCEPT_BASELINES") == "1")
        {
            File.WriteAllText(path, expected);
        }

        Assert.True(File.Exists(path), "docs/diagnostics.md is missing; run with MOEPLAN_ACCEPT_BASELINES=1");
        Assert.Equal(expected, File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal));
    }

    [Fact]
    public void Codes_are_unique_and_well_formed()
    {
        var codes = DiagnosticCodes.All.Select(d => d.Code).ToList();
        Assert.Equal(codes.Count, codes.Distinct(StringComparer.Ordinal).Count());
        Assert.All(codes, c => Assert.Matches("^MP[1-5][0-9]{3}$", c));
    }

    /// <summary>Each code is named by at least one test or test input (the invalid-plan corpus names its
    /// expected code on its first line; reader and placement tests assert their codes by name).</summary>
    [Fact]
    public void Every_code_is_named_by_a_test()
    {
        var testText = string.Join("\n", Directory.GetFiles(RepositoryPaths.PathOf("tests"), "*.*", SearchOption.AllDirectories)
            .Where(f => (f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".moe", StringComparison.Ordinal) || f.EndsWith(".csx", StringComparison.Ordinal))
                        && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(File.ReadAllText));
        var missing = DiagnosticCodes.All.Select(d => d.Code).Where(c => !testText.Contains(c, StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, "codes no test names: " + string.Join(", ", missing));
    }
}

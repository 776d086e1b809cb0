using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using MoePlan.Core.Diagnostics;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

/// <summary><c>moeplan check --format sarif</c>: a SARIF 2.1.0 log that the OASIS schema accepts, with the same
/// diagnostics, places and exit codes as the text output.</summary>
public sealed class CheckSarifTests
{
    private static readonly string InvalidPlans = RepositoryPaths.PathOf("tests", "MoePlan.Core.Tests", "Baselines", "Invalid");

    private static readonly Lazy<JsonSchema> SarifSchema = new(() =>
    {
        // The OASIS file declares draft-04, which JsonSchema.Net does not read; it uses only keywords that mean the same
        // in draft-07 (no boolean exclusiveMinimum; $ref to #/definitions), so the declaration is dropped and the schema
        // read as draft-07. Its draft-04 "id" is then an unknown keyword, ignored.
        var node = JsonNode.Parse(TestData.ReadText("sarif", "sarif-schema-2.1.0.json"))!.AsObject();
        node.Remove("$schema");
        return JsonSchema.FromText(node.ToJsonString(), new BuildOptions
        {
            SchemaRegistry = new SchemaRegistry(),
            Dialect = Dialect.Draft07.With([], allowUnknownKeywords: true),
        });
    });

    [Fact]
    public void The_log_of_every_invalid_corpus_plan_and_every_sample_validates_against_the_SARIF_schema()
    {
        var (code, output, error) = CliRunner.Run("check", InvalidPlans, RepositoryPaths.PathOf("plans"), "--format", "sarif");
        Assert.Equal("", error);
        Assert.Equal(1, code);
        AssertValid(output);

        // As many results as the text output has diagnostic lines (each `file(line,col): severity MPxxxx:` line).
        var (_, text, _) = CliRunner.Run("check", InvalidPlans, RepositoryPaths.PathOf("plans"));
        var lines = text.Split('\n').Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^(.*\(\d+,\d+\)|moeplan): (error|warning|info) MP\d{4}: "));
        var results = JsonNode.Parse(output)!["runs"]![0]!["results"]!.AsArray();
        Assert.True(lines > 40, $"{lines} diagnostic lines");
        Assert.Equal(lines, results.Count);
    }

    [Fact]
    public void A_result_has_its_rule_level_message_hint_and_region()
    {
        var plan = Path.Combine(InvalidPlans, "MP2001-unknown-setting.moe");
        var (code, output, _) = CliRunner.Run("check", plan, "--format", "sarif");
        Assert.Equal(1, code);
        AssertValid(output);
        var run = JsonNode.Parse(output)!["runs"]![0]!;
        var rules = run["tool"]!["driver"]!["rules"]!.AsArray();
        Assert.Equal(DiagnosticCodes.All.Length, rules.Count);
        var result = run["results"]!.AsArray().Single(r => (string?)r!["ruleId"] == "MP2001")!;
        var rule = rules[(int)result["ruleIndex"]!]!;
        Assert.Equal("MP2001", (string?)rule["id"]);
        Assert.Equal("Unknown setting", (string?)rule["shortDescription"]!["text"]);
        Assert.Contains("docs/diagnostics.md", (string?)rule["help"]!["markdown"], StringComparison.Ordinal);
        Assert.Equal("error", (string?)result["level"]);
        Assert.Equal("unknown setting `paralel` in `decode`; did you mean `parallel`?", (string?)result["message"]!["text"]);

        // Line 15 of the file is "    paralel { dp 32  ep 32 }": the name starts after four spaces (column 5) and is
        // seven characters long, so the region ends before column 12. Lines 1-14 hold 286 characters with their '\n's; with the four spaces the name is at offset 290.
        var region = result["locations"]![0]!["physicalLocation"]!["region"]!;
        Assert.Equal(15, (int)region["startLine"]!);
        Assert.Equal(5, (int)region["startColumn"]!);
        Assert.Equal(15, (int)region["endLine"]!);
        Assert.Equal(12, (int)region["endColumn"]!);
        Assert.Equal(7, (int)region["charLength"]!);
        var fileText = File.ReadAllText(plan);
        Assert.Equal("paralel", fileText.Substring((int)region["charOffset"]!, 7));
        Assert.Equal(290, fileText.Split('\n').Take(14).Sum(l => l.Length + 1) + 4);
        Assert.Equal(290, (int)region["charOffset"]!);
        var uri = (string?)result["locations"]![0]!["physicalLocation"]!["artifactLocation"]!["uri"];
        Assert.Equal(new Uri(plan).AbsoluteUri, uri);
    }

    [Fact]
    public void A_clean_plan_gives_an_empty_result_list_and_exit_code_0()
    {
        var (code, output, error) = CliRunner.Run("check", RepositoryPaths.PathOf("plans", "deepseek-r1-cloudmatrix384.moe"), "--format", "sarif");
        Assert.Equal("", error);
        Assert.Equal(0, code);
        AssertValid(output);
        Assert.Empty(JsonNode.Parse(output)!["runs"]![0]!["results"]!.AsArray());

        // The schema is live: a level SARIF does not know is refused.
        var wrong = JsonNode.Parse(output)!;
        wrong["runs"]![0]!["tool"]!["driver"]!["rules"]![0]!["defaultConfiguration"]!["level"] = "fatal";
        Assert.False(SarifSchema.Value.Evaluate(JsonDocument.Parse(wrong.ToJsonString()).RootElement).IsValid);
    }

    [Fact]
    public void A_hint_travels_in_the_message_and_the_properties()
    {
        var plan = Directory.GetFiles(InvalidPlans, "*.moe").Order(StringComparer.Ordinal)
            .First(p => CliRunner.Run("check", p).Out.Contains("[hint: ", StringComparison.Ordinal));
        var (_, output, _) = CliRunner.Run("check", plan, "--format", "sarif");
        AssertValid(output);
        var withHint = JsonNode.Parse(output)!["runs"]![0]!["results"]!.AsArray().First(r => r!["properties"]?["hint"] is not null)!;
        Assert.EndsWith($"[hint: {(string?)withHint["properties"]!["hint"]}]", (string?)withHint["message"]!["text"], StringComparison.Ordinal);
    }

    [Fact]
    public void Docs_uri_gives_each_rule_an_absolute_help_uri_and_a_relative_one_is_refused()
    {
        var plan = RepositoryPaths.PathOf("plans", "deepseek-r1-cloudmatrix384.moe");
        var (code, output, _) = CliRunner.Run("check", plan, "--format", "sarif", "--docs-uri", "https://example.org/moeplan/");
        Assert.Equal(0, code);
        AssertValid(output);
        var rules = JsonNode.Parse(output)!["runs"]![0]!["tool"]!["driver"]!["rules"]!.AsArray();
        Assert.All(rules, r => Assert.Equal("https://example.org/moeplan/docs/diagnostics.md", (string?)r!["helpUri"]));

        var (badCode, _, error) = CliRunner.Run("check", plan, "--format", "sarif", "--docs-uri", "docs");
        Assert.Equal(2, badCode);
        Assert.Contains("--docs-uri", error, StringComparison.Ordinal);
    }

    private static void AssertValid(string sarif)
    {
        var result = SarifSchema.Value.Evaluate(JsonDocument.Parse(sarif).RootElement, new EvaluationOptions
        {
            OutputFormat = OutputFormat.List,
            RequireFormatValidation = true,
        });
        var errors = result.Details?.Where(d => d.Errors is { Count: > 0 })
            .Select(d => $"{d.InstanceLocation}: {string.Join("; ", d.Errors!.Values)}").Take(10) ?? [];
        Assert.True(result.IsValid, "SARIF schema errors:\n" + string.Join("\n", errors));
    }
}

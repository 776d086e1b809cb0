using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

/// <summary>How verbs take their files: folders, standard input, and arguments that are not files.</summary>
public sealed class InputArgumentTests
{
    private static string Tiny => RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe");

    [Fact]
    public void An_unknown_option_is_called_one_not_a_missing_file()
    {
        // Was: "cannot read '--frobnicate': no such file".
        var (code, _, error) = CliRunner.Run("check", "--frobnicate", Tiny);
        Assert.Equal(2, code);
        Assert.Contains("unknown option '--frobnicate'", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--seed", "abc", "a whole number")]
    [InlineData("--max-requests", "1.5", "a whole number")]
    public void A_value_of_the_wrong_kind_is_said_without_dotnet_type_names(string option, string value, string expected)
    {
        // Was: "Cannot parse argument 'abc' for option '--seed' as expected type 'System.Nullable`1[System.Int32]'".
        var (code, _, error) = CliRunner.Run("run", Tiny, option, value);
        Assert.Equal(2, code);
        Assert.Contains($"'{value}' is not a valid value for {option}: expected {expected}", error, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_checks_every_plan_below_it_and_skips_import_only_files_with_a_note()
    {
        // plans/common/slo.moe holds only lets that plans import: it was MP2014 "found 0" deployments.
        var (code, output, _) = CliRunner.Run("check", RepositoryPaths.PathOf("plans"));
        Assert.Equal(0, code);
        Assert.Contains(Path.Combine("plans", "common", "slo.moe") + ": skipped: no deployment", output, StringComparison.Ordinal);
        var expected = Directory.GetFiles(RepositoryPaths.PathOf("plans"), "*.moe", SearchOption.AllDirectories).Length;
        Assert.Equal(expected, output.Split('\n').Count(l => l.Contains(".moe: ok", StringComparison.Ordinal) || l.Contains(".moe: skipped", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("check")]
    [InlineData("cost")]
    [InlineData("run")]
    [InlineData("place")]
    public void Set_overrides_a_setting_on_every_verb_that_reads_a_plan(string verb)
    {
        // EP 3 cannot divide the 4 ranks of a tiny decode instance (MP3006): only the override can have caused it.
        var (code, output, error) = CliRunner.Run(verb, Tiny, "--set", "decode.ep=3");
        Assert.Equal(1, code);
        Assert.Contains("error MP3006: decode: EP 3 must divide", output + error, StringComparison.Ordinal);
        // A path the plan's language lacks is a usage error naming it.
        var unknown = CliRunner.Run(verb, Tiny, "--set", "decode.paralel.ep=2");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("did you mean `parallel`? (MP5601)", unknown.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Set_applies_to_a_plan_on_standard_input()
    {
        var (code, output, _) = CliRunner.RunWithInput(File.ReadAllText(Tiny), "check", "-", "--set", "decode.ep=3");
        Assert.Equal(1, code);
        Assert.Contains("<stdin>(", output, StringComparison.Ordinal);
        Assert.Contains("MP3006", output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_plan_on_standard_input_is_checked_as_stdin()
    {
        var (code, output, _) = CliRunner.RunWithInput(File.ReadAllText(Tiny), "check", "-");
        Assert.Equal(0, code);
        Assert.Contains("<stdin>: ok", output, StringComparison.Ordinal);
        var broken = CliRunner.RunWithInput("deployment \"x\" { engine vllm", "check", "-");
        Assert.Equal(1, broken.ExitCode);
        Assert.StartsWith("<stdin>(1,", broken.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Fmt_diff_prints_a_unified_diff_and_writes_nothing()
    {
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        try
        {
            var file = Path.Combine(folder, "plan.moe");
            var text = File.ReadAllText(Tiny).Replace("\n  engine vllm\n", "\nengine vllm\n", StringComparison.Ordinal);
            File.WriteAllText(file, text);
            var (code, output, _) = CliRunner.Run("fmt", "--diff", file);
            Assert.Equal(1, code);
            Assert.StartsWith($"--- a/{file}\n+++ b/{file}\n@@ ", output, StringComparison.Ordinal);
            Assert.Contains("\n-engine vllm\n+  engine vllm\n", output, StringComparison.Ordinal);
            Assert.Equal(text, File.ReadAllText(file));
            Assert.Equal(0, CliRunner.Run("fmt", "--diff", Tiny).ExitCode);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Fmt_of_standard_input_writes_the_canonical_plan_to_standard_output()
    {
        var canonical = File.ReadAllText(Tiny);
        var (code, output, _) = CliRunner.RunWithInput(canonical.Replace("\n  engine vllm\n", "\nengine vllm\n", StringComparison.Ordinal), "fmt", "-");
        Assert.Equal(0, code);
        Assert.Equal(canonical, output);
    }
}

using System.Text.Json;
using MoePlan.Cli.Files;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

public sealed class CommandLineTests
{
    private static string Invalid(string name) => RepositoryPaths.PathOf("tests", "MoePlan.Core.Tests", "Baselines", "Invalid", name + ".moe");

    [Fact]
    public void Check_prints_msbuild_style_diagnostics_and_exits_1_on_errors()
    {
        var (code, output, _) = CliRunner.Run("check", Invalid("MP2003-unknown-model"));
        Assert.Equal(1, code);
        Assert.Matches(@"MP2003-unknown-model\.moe\(4,9\): error MP2003: unknown model `deepseek-v4`; did you mean `deepseek-v3`\?", output);
    }

    [Fact]
    public void Check_json_lists_each_file_with_its_diagnostics()
    {
        var (code, output, _) = CliRunner.Run("check", Invalid("MP3004-experts-not-divisible"), "--format", "json");
        Assert.Equal(1, code);
        using var doc = JsonDocument.Parse(output);
        var file = doc.RootElement.GetProperty("files")[0];
        Assert.False(file.GetProperty("ok").GetBoolean());
        var first = file.GetProperty("diagnostics")[0];
        Assert.Equal("MP3004", first.GetProperty("code").GetString());
        Assert.Equal(10, first.GetProperty("line").GetInt32());
        Assert.StartsWith("use 32 redundant experts", first.GetProperty("hint").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("check")]
    [InlineData("check", "--format", "yaml", "x.moe")]
    [InlineData("frobnicate")]
    [InlineData("compile", "x.moe")]
    public void Usage_errors_exit_2_without_a_stack_trace(params string[] args)
    {
        var (code, _, error) = CliRunner.Run(args);
        Assert.Equal(2, code);
        Assert.Contains("moeplan: error:", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_is_an_io_error()
    {
        var (code, _, error) = CliRunner.Run("check", "no/such/plan.moe");
        Assert.Equal(2, code);
        Assert.Contains("no such file", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_of_an_invalid_plan_writes_nothing()
    {
        var folder = CliRunner.TempFolder();
        var (code, _, _) = CliRunner.Run("compile", Invalid("MP3020-memory-does-not-fit"), "-o", folder);
        Assert.Equal(1, code);
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public void Compile_refuses_a_non_empty_folder_unless_forced()
    {
        var folder = CliRunner.TempFolder();
        var plan = RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe");
        try
        {
            Assert.Equal(0, CliRunner.Run("compile", plan, "-o", folder).ExitCode);
            var refused = CliRunner.Run("compile", plan, "-o", folder);
            Assert.Equal(2, refused.ExitCode);
            Assert.Contains("--force", refused.Error, StringComparison.Ordinal);

            // A folder moeplan wrote (and nothing else) is replaced with --force.
            var forced = CliRunner.Run("compile", plan, "-o", folder, "--force");
            Assert.Equal(0, forced.ExitCode);
            // The bundle of a vLLM plan on Ascend: root files, expert maps for vllm-ascend, the vllm, kubernetes and nginx folders, and
            // moeplan proxy, its front door.
            Assert.Equal([".moeplan-output", "README.md", "cost.json", "plan.json", "report.md"], Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            Assert.Equal(["kubernetes", "moeplan-proxy", "nginx", "placement", "vllm"], Directory.GetDirectories(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            Assert.Empty(Directory.GetDirectories(Path.GetDirectoryName(folder)!, "." + Path.GetFileName(folder) + ".moeplan-*"));
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    [Theory]
    [InlineData("keep.txt")]
    [InlineData("notes/thesis.txt")]
    [InlineData("vllm/my-own-script.sh")]
    [InlineData("plan.moe")]
    public void Force_never_deletes_a_file_moeplan_did_not_write(string foreign)
    {
        // The reproducer: `cd d && moeplan compile plan.moe -o . --force` deleted the plan and d/notes/thesis.txt.
        var folder = CliRunner.TempFolder();
        var plan = RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe");
        try
        {
            if (foreign != "plan.moe")
            {
                // A folder moeplan wrote, then a file of the user's put into it.
                Assert.Equal(0, CliRunner.Run("compile", plan, "-o", folder).ExitCode);
            }

            var path = Path.Combine(folder, foreign);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            // The plan itself inside the output folder (it imports nothing, so it compiles from there).
            var mine = foreign == "plan.moe" ? File.ReadAllText(plan) : "mine";
            File.WriteAllText(path, mine);
            var before = Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();

            var refused = CliRunner.Run("compile", foreign == "plan.moe" ? path : plan, "-o", folder, "--force");
            Assert.Equal(2, refused.ExitCode);
            Assert.Contains("did not write", refused.Error, StringComparison.Ordinal);
            // The refusal names the foreign entry (a foreign folder by its own name).
            Assert.Contains(foreign.Split('/')[0], refused.Error, StringComparison.Ordinal);
            Assert.Equal(mine, File.ReadAllText(path));
            Assert.Equal(before, Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    [Fact]
    public void Force_into_folders_holding_random_foreign_entries_changes_nothing_and_replaces_its_own_when_alone()
    {
        // A property over 20 seeded folders: a bundle moeplan wrote, then 1-3 foreign entries (files, empty folders,
        // symbolic links to a file outside) at random depths, some named like moeplan's own files. `--force` must refuse
        // (exit 2) and leave every entry byte for byte; with the foreign entries removed again, it must succeed.
        var plan = RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe");
        var random = new Random(22);
        for (var seed = 0; seed < 20; seed++)
        {
            var root = CliRunner.TempFolder();
            var folder = Path.Combine(root, "out");
            var outside = Path.Combine(root, "outside.txt");
            try
            {
                Directory.CreateDirectory(root);
                File.WriteAllText(outside, "not moeplan's");
                Assert.Equal(0, CliRunner.Run("compile", plan, "-o", folder).ExitCode);
                var ownFiles = Directory.GetFiles(folder, "*", SearchOption.AllDirectories);
                var folders = Directory.GetDirectories(folder, "*", SearchOption.AllDirectories).Prepend(folder).Order(StringComparer.Ordinal).ToArray();
                var foreign = new List<string>();
                for (var n = random.Next(1, 4); n > 0; n--)
                {
                    var parent = folders[random.Next(folders.Length)];
                    // Half the names echo one of moeplan's (with a suffix), so the check cannot go by the name's look.
                    var name = random.Next(2) == 0 ? Path.GetFileName(ownFiles[random.Next(ownFiles.Length)]) + ".orig" : $"user-{seed}-{n}";
                    var path = Path.Combine(parent, name);
                    switch (random.Next(3))
                    {
                        case 0:
                            File.WriteAllText(path, $"foreign {seed} {n}");
                            break;
                        case 1:
                            Directory.CreateDirectory(path);
                            break;
                        default:
                            File.CreateSymbolicLink(path, outside);
                            break;
                    }

                    foreign.Add(path);
                }

                var before = Snapshot(folder);
                var refused = CliRunner.Run("compile", plan, "-o", folder, "--force");
                Assert.True(refused.ExitCode == 2, $"seed {seed}: exit {refused.ExitCode} with foreign {string.Join(", ", foreign)}: {refused.Error}");
                Assert.Equal(before, Snapshot(folder));
                Assert.Equal("not moeplan's", File.ReadAllText(outside));

                foreach (var path in foreign.AsEnumerable().Reverse())
                {
                    if (Directory.Exists(path) && !File.Exists(path))
                    {
                        Directory.Delete(path);
                    }
                    else
                    {
                        File.Delete(path);
                    }
                }

                Assert.Equal(0, CliRunner.Run("compile", plan, "-o", folder, "--force").ExitCode);
                Assert.Equal("not moeplan's", File.ReadAllText(outside));
            }
            finally
            {
                Directory.Delete(root, true);
            }
        }

        static string[] Snapshot(string folder) =>
            [.. Directory.GetFileSystemEntries(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
                .Select(p => new FileInfo(p) is { LinkTarget: { } target } ? $"{p} -> {target}"
                    : File.Exists(p) ? $"{p} {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(p)))}"
                    : $"{p}/")];
    }

    [Theory]
    [InlineData("models")]
    [InlineData("hardware")]
    public void Catalog_listings_come_as_tables_and_as_json(string verb)
    {
        var text = CliRunner.Run(verb);
        Assert.Equal(0, text.ExitCode);
        Assert.Contains(verb == "models" ? "deepseek-v3" : "ascend-910c", text.Out, StringComparison.Ordinal);

        var json = CliRunner.Run(verb, "--format", "json");
        Assert.Equal(0, json.ExitCode);
        using var doc = JsonDocument.Parse(json.Out);
        Assert.True(doc.RootElement.GetProperty(verb).GetArrayLength() >= 6);
    }

    [Fact]
    public void Models_json_reports_the_derived_deepseek_total()
    {
        using var doc = JsonDocument.Parse(CliRunner.Run("models", "--format", "json").Out);
        var v3 = doc.RootElement.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == "deepseek-v3");

        // Published: 671B main model (DeepSeek-V3 paper); the derived count must be within 1%.
        Assert.InRange(v3.GetProperty("main_parameters").GetInt64() / 1e9, 671 * 0.99, 671 * 1.01);
    }

    [Fact]
    public void Models_json_and_plan_json_describe_a_model_with_the_same_layout()
    {
        using var models = JsonDocument.Parse(CliRunner.Run("models", "--format", "json").Out);
        var listed = models.RootElement.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == "qwen1.5-moe-a2.7b");
        var folder = Path.Combine(Path.GetTempPath(), "moeplan-model-layout-" + Guid.NewGuid().ToString("N"));
        try
        {
            Assert.Equal(0, CliRunner.Run("compile", RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe"), "-o", folder).ExitCode);
            using var plan = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "plan.json")));
            var planned = plan.RootElement.GetProperty("model");
            Assert.Equal(listed.EnumerateObject().Select(p => p.Name), planned.EnumerateObject().Select(p => p.Name));
            Assert.Equal(listed.GetProperty("total_parameters").GetInt64(), planned.GetProperty("total_parameters").GetInt64());
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    [Theory]
    [InlineData("check")]
    [InlineData("compile")]
    [InlineData("place")]
    [InlineData("models")]
    [InlineData("hardware")]
    [InlineData("fmt")]
    [InlineData("cost")]
    [InlineData("kernels")]
    [InlineData("run")]
    [InlineData("search")]
    [InlineData("init")]
    [InlineData("proxy")]
    [InlineData("engine")]
    [InlineData("bench")]
    [InlineData("calibrate")]
    public void Every_verb_has_help_with_examples(string verb)
    {
        var (code, output, _) = CliRunner.Run(verb, "--help");
        Assert.Equal(0, code);
        Assert.Contains("Examples:", output, StringComparison.Ordinal);
        Assert.Contains($"moeplan {verb}", output, StringComparison.Ordinal);
    }
}

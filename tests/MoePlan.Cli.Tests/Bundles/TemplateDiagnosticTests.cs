using MoePlan.Cli.Files;
using MoePlan.Core.Compilation;
using MoePlan.Core.Emit;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests.Bundles;

/// <summary>Template problems are diagnostics at the template's file and line; the bundle is then not written.</summary>
public sealed class TemplateDiagnosticTests
{
    private const string Plan = "plans/qwen3-235b-h200.moe";

    private static string CopyTemplates()
    {
        var source = RepositoryPaths.PathOf("templates");
        var target = CliRunner.TempFolder();
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy);
        }

        return target;
    }

    private static (int Code, string Out, string Folder) CompileWith(string templates)
    {
        var output = CliRunner.TempFolder();
        var (code, stdout, _) = CliRunner.Run("compile", RepositoryPaths.PathOf(Plan.Split('/')), "-o", output, "--templates", templates);
        return (code, stdout, output);
    }

    [Fact]
    public void A_syntax_error_is_MP5202_at_the_template_line()
    {
        var templates = CopyTemplates();
        try
        {
            var file = Path.Combine(templates, "nginx", "upstreams.conf.sbn");
            var lines = File.ReadAllLines(file).ToList();
            lines.Insert(3, "{{ for pool in }}");
            File.WriteAllLines(file, lines);
            var (code, output, folder) = CompileWith(templates);
            Assert.Equal(1, code);
            Assert.Contains($"{file}(4,", output, StringComparison.Ordinal);
            Assert.Contains("error MP5202: template syntax error", output, StringComparison.Ordinal);
            Assert.False(Directory.Exists(folder));
        }
        finally
        {
            BundleFiles.Delete(templates);
        }
    }

    [Fact]
    public void A_render_error_is_MP5203_at_the_template_line()
    {
        var templates = CopyTemplates();
        try
        {
            var file = Path.Combine(templates, "bundle", "report.md.sbn");
            var lines = File.ReadAllLines(file).ToList();
            lines.Insert(4, "{{ bundle.no_such_field.value }}");
            File.WriteAllLines(file, lines);
            var (code, output, folder) = CompileWith(templates);
            Assert.Equal(1, code);
            Assert.Contains($"{file}(5,", output, StringComparison.Ordinal);
            Assert.Contains("error MP5203: template error", output, StringComparison.Ordinal);
            Assert.False(Directory.Exists(folder));
        }
        finally
        {
            BundleFiles.Delete(templates);
        }
    }

    [Theory]
    [InlineData("{{ include '../../../../../../../../etc/hostname' }}", "outside the templates folder")]
    [InlineData("{{ include '/etc/hostname' }}", "outside the templates folder")]
    [InlineData("{{ date.now }}", "date")]
    public void Templates_cannot_read_outside_their_folder_or_the_clock(string line, string message)
    {
        // A user's --templates folder may include other templates, never files elsewhere; and no clock, so bundles
        // stay byte-identical between runs.
        var templates = CopyTemplates();
        try
        {
            var file = Path.Combine(templates, "bundle", "report.md.sbn");
            var lines = File.ReadAllLines(file).ToList();
            lines.Insert(4, line);
            File.WriteAllLines(file, lines);
            var (code, output, folder) = CompileWith(templates);
            Assert.Equal(1, code);
            Assert.Contains($"{file}(5,", output, StringComparison.Ordinal);
            Assert.Contains("error MP520", output, StringComparison.Ordinal);
            Assert.Contains(message, output, StringComparison.Ordinal);
            Assert.False(Directory.Exists(folder));
        }
        finally
        {
            BundleFiles.Delete(templates);
        }
    }

    [Fact]
    public void A_template_linking_outside_its_folder_is_refused()
    {
        var templates = CopyTemplates();
        try
        {
            var file = Path.Combine(templates, "bundle", "report.md.sbn");
            File.Delete(file);
            File.CreateSymbolicLink(file, "/etc/hostname");
            var (code, output, folder) = CompileWith(templates);
            Assert.Equal(1, code);
            Assert.Contains("links outside the templates folder", output, StringComparison.Ordinal);
            Assert.False(Directory.Exists(folder));
        }
        finally
        {
            BundleFiles.Delete(templates);
        }
    }

    [Fact]
    public void A_missing_template_is_MP5201()
    {
        var templates = CopyTemplates();
        try
        {
            File.Delete(Path.Combine(templates, "kubernetes", "service.yaml.sbn"));
            var (code, output, folder) = CompileWith(templates);
            Assert.Equal(1, code);
            Assert.Contains("error MP5201: cannot load template 'kubernetes/service.yaml.sbn'", output, StringComparison.Ordinal);
            Assert.False(Directory.Exists(folder));
        }
        finally
        {
            BundleFiles.Delete(templates);
        }
    }

    [Fact]
    public void An_unreadable_load_file_is_a_cannot_read_diagnostic_at_the_plan()
    {
        const string text = """
            deployment "x" {
              engine sglang
              model deepseek-v3
              hardware h100
              cluster { nodes 13 devices_per_node 8 }
              prefill { instances 1 parallel { dp 32 ep 32 } max_batch_tokens 16384 per device }
              decode { instances 1 parallel { dp 72 ep 72 } max_batch 256 per device context 2048 }
              placement { redundant_experts 32 loads "missing-loads.json" }
              workload { arrivals poisson 20/s input fixed 1900 output fixed 100 }
            }
            """;
        var resolver = new MemorySourceResolver(new Dictionary<string, string> { ["x.moe"] = text });
        var compiled = PlanCompiler.CompileText("x.moe", text, resolver, throughVerification: true);
        Assert.NotNull(compiled.Plan);
        var bundle = BundleEmitter.Emit(compiled.Plan!, "x.moe", null, new FolderTemplateLoader(RepositoryPaths.PathOf("templates")), resolver);
        Assert.True(bundle.HasErrors);
        var diagnostic = Assert.Single(bundle.Diagnostics.Where(d => d.IsError).DistinctBy(d => d.Code));
        Assert.Equal("MP2011", diagnostic.Code);
        Assert.StartsWith("x.moe(8,", diagnostic.ToString(), StringComparison.Ordinal);
        Assert.Empty(bundle.Files);
    }
}

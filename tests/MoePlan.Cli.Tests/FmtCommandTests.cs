using System.Text;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

public sealed class FmtCommandTests : IDisposable
{
    private const string Messy = "deployment \"x\" {\n engine   vllm # why\n\n\n  cluster {nodes 2}\n}\n";
    private const string Canonical = "deployment \"x\" {\n  engine vllm # why\n\n  cluster { nodes 2 }\n}\n";

    private readonly string _folder = CliRunner.TempFolder();

    public FmtCommandTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Fmt_rewrites_a_file_in_place_and_leaves_no_temporary_file()
    {
        var path = Write("plan.moe", Messy);
        var (code, output, _) = CliRunner.Run("fmt", path);
        Assert.Equal(0, code);
        Assert.Contains("plan.moe: formatted", output, StringComparison.Ordinal);
        Assert.Equal(Canonical, File.ReadAllText(path));
        Assert.Equal(["plan.moe"], Directory.GetFiles(_folder).Select(Path.GetFileName));

        var again = CliRunner.Run("fmt", path);
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("plan.moe: ok", again.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_reports_files_that_would_change_and_writes_nothing()
    {
        var messy = Write("messy.moe", Messy);
        var canonical = Write("canonical.moe", Canonical);
        var (code, output, _) = CliRunner.Run("fmt", "--check", messy, canonical);
        Assert.Equal(1, code);
        Assert.Contains("messy.moe: would reformat", output, StringComparison.Ordinal);
        Assert.Contains("canonical.moe: ok", output, StringComparison.Ordinal);
        Assert.Equal(Messy, File.ReadAllText(messy));

        Assert.Equal(0, CliRunner.Run("fmt", "--check", canonical).ExitCode);
    }

    [Fact]
    public void A_file_that_does_not_parse_gives_diagnostics_exit_1_and_is_left_alone()
    {
        var broken = Write("broken.moe", "deployment \"x\" {\n  engine vllm\n");
        var fine = Write("fine.moe", Messy);
        var (code, output, _) = CliRunner.Run("fmt", broken, fine);
        Assert.Equal(1, code);
        Assert.Matches(@"broken\.moe\(3,1\): error MP1005: unexpected end of file", output);
        Assert.Equal("deployment \"x\" {\n  engine vllm\n", File.ReadAllText(broken));
        Assert.Equal(Canonical, File.ReadAllText(fine));
    }

    [Fact]
    public void A_missing_file_is_an_io_error()
    {
        var (code, _, error) = CliRunner.Run("fmt", Path.Combine(_folder, "none.moe"));
        Assert.Equal(2, code);
        Assert.Contains("no such file", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Fmt_without_files_is_a_usage_error()
    {
        Assert.Equal(2, CliRunner.Run("fmt").ExitCode);
    }

    [Fact]
    public void Crlf_and_a_byte_order_mark_are_kept()
    {
        var path = Path.Combine(_folder, "windows.moe");
        File.WriteAllBytes(path, [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes(Messy.Replace("\n", "\r\n", StringComparison.Ordinal))]);
        Assert.Equal(0, CliRunner.Run("fmt", path).ExitCode);
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(Encoding.UTF8.GetPreamble(), bytes[..3]);
        Assert.Equal(Canonical.Replace("\n", "\r\n", StringComparison.Ordinal), Encoding.UTF8.GetString(bytes[3..]));
    }

    [Fact]
    public void Text_that_is_not_utf8_is_an_io_error()
    {
        var path = Path.Combine(_folder, "latin1.moe");
        File.WriteAllBytes(path, [0x23, 0x20, 0xE9, 0x0A]);
        var (code, _, error) = CliRunner.Run("fmt", path);
        Assert.Equal(2, code);
        Assert.Contains("not UTF-8", error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_sample_plans_differ_from_canonical_form_only_in_alignment()
    {
        // fmt --check on copies: the samples align values with extra spaces, which fmt collapses.
        foreach (var plan in RepositoryPaths.SamplePlans())
        {
            var copy = Write(Path.GetFileName(plan), File.ReadAllText(RepositoryPaths.PathOf(plan.Split('/'))));
            Assert.Equal(0, CliRunner.Run("fmt", copy).ExitCode);
            Assert.Equal(0, CliRunner.Run("fmt", "--check", copy).ExitCode);
        }
    }
}

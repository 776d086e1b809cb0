using MoePlan.Cli.Tests.Bundles;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

/// <summary>Writing fails cleanly: exit 2 with a message, and no partial output folder.</summary>
public sealed class FailureBehaviourTests
{
    private static readonly string Plan = RepositoryPaths.PathOf("plans", "deepseek-v3-h800.moe");

    [Theory]
    [InlineData("place", "--format", "json")]
    [InlineData("place")]
    [InlineData("cost", "--format", "json")]
    [InlineData("compile", "-o")]
    [InlineData("run", "--format", "json", "--max-requests", "10")]
    public void Loads_that_overflow_are_an_input_error_at_the_file_not_a_crash(string verb, params string[] rest)
    {
        // A load file of 1e308 values passed check, then every JSON writer aborted on +Infinity (the sums overflow).
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        try
        {
            var loads = Path.Combine(folder, "big.json");
            File.WriteAllText(loads, "[" + string.Join(",", Enumerable.Repeat("[" + string.Join(",", Enumerable.Repeat("1e308", 256)) + "]", 58)) + "]");
            var plan = Path.Combine(folder, "plan.moe");
            var text = File.ReadAllText(RepositoryPaths.PathOf("plans", "deepseek-v3-h800.moe"));
            var start = text.IndexOf("loads \"", StringComparison.Ordinal);
            var end = text.IndexOf('"', start + 7);
            File.WriteAllText(plan, text[..start] + "loads \"big.json\"" + text[(end + 1)..]);
            Directory.CreateDirectory(Path.Combine(folder, "common"));
            File.Copy(RepositoryPaths.PathOf("plans", "common", "slo.moe"), Path.Combine(folder, "common", "slo.moe"));
            var args = rest.ToList();
            if (args.Contains("-o"))
            {
                args.Add(Path.Combine(folder, "out"));
            }

            var (code, output, error) = CliRunner.Run([verb, plan, .. args]);
            Assert.Equal(1, code);
            Assert.Contains("MP5119", output + error, StringComparison.Ordinal);
            Assert.Contains("big.json", output + error, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", output + error, StringComparison.Ordinal);
            Assert.False(Directory.Exists(Path.Combine(folder, "out")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("check", "{plan}", 1)]
    [InlineData("check", "/dev/zero", 1)]
    [InlineData("fmt", "/dev/zero", 2)]
    [InlineData("place", "plans/deepseek-v3-h800.moe --load /dev/urandom", 1)]
    [InlineData("run", "plans/qwen1.5-moe-tiny.moe --trace /dev/zero --trace-format mooncake", 2)]
    public void Special_files_are_refused_with_a_diagnostic_not_read(string verb, string arguments, int exit)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        // `import "/dev/zero"` read until the process ran out of memory (the size check saw length 0).
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        try
        {
            var plan = Path.Combine(folder, "plan.moe");
            File.WriteAllText(plan, "import \"/dev/zero\"\n");
            var args = arguments.Replace("{plan}", plan, StringComparison.Ordinal).Split(' ')
                .Select(a => a.StartsWith("plans/", StringComparison.Ordinal) ? RepositoryPaths.PathOf(a.Split('/')) : a);
            var (code, output, error) = CliRunner.Run([verb, .. args]);
            Assert.Equal(exit, code);
            Assert.Contains("character device, not a regular file", output + error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void An_output_folder_under_a_file_is_an_io_error_with_nothing_written()
    {
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        var blocker = Path.Combine(folder, "a-file");
        File.WriteAllText(blocker, "not a folder");
        try
        {
            var (code, _, error) = CliRunner.Run("compile", Plan, "-o", Path.Combine(blocker, "bundle"));
            Assert.Equal(2, code);
            Assert.Contains("moeplan: error: cannot write", error, StringComparison.Ordinal);
            Assert.Equal([blocker], Directory.GetFileSystemEntries(folder));
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    /// <summary>
    /// A full disk: the real CLI compiles into a 64 KiB tmpfs mounted in a private mount namespace (unshare -m, as
    /// root). The bundle does not fit: exit 2, the error names the full disk, and the tmpfs is left empty (the
    /// staging folder is removed). Skipped, with the reason, where namespaces or mounts are not allowed.
    /// </summary>
    [TmpfsFact]
    public void A_full_disk_is_an_io_error_that_leaves_nothing_behind()
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "moeplan.dll");
        var script = $"mount -t tmpfs -o size=64k tmpfs /mnt && dotnet '{cli}' compile '{Plan}' -o /mnt/bundle 2>&1; echo \"exit=$?\"; echo listing:; ls -A /mnt";
        NginxFactAttribute.Run("unshare", $"-m sh -c \"{script}\"", out var output);
        Assert.Contains("exit=2", output, StringComparison.Ordinal);
        Assert.Contains("disk was full", output, StringComparison.Ordinal);
        var listing = output[(output.IndexOf("listing:", StringComparison.Ordinal) + "listing:".Length)..].Trim();
        Assert.Equal("", listing);
    }
}

/// <summary>A fact that needs a private mount namespace with a tmpfs; otherwise reported skipped with the reason.</summary>
public sealed class TmpfsFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> MissingReason = new(() =>
        NginxFactAttribute.Run("unshare", "-m sh -c \"mount -t tmpfs -o size=64k tmpfs /mnt\"", out var why) is null
            ? null
            : $"cannot mount a tmpfs in a private mount namespace (unshare -m, as root): {why.Trim()}");

    public TmpfsFactAttribute()
    {
        if (MissingReason.Value is { } reason)
        {
            Skip = reason;
        }
    }
}

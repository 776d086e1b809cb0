using MoePlan.Cli.Tests.Bundles;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

/// <summary>Writing fails cleanly: exit 2 with a message, and no partial output folder.</summary>
public sealed class FailureBehaviourTests
{
    private static readonly string Plan = RepositoryPaths.PathOf("plans", "deepseek-v3-h800.moe");

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

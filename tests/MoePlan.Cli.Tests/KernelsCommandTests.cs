using System.Text.Json;
using Xunit;

namespace MoePlan.Cli.Tests;

public sealed class KernelsCommandTests
{
    // A small shape keeps the test quick: 16 heads, 300 KV rows (3 blocks of 128 with a partial last one), 2 sequences.
    private static readonly string[] Small = ["kernels", "amla", "--heads", "16", "--kv-len", "300", "--batch", "2", "--seed", "3"];

    [Fact]
    public void Json_reports_both_variants_with_error_utilisation_and_traffic()
    {
        // 24 sequences fill the 24 cores, so no split-K: every item sweeps its 3 KV blocks and AMLA's
        // in-place rescale saves Standard's O round trips (with one block per split there is nothing to save).
        var (code, output, error) = CliRunner.Run("kernels", "amla", "--heads", "16", "--kv-len", "300", "--batch", "24", "--seed", "3", "--format", "json");
        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal(16, root.GetProperty("shape").GetProperty("heads").GetInt32());
        foreach (var name in new[] { "amla", "standard" })
        {
            var r = root.GetProperty(name);
            // The error is dominated by the BF16 rounding of P: relative L2 error about u_bf / sqrt(3)
            // (u_bf = 2^-8) under independent roundings; u_bf itself is a bound with ample margin.
            Assert.InRange(r.GetProperty("rel_error_vs_fp64").GetDouble(), 0, 1.0 / 256);
            Assert.InRange(r.GetProperty("cube_utilization").GetDouble(), double.Epsilon, 1.0);
            // At least Q (16 x 576 BF16) and the KV cache (300 x 576 BF16) of every sequence are read once.
            Assert.True(r.GetProperty("gm_bytes").GetInt64() >= 24L * (16 + 300) * 576 * 2);
            Assert.Equal(1, r.GetProperty("kv_splits").GetInt32());
        }

        // Standard moves the O tile GM -> UB -> GM every block after the first; AMLA never reads it back.
        Assert.True(root.GetProperty("amla").GetProperty("gm_bytes").GetInt64() < root.GetProperty("standard").GetProperty("gm_bytes").GetInt64());
    }

    [Fact]
    public void Text_is_a_table_of_the_two_variants()
    {
        var (code, output, error) = CliRunner.Run(Small);
        Assert.True(code == 0, error);
        Assert.Contains("AMLA", output, StringComparison.Ordinal);
        Assert.Contains("Standard", output, StringComparison.Ordinal);
        Assert.Contains("Cube util", output, StringComparison.Ordinal);
        Assert.Contains("16 heads, KV 300, batch 2", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--heads", "0")]
    [InlineData("--kv-len", "-5")]
    [InlineData("--batch", "0")]
    [InlineData("--kv-len", "10000000")]
    public void Out_of_range_values_are_usage_errors(string option, string value)
    {
        var (code, _, error) = CliRunner.Run("kernels", "amla", option, value);
        Assert.Equal(2, code);
        Assert.Contains($"moeplan: error: {option} must be between 1 and", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Theory]
    // Each within the advertised ranges, together too large: 29 x 131,072 x 576 = 2,189,426,688 KV values overflowed an
    // int (OverflowException); 1,024 x 131,072 x 576 = 7.7e10 ran to an IndexOutOfRange after 4.6 GB.
    [InlineData("1", "29", "131072", "over one array")]
    [InlineData("1024", "1024", "131072", "over one array")]
    // 1,024 x 1,024 x 576 + 1,024 x 2,048 x 576 = 1,811,939,328 > 2^30 = 1,073,741,824 input values.
    [InlineData("1024", "1024", "2048", "over the emulator's")]
    public void Sizes_within_the_ranges_whose_product_is_too_large_are_refused_before_allocating(string heads, string batch, string kvLen, string reason)
    {
        var (code, _, error) = CliRunner.Run("kernels", "amla", "--heads", heads, "--batch", batch, "--kv-len", kvLen);
        Assert.Equal(2, code);
        Assert.Contains(reason, error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("kernels")]
    [InlineData("kernels", "amla", "--heads", "many")]
    [InlineData("kernels", "flash")]
    public void Missing_or_malformed_arguments_exit_2(params string[] args)
    {
        var (code, _, error) = CliRunner.Run(args);
        Assert.Equal(2, code);
        Assert.Contains("moeplan: error:", error, StringComparison.Ordinal);
    }
}

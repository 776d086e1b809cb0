using System.Text.RegularExpressions;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests.Bundles;

/// <summary>
/// Bundles of aggregated plans (<c>serve { }</c>): one pool, no KV transfer or disaggregation flags, chunked-prefill flags,
/// and a front door that balances instead of pairing. The vLLM sample plan, and its SGLang variant.
/// </summary>
public sealed partial class AggregatedBundleTests
{
    private const string Sample = "plans/qwen3-235b-h200-aggregated.moe";

    private static readonly string Interfaces = TestData.PathOf("engine-interfaces");

    private static HashSet<string> FlagList(string name) =>
        File.ReadLines(Path.Combine(Interfaces, name)).Where(l => l.StartsWith("-", StringComparison.Ordinal)).Select(l => l.Trim()).ToHashSet(StringComparer.Ordinal);

    /// <summary>The sample plan served by SGLang, written beside a temporary bundle folder.</summary>
    private static string SglangVariant(string folder)
    {
        var text = File.ReadAllText(RepositoryPaths.PathOf(Sample.Split('/')))
            .Replace("engine vllm", "engine sglang", StringComparison.Ordinal)
            .Replace("\"qwen3-235b-h200-aggregated\"", "\"qwen3-235b-h200-aggregated-sglang\"", StringComparison.Ordinal);
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "sglang.moe");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void The_vllm_bundle_is_one_chunked_prefill_pool_behind_stock_nginx()
    {
        var (folder, files) = BundleFiles.Compile(Sample);
        try
        {
            Assert.Equal(["kubernetes/serve-leaderworkerset.yaml", "kubernetes/serve-service.yaml"],
                files.Keys.Where(k => k.EndsWith("leaderworkerset.yaml", StringComparison.Ordinal) || k.EndsWith("service.yaml", StringComparison.Ordinal)));
            Assert.DoesNotContain(files.Keys, k => k.StartsWith("moeplan-proxy/", StringComparison.Ordinal));
            var script = files["vllm/node-00.sh"];
            Assert.DoesNotContain("--kv-transfer-config", script, StringComparison.Ordinal);
            // 1024 tokens x 8 GPUs over dp 1: the step budget of the one DP rank; 16 sequences x 8 GPUs.
            Assert.Contains("--enable-chunked-prefill \\\n  --max-num-batched-tokens 8192 \\\n  --max-num-seqs 128", script, StringComparison.Ordinal);
            var vllm = FlagList("vllm-flags.txt");
            foreach (Match flag in Flag().Matches(script))
            {
                Assert.Contains(flag.Value, vllm);
            }

            Assert.Contains("upstream serve_endpoints {", files["nginx/upstreams.conf"], StringComparison.Ordinal);
            Assert.Contains("proxy_pass http://serve_endpoints;", files["nginx/nginx.conf"], StringComparison.Ordinal);
            Assert.DoesNotContain("decode_endpoints", files["nginx/nginx.conf"], StringComparison.Ordinal);
            Assert.Contains("sends each request to one serve instance: stock nginx", files["README.md"], StringComparison.Ordinal);
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    [Fact]
    public void The_sglang_variant_has_no_disaggregation_and_a_router_without_pd()
    {
        var work = CliRunner.TempFolder();
        try
        {
            var plan = SglangVariant(work);
            var output = Path.Combine(work, "out");
            var (code, stdout, stderr) = CliRunner.Run(["compile", plan, "-o", output]);
            Assert.True(code == 0, stdout + stderr);
            var files = BundleFiles.Read(output);

            var script = files["sglang/node-00.sh"];
            Assert.DoesNotContain("--disaggregation", script, StringComparison.Ordinal);
            Assert.Contains("--deepep-mode auto", script, StringComparison.Ordinal);
            // SGLang's sizes are per instance: 1024 x 8 tokens, 16 x 8 sequences.
            Assert.Contains("--chunked-prefill-size 8192", script, StringComparison.Ordinal);
            Assert.Contains("--max-running-requests 128", script, StringComparison.Ordinal);
            var router = files["sglang/router.sh"];
            Assert.DoesNotContain("--pd-disaggregation", router, StringComparison.Ordinal);
            Assert.Contains("--worker-urls \\\n    http://qwen3-235b-h200-aggregated-sglang-node-00:30000", router, StringComparison.Ordinal);
            Assert.DoesNotContain("--pd-disaggregation", files["kubernetes/router-deployment.yaml"], StringComparison.Ordinal);

            var (sglang, routerFlags) = (FlagList("sglang-flags.txt"), FlagList("sglang-router-flags.txt"));
            var checkedFlags = 0;
            foreach (var (path, list) in new[] { ("sglang/node-00.sh", sglang), ("sglang/router.sh", routerFlags), ("kubernetes/serve-leaderworkerset.yaml", sglang) })
            {
                foreach (Match flag in Flag().Matches(files[path]))
                {
                    Assert.True(list.Contains(flag.Value), $"{path}: {flag.Value} is not a flag of the engine");
                    checkedFlags++;
                }
            }

            Assert.True(checkedFlags > 20, $"only {checkedFlags} flags found");
        }
        finally
        {
            BundleFiles.Delete(work);
        }
    }

    [Theory]
    [InlineData("omni-infer")]
    [InlineData("moeplan-proxy")]
    public void A_target_that_pairs_prefill_and_decode_is_MP5204_and_writes_nothing(string target)
    {
        var output = CliRunner.TempFolder();
        try
        {
            var (code, stdout, stderr) = CliRunner.Run(["compile", RepositoryPaths.PathOf(Sample.Split('/')), "-o", output, "--force", "--target", target]);
            Assert.Equal(1, code);
            Assert.Contains("error MP5204: --target " + target, stdout + stderr, StringComparison.Ordinal);
            Assert.False(Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any(), "a bundle was written");
        }
        finally
        {
            BundleFiles.Delete(output);
        }
    }

    [GeneratedRegex(@"(?<=\s)--[a-z0-9][a-z0-9-]*")]
    private static partial Regex Flag();
}

using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Proxy.Routing;
using Xunit;

namespace MoePlan.Cli.Tests.Bundles;

/// <summary><c>compile --target moeplan-proxy</c>: the upstreams file the proxy reads, its launch script, and its Kubernetes objects.</summary>
public sealed class MoeplanProxyBundleTests
{
    [Fact]
    public void Upstreams_list_every_instance_with_sglang_bootstrap_ports()
    {
        // deepseek-v3-sglang-h100: SGLang, so prefill lines carry the bootstrap port sglang_router's --prefill takes.
        var (folder, files) = BundleFiles.Compile("plans/deepseek-v3-sglang-h100.moe", "--target", "moeplan-proxy", "--target", "sglang");
        try
        {
            var diagnostics = new List<Diagnostic>();
            var upstreams = UpstreamList.Parse("upstreams.txt", files["moeplan-proxy/upstreams.txt"], diagnostics);
            Assert.Empty(diagnostics);
            var router = files["sglang/router.sh"];
            // The same instances as the SGLang router the bundle also writes, in the same order, with the same ports.
            foreach (var u in upstreams!.Prefill)
            {
                Assert.Contains($"--prefill {u.Url.ToString().TrimEnd('/')} {u.BootstrapPort}", router, StringComparison.Ordinal);
            }

            foreach (var u in upstreams.Decode)
            {
                Assert.Null(u.BootstrapPort);
                Assert.Contains($"--decode {u.Url.ToString().TrimEnd('/')}", router, StringComparison.Ordinal);
            }

            Assert.True(upstreams.Disaggregated);
            var kubernetes = UpstreamList.Parse("k.txt", files["moeplan-proxy/upstreams.kubernetes.txt"], diagnostics);
            Assert.Empty(diagnostics);
            Assert.Equal(upstreams.Prefill.Count, kubernetes!.Prefill.Count);
            Assert.Equal(upstreams.Decode.Count, kubernetes.Decode.Count);

            // The plan travels with the proxy, and the launch script is valid shell.
            Assert.Equal(File.ReadAllText(MoePlan.Tests.Support.RepositoryPaths.PathOf("plans", "deepseek-v3-sglang-h100.moe")).Replace("\r\n", "\n", StringComparison.Ordinal), files["moeplan-proxy/plan.moe"]);
            var error = NginxFactAttribute.Run("bash", $"-n \"{Path.Combine(folder, "moeplan-proxy", "launch.sh")}\"", out var output);
            Assert.True(error is null, $"bash -n: {error} {output}");
            Assert.Contains("--upstreams \"$here/upstreams.txt\"", files["moeplan-proxy/launch.sh"], StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Kubernetes_objects_are_a_deployment_a_service_and_the_configmap_it_mounts()
    {
        var (folder, files) = BundleFiles.Compile("plans/qwen1.5-moe-tiny.moe", "--target", "moeplan-proxy");
        try
        {
            var deployment = BundleFiles.YamlDocuments(files["moeplan-proxy/deployment.yaml"]).Single()!;
            var service = BundleFiles.YamlDocuments(files["moeplan-proxy/service.yaml"]).Single()!;
            var configMap = BundleFiles.YamlDocuments(files["moeplan-proxy/configmap.yaml"]).Single()!;
            Assert.Equal("Deployment", deployment["kind"]!.ToString());
            Assert.Equal("Service", service["kind"]!.ToString());
            Assert.Equal(configMap["metadata"]!["name"]!.ToString(), deployment["spec"]!["template"]!["spec"]!["volumes"]![0]!["configMap"]!["name"]!.ToString());
            // The service selects the deployment's pods.
            var labels = deployment["spec"]!["template"]!["metadata"]!["labels"]!.AsObject();
            foreach (var (key, value) in service["spec"]!["selector"]!.AsObject())
            {
                Assert.Equal(value!.ToString(), labels[key]!.ToString());
            }

            // The mounted upstreams read as an upstreams file, with the tiny plan's one prefill and one decode instance.
            var diagnostics = new List<Diagnostic>();
            var mounted = UpstreamList.Parse("mounted", configMap["data"]!["upstreams.kubernetes.txt"]!.ToString(), diagnostics);
            Assert.Empty(diagnostics);
            Assert.Equal((1, 1), (mounted!.Prefill.Count, mounted.Decode.Count));
            Assert.Equal(PoolRole.Decode, mounted.Decode[0].Pool);
            Assert.Contains("deployment \"qwen1.5-moe-tiny\"", configMap["data"]!["plan.moe"]!.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

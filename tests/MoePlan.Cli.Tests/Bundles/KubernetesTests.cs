using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests.Bundles;

/// <summary>The Kubernetes objects as an operator would apply them: what every pod reads is mounted, RDMA where the
/// deployment crosses nodes, pinned images, probes, and ConfigMaps that <c>kubectl apply</c> can annotate.</summary>
public sealed partial class KubernetesTests
{
    public static TheoryData<string> Plans() => BundleTests.Plans();

    [Theory]
    [MemberData(nameof(Plans))]
    public void Every_path_a_container_reads_is_under_a_mount_of_a_volume_of_its_pod(string plan)
    {
        var (folder, files) = BundleFiles.Compile(plan);
        try
        {
            var checkedPaths = 0;
            foreach (var (path, pod) in Pods(files))
            {
                var volumes = pod["volumes"]?.AsArray().Select(v => v!["name"]!.GetValue<string>()).ToHashSet() ?? [];
                foreach (var container in pod["containers"]!.AsArray())
                {
                    var mounts = container!["volumeMounts"]?.AsArray().Select(m => (Path: m!["mountPath"]!.GetValue<string>(), Volume: m["name"]!.GetValue<string>())).ToList() ?? [];
                    Assert.All(mounts, m => Assert.Contains(m.Volume, volumes));
                    var env = container["env"]?.AsArray().Where(e => e!["value"] is not null)
                        .ToDictionary(e => e!["name"]!.GetValue<string>(), e => e!["value"]!.GetValue<string>()) ?? [];
                    var script = string.Join("\n", container["args"]?.AsArray().Select(a => a!.GetValue<string>()) ?? []);
                    foreach (var read in Reads(script, env))
                    {
                        Assert.True(mounts.Any(m => read.StartsWith(m.Path.TrimEnd('/') + "/", StringComparison.Ordinal)),
                            $"{plan}: {path}: {read} is read but under no volumeMount ({string.Join(", ", mounts.Select(m => m.Path))})");
                        checkedPaths++;
                    }
                }
            }

            // Two pools' leader and worker reads; an aggregated bundle's one pool reads at least the weights.
            Assert.True(checkedPaths >= (BundleFiles.IsAggregated(files) ? 1 : 4), $"only {checkedPaths} paths checked");
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void Engine_pods_request_rdma_iff_the_deployment_spans_nodes_and_have_pinned_images_probes_and_limits(string plan)
    {
        // How many nodes the deployment uses, from its per-node vLLM scripts (every plan can be written for vLLM).
        var (scriptsFolder, scripts) = BundleFiles.Compile(plan, "--target", "vllm");
        var nodes = scripts.Keys.Count(k => k.StartsWith("vllm/", StringComparison.Ordinal) && k.EndsWith(".sh", StringComparison.Ordinal));
        BundleFiles.Delete(scriptsFolder);
        var (folder, files) = BundleFiles.Compile(plan);
        try
        {
            var ascend = JsonDocument.Parse(files["plan.json"]).RootElement.GetProperty("hardware").ToString().Contains("Ascend", StringComparison.OrdinalIgnoreCase);
            var engines = 0;
            foreach (var (path, pod) in Pods(files))
            {
                foreach (var container in pod["containers"]!.AsArray())
                {
                    var image = container!["image"]!.GetValue<string>();
                    Assert.Matches(PinnedImage(), image);
                    Assert.DoesNotMatch(":latest$", image);
                    if (!path.EndsWith("leaderworkerset.yaml", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    engines++;
                    foreach (var probe in new[] { "startupProbe", "readinessProbe", "livenessProbe" })
                    {
                        Assert.True(container[probe] is not null, $"{plan}: {path}: the engine container has no {probe}");
                    }

                    var requests = container["resources"]!["requests"]!.AsObject();
                    Assert.True(requests.ContainsKey("cpu") && requests.ContainsKey("memory"), $"{plan}: {path}: no CPU/memory request");
                    var rdma = requests.Any(r => r.Key.StartsWith("rdma/", StringComparison.Ordinal));
                    var ipcLock = container["securityContext"]?["capabilities"]?["add"]?.AsArray().Any(c => c!.GetValue<string>() == "IPC_LOCK") ?? false;
                    Assert.Equal(nodes > 1, ipcLock);
                    // Ascend NPUs carry their own RoCE ports (part of the device); GPUs need the RDMA device plugin's resource.
                    Assert.Equal(nodes > 1 && !ascend, rdma);
                    var shm = pod["volumes"]!.AsArray().Single(v => v!["name"]!.GetValue<string>() == "shm")!;
                    Assert.NotNull(shm["emptyDir"]!["sizeLimit"]);
                }
            }

            Assert.True(engines >= (BundleFiles.IsAggregated(files) ? 1 : 2), $"{plan}: {engines} engine containers");
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    [Fact]
    public void The_router_is_ready_only_when_it_can_pair_and_the_proxy_pod_installs_the_moeplan_that_compiled_it()
    {
        // SGLang's router (sgl-model-gateway/src/server.rs at d7231480): /readiness is 200 only when a healthy prefill
        // and a healthy decode worker are registered in P/D mode, /liveness is 200 while the process serves; /health is
        // liveness under another name, so probing it would send traffic to a router that cannot pair yet.
        var (sglangFolder, sglang) = BundleFiles.Compile("plans/deepseek-v3-sglang-h100.moe", "--target", "kubernetes");
        try
        {
            var router = Pods(sglang).Single(p => p.Path == "kubernetes/router-deployment.yaml").Pod["containers"]![0]!;
            Assert.Equal("/readiness", router["readinessProbe"]!["httpGet"]!["path"]!.GetValue<string>());
            Assert.Equal("/liveness", router["livenessProbe"]!["httpGet"]!["path"]!.GetValue<string>());
        }
        finally
        {
            BundleFiles.Delete(sglangFolder);
        }

        // The moeplan-proxy pod installs the tool version this repository builds (Directory.Build.props), never "latest".
        var version = XDocument.Load(RepositoryPaths.PathOf("Directory.Build.props")).Descendants("Version").Single().Value;
        var (vllmFolder, vllm) = BundleFiles.Compile("plans/qwen3-235b-h200.moe", "--target", "kubernetes");
        try
        {
            var proxy = Pods(vllm).Single(p => p.Path == "moeplan-proxy/deployment.yaml").Pod["containers"]![0]!;
            var script = string.Join("\n", proxy["args"]!.AsArray().Select(a => a!.GetValue<string>()));
            Assert.Contains($"dotnet tool install --tool-path /opt/moeplan moeplan --version {version} ", script, StringComparison.Ordinal);
        }
        finally
        {
            BundleFiles.Delete(vllmFolder);
        }
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void No_configmap_is_too_large_for_kubectl_apply_and_the_pieces_join_into_the_maps(string plan)
    {
        // kubectl apply keeps the whole object as JSON in the last-applied-configuration annotation; annotations are
        // limited to 262,144 bytes in all (Kubernetes' TotalAnnotationSizeLimitB).
        var (folder, files) = BundleFiles.Compile(plan, [.. BundleFiles.AllTargets]);
        try
        {
            var joined = new SortedDictionary<string, StringBuilder>(StringComparer.Ordinal);
            foreach (var (path, text) in files.Where(f => f.Key.EndsWith(".yaml", StringComparison.Ordinal) && f.Value.Contains("\nkind: ConfigMap\n", StringComparison.Ordinal)))
            {
                var document = BundleFiles.YamlDocuments(text).Single()!;
                var json = Encoding.UTF8.GetByteCount(document.ToJsonString());
                Assert.True(json <= 256 * 1024, $"{plan}: {path} is {json} bytes as JSON");
                foreach (var (key, value) in document["data"]!.AsObject().Where(e => e.Key.Contains(".part-", StringComparison.Ordinal)).OrderBy(e => e.Key, StringComparer.Ordinal))
                {
                    var file = key[..key.IndexOf(".part-", StringComparison.Ordinal)];
                    (joined.TryGetValue(file, out var sb) ? sb : joined[file] = new StringBuilder()).Append(value!.GetValue<string>());
                }
            }

            // Every pod-read map is in pieces that join, byte for byte, into the bundle's placement file.
            foreach (var (file, text) in joined)
            {
                Assert.Equal(files[$"placement/{file}"], text.ToString());
            }

            // The pods run the plan's engine: SGLang reads its expert-location file, vLLM on Ascend vllm-ascend's map.
            var engine = JsonDocument.Parse(files["plan.json"]).RootElement.GetProperty("engine").GetString();
            var podMap = engine == "sglang" ? ".sglang-expert-location.json" : ".vllm-ascend-expert-map.json";
            Assert.Equal(files.Keys.Where(k => k.StartsWith("placement/", StringComparison.Ordinal) && k.EndsWith(podMap, StringComparison.Ordinal)).Select(k => k["placement/".Length..]),
                joined.Keys);
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    [Fact]
    public void The_model_volume_is_a_claim_by_default_or_a_host_folder_when_asked()
    {
        var (folder, files) = BundleFiles.Compile("plans/qwen3-235b-h200.moe", "--target", "kubernetes");
        var (other, hostFiles) = BundleFiles.Compile("plans/qwen3-235b-h200.moe", "--target", "kubernetes", "--model-volume", "hostpath:/data/models");
        try
        {
            var claim = Pods(files).First().Pod["volumes"]!.AsArray().Single(v => v!["name"]!.GetValue<string>() == "model")!;
            Assert.Equal("qwen3-235b-h200-model", claim["persistentVolumeClaim"]!["claimName"]!.GetValue<string>());
            var host = Pods(hostFiles).First().Pod["volumes"]!.AsArray().Single(v => v!["name"]!.GetValue<string>() == "model")!;
            Assert.Equal("/data/models", host["hostPath"]!["path"]!.GetValue<string>());
            Assert.Contains("HF_TOKEN", files["kubernetes/decode-leaderworkerset.yaml"], StringComparison.Ordinal);
        }
        finally
        {
            BundleFiles.Delete(folder);
            BundleFiles.Delete(other);
        }

        var (code, _, error) = CliRunner.Run("compile", MoePlan.Tests.Support.RepositoryPaths.PathOf("plans", "qwen3-235b-h200.moe"), "-o", CliRunner.TempFolder(), "--model-volume", "nfs:x");
        Assert.Equal(2, code);
        Assert.Contains("--model-volume 'nfs:x'", error, StringComparison.Ordinal);
    }

    /// <summary>The pod specs of every LeaderWorkerSet (leader and worker templates) and Deployment in the bundle.</summary>
    private static IEnumerable<(string Path, JsonNode Pod)> Pods(SortedDictionary<string, string> files)
    {
        foreach (var (path, text) in files.Where(f => f.Key.EndsWith(".yaml", StringComparison.Ordinal) && !f.Key.StartsWith("omni-infer/", StringComparison.Ordinal)))
        {
            foreach (var document in BundleFiles.YamlDocuments(text))
            {
                switch (document!["kind"]!.GetValue<string>())
                {
                    case "LeaderWorkerSet":
                        foreach (var name in new[] { "leaderTemplate", "workerTemplate" })
                        {
                            if (document["spec"]!["leaderWorkerTemplate"]![name] is { } template)
                            {
                                yield return (path, template["spec"]!);
                            }
                        }

                        break;
                    case "Deployment":
                        yield return (path, document["spec"]!["template"]!["spec"]!);
                        break;
                }
            }
        }
    }

    /// <summary>Absolute paths a container's script reads: the model path, expert maps and the files it is handed.</summary>
    private static IEnumerable<string> Reads(string script, Dictionary<string, string> env)
    {
        if (env.TryGetValue("MODEL_PATH", out var model) && script.Contains("$MODEL_PATH", StringComparison.Ordinal))
        {
            yield return model;
        }

        foreach (Match m in ReadPath().Matches(script))
        {
            yield return m.Groups["path"].Value;
        }
    }

    [GeneratedRegex(@"(?:--init-expert-location ""|expert_map_path\\"":\\""|\bcat |--upstreams |\bproxy )(?<path>/[^\s""\\*]+)")]
    private static partial Regex ReadPath();

    /// <summary>A registry path with a tag (not latest) or a digest.</summary>
    [GeneratedRegex(@"^[a-z0-9.-]+(/[a-z0-9._-]+)+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$")]
    private static partial Regex PinnedImage();
}

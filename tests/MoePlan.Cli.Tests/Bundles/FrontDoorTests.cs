using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Proxy.Routing;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests.Bundles;

/// <summary>One front door per bundle that pairs prefill and decode, and no two listeners on one host sharing a port,
/// read back from the generated files alone.</summary>
public sealed partial class FrontDoorTests
{
    public static TheoryData<string> Plans() => BundleTests.Plans();

    /// <summary>The files that start something pairing prefill and decode on the proxy host.</summary>
    private static readonly string[] FrontDoorLaunchers = ["sglang/router.sh", "moeplan-proxy/launch.sh", "nginx/omni-proxy.conf"];

    /// <summary>Aggregated bundles pair nothing: stock nginx over the serve instances is vLLM's front door.</summary>
    private static string[] Launchers(SortedDictionary<string, string> files) =>
        BundleFiles.IsAggregated(files) ? [.. FrontDoorLaunchers, "nginx/nginx.conf"] : FrontDoorLaunchers;

    [Theory]
    [MemberData(nameof(Plans))]
    public void No_two_listeners_on_one_host_share_a_port(string plan)
    {
        var (folder, files) = BundleFiles.Compile(plan);
        try
        {
            var listeners = Listeners(files);
            Assert.True(listeners.Count >= (BundleFiles.IsAggregated(files) ? 2 : 4), $"only {listeners.Count} listeners found");
            foreach (var group in listeners.GroupBy(l => (l.Host, l.Port)))
            {
                var owners = group.Select(l => l.Owner).Distinct().ToList();
                Assert.True(owners.Count == 1, $"{plan}: {group.Key.Host}:{group.Key.Port} is bound by {string.Join(" and ", owners)}");
            }

            // Every sample has one front door on its nodes, which the README names, and the README starts no other.
            var named = Assert.Single(Regex.Matches(files["README.md"], "started by `([^`]+)`")).Groups[1].Value;
            Assert.Contains(named, Launchers(files));
            Assert.Contains(named, files.Keys);
            foreach (var other in Launchers(files).Where(l => l != named))
            {
                Assert.DoesNotContain($"bash {other}`", files["README.md"], StringComparison.Ordinal);
                Assert.DoesNotContain($"$PWD/{other}`", files["README.md"], StringComparison.Ordinal);
            }
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void A_vllm_bundle_has_one_front_door_naming_every_prefill_and_decode_instance(string plan)
    {
        var (folder, files) = BundleFiles.Compile(plan);
        try
        {
            if (JsonDocument.Parse(files["plan.json"]).RootElement.GetProperty("engine").GetString() != "vllm")
            {
                return;
            }

            // The instances, from the launch scripts: each non-headless `vllm serve` is an instance's API server on its
            // node, a producer (prefill) or consumer (decode) of KV.
            var instances = new List<(PoolRole Pool, string Url)>();
            foreach (var (path, text) in files.Where(f => f.Key.StartsWith("vllm/", StringComparison.Ordinal)))
            {
                var host = ScriptHost().Match(text).Groups[1].Value;
                foreach (var command in Commands(text).Where(c => !c.Contains("--headless", StringComparison.Ordinal)))
                {
                    var port = Flag(command, "--port");
                    var pool = command.Contains("\"kv_role\":\"kv_producer\"", StringComparison.Ordinal) ? PoolRole.Prefill : PoolRole.Decode;
                    instances.Add((pool, $"http://{host}:{port}"));
                }
            }

            if (BundleFiles.IsAggregated(files))
            {
                // No instance moves KV; stock nginx is the one launcher, and its upstream is exactly the instances.
                Assert.DoesNotContain("--kv-transfer-config", string.Join("\n", files.Where(f => f.Key.StartsWith("vllm/", StringComparison.Ordinal)).Select(f => f.Value)), StringComparison.Ordinal);
                Assert.Equal(["nginx/nginx.conf"], Launchers(files).Where(files.ContainsKey));
                var servers = Regex.Matches(files["nginx/upstreams.conf"], @"server (\S+) max_fails").Select(m => "http://" + m.Groups[1].Value);
                Assert.Equal(instances.Select(i => i.Url).Order(StringComparer.Ordinal), servers.Order(StringComparer.Ordinal));
                Assert.Contains("proxy_pass http://serve_endpoints;", files["nginx/nginx.conf"], StringComparison.Ordinal);
                return;
            }

            Assert.Contains(instances, i => i.Pool == PoolRole.Prefill);
            Assert.Contains(instances, i => i.Pool == PoolRole.Decode);

            // On the nodes: exactly one launcher, moeplan proxy, whose upstreams are exactly those instances.
            Assert.Equal(["moeplan-proxy/launch.sh"], FrontDoorLaunchers.Where(files.ContainsKey));
            var diagnostics = new List<Diagnostic>();
            var upstreams = UpstreamList.Parse("upstreams.txt", files["moeplan-proxy/upstreams.txt"], diagnostics);
            Assert.Empty(diagnostics);
            Assert.Equal(
                instances.Select(i => $"{i.Pool} {i.Url}").Order(StringComparer.Ordinal),
                upstreams!.Prefill.Concat(upstreams.Decode).Select(u => $"{u.Pool} {u.Url.ToString().TrimEnd('/')}").Order(StringComparer.Ordinal));
            Assert.Contains("--upstreams \"$here/upstreams.txt\"", files["moeplan-proxy/launch.sh"], StringComparison.Ordinal);

            // On Kubernetes: exactly one Deployment, the proxy, whose mounted upstreams name one leader per LWS group.
            var documents = files.Where(f => f.Key.EndsWith(".yaml", StringComparison.Ordinal) && !f.Key.StartsWith("omni-infer/", StringComparison.Ordinal))
                .SelectMany(f => BundleFiles.YamlDocuments(f.Value).Select(d => (f.Key, Document: d!))).ToList();
            var deployment = Assert.Single(documents, d => d.Document["kind"]!.GetValue<string>() == "Deployment");
            Assert.Equal("moeplan-proxy/deployment.yaml", deployment.Key);
            var replicas = documents.Where(d => d.Document["kind"]!.GetValue<string>() == "LeaderWorkerSet")
                .ToDictionary(d => d.Document["metadata"]!["labels"]!["app.kubernetes.io/component"]!.GetValue<string>(), d => d.Document["spec"]!["replicas"]!.GetValue<long>());
            var inCluster = UpstreamList.Parse("k8s", files["moeplan-proxy/upstreams.kubernetes.txt"], diagnostics);
            Assert.Empty(diagnostics);
            Assert.Equal((replicas["prefill"], replicas["decode"]), (inCluster!.Prefill.Count, inCluster.Decode.Count));
            Assert.Equal(instances.Count(i => i.Pool == PoolRole.Prefill), inCluster.Prefill.Count);
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    [Fact]
    public void An_sglang_bundle_on_kubernetes_has_the_router_as_a_deployment_and_service()
    {
        var (folder, files) = BundleFiles.Compile("plans/deepseek-v3-sglang-h100.moe");
        try
        {
            var deployment = BundleFiles.YamlDocuments(files["kubernetes/router-deployment.yaml"]).Single()!;
            var service = BundleFiles.YamlDocuments(files["kubernetes/router-service.yaml"]).Single()!;
            var labels = deployment["spec"]!["template"]!["metadata"]!["labels"]!.AsObject();
            foreach (var (key, value) in service["spec"]!["selector"]!.AsObject())
            {
                Assert.Equal(value!.ToString(), labels[key]!.ToString());
            }

            // Same instances as the bare-metal router: one --prefill per prefill instance (with its bootstrap port), one --decode per decode instance.
            var script = deployment["spec"]!["template"]!["spec"]!["containers"]![0]!["args"]![0]!.GetValue<string>();
            var router = files["sglang/router.sh"];
            Assert.Equal(Regex.Matches(router, "--prefill ").Count, Regex.Matches(script, "--prefill http://[a-z0-9.-]+:\\d+ \\d+").Count);
            Assert.Equal(Regex.Matches(router, "--decode ").Count, Regex.Matches(script, "--decode http://[a-z0-9.-]+:\\d+").Count);
            Assert.Contains("--pd-disaggregation", script, StringComparison.Ordinal);
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    /// <summary>Every (host, port) something in the bundle binds, with what binds it.</summary>
    private static List<(string Host, int Port, string Owner)> Listeners(SortedDictionary<string, string> files)
    {
        var listeners = new List<(string Host, int Port, string Owner)>();
        foreach (var (path, text) in files)
        {
            if ((path.StartsWith("vllm/", StringComparison.Ordinal) || path.StartsWith("sglang/", StringComparison.Ordinal)) && path != "sglang/router.sh")
            {
                var host = ScriptHost().Match(text).Groups[1].Value;
                var n = 0;
                foreach (var command in Commands(text))
                {
                    var owner = $"{path} command {n++}";
                    var worker = command.Contains("--headless", StringComparison.Ordinal) || (Flag(command, "--node-rank") is { } rank && rank != "0");
                    if (!command.Contains("--headless", StringComparison.Ordinal))
                    {
                        listeners.Add((host, int.Parse(Flag(command, "--port")!, CultureInfo.InvariantCulture), owner));
                    }

                    if (!worker)
                    {
                        // The leader binds the rendezvous (vLLM's DP RPC port, SGLang's dist-init port) and SGLang prefill's bootstrap server.
                        if (Flag(command, "--data-parallel-rpc-port") is { } rpc)
                        {
                            listeners.Add((host, int.Parse(rpc, CultureInfo.InvariantCulture), owner));
                        }

                        if (Flag(command, "--dist-init-addr") is { } dist)
                        {
                            listeners.Add((host, int.Parse(dist[(dist.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture), owner));
                        }

                        if (Flag(command, "--disaggregation-bootstrap-port") is { } bootstrap)
                        {
                            listeners.Add((host, int.Parse(bootstrap, CultureInfo.InvariantCulture), owner));
                        }
                    }

                    // vLLM's KV events publisher binds tcp://*:PORT.
                    foreach (Match m in Regex.Matches(command, @"tcp://\*:(\d+)"))
                    {
                        listeners.Add((host, int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), owner));
                    }
                }
            }
            else if (path is "sglang/router.sh" or "moeplan-proxy/launch.sh")
            {
                var host = RunOn().Match(text).Groups[1].Value;
                listeners.Add((host, int.Parse(Flag(text, "--port")!, CultureInfo.InvariantCulture), path));
            }
            else if (path.StartsWith("nginx/", StringComparison.Ordinal) && path.EndsWith(".conf", StringComparison.Ordinal) && RunOn().Match(text) is { Success: true } on)
            {
                foreach (Match m in Regex.Matches(text, @"^\s*listen (\d+)", RegexOptions.Multiline))
                {
                    listeners.Add((on.Groups[1].Value, int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), path));
                }
            }
        }

        return listeners;
    }

    /// <summary>The engine commands of a node script (each starts with the engine's executable, flags on continued lines).</summary>
    private static IEnumerable<string> Commands(string script) =>
        Regex.Split(script.Replace("\\\n", " ", StringComparison.Ordinal), "\n")
            .Where(l => l.Contains("vllm serve", StringComparison.Ordinal) || l.Contains("sglang.launch_server", StringComparison.Ordinal));

    private static string? Flag(string command, string flag) =>
        Regex.Match(command, Regex.Escape(flag) + @"\s+(\S+)") is { Success: true } m ? m.Groups[1].Value.Trim('"') : null;

    [GeneratedRegex(@"^# .*: (?:vLLM|SGLang) on (\S+?)\.?\s", RegexOptions.Multiline)]
    private static partial Regex ScriptHost();

    [GeneratedRegex(@"Run (?:it )?on (\S+?)[:\s]")]
    private static partial Regex RunOn();
}

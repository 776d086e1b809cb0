using System.Text.Json;
using System.Text.RegularExpressions;
using ApprovalTests;
using ApprovalTests.Namers;
using ApprovalTests.Reporters;
using Json.Schema;
using MoePlan.Cli.Files;
using MoePlan.Tests.Support;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace MoePlan.Cli.Tests.Bundles;

/// <summary>
/// The bundles of the sample plans: approved snapshots, and validation against what the engines and Kubernetes publish
/// (flag lists, JSON schemas, the LWS CRD), real nginx, bash and JSON/YAML parsers.
/// </summary>
[UseReporter(typeof(BaselineReporter))]
[UseApprovalSubdirectory("Approved")]
public sealed partial class BundleTests
{
    private static readonly string Interfaces = TestData.PathOf("engine-interfaces");

    public static TheoryData<string> Plans()
    {
        var data = new TheoryData<string>();
        foreach (var plan in RepositoryPaths.SamplePlans())
        {
            data.Add(plan);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void Bundle_matches_the_baseline(string plan)
    {
        var (folder, files) = BundleFiles.Compile(plan);
        try
        {
            Assert.Equal(File.ReadAllText(RepositoryPaths.PathOf("tests", "MoePlan.Cli.Tests", "Approved",
                $"SamplePlanTests.Compiled_plan_json_matches_the_baseline.ForScenario.{Path.GetFileNameWithoutExtension(plan)}.approved.txt")).TrimEnd(),
                files["plan.json"].TrimEnd());
            using (ApprovalResults.ForScenario(Path.GetFileNameWithoutExtension(plan)))
            {
                Approvals.Verify(BundleFiles.Snapshot(folder));
            }
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void The_manifest_lists_exactly_the_files_moeplan_wrote(string plan)
    {
        var (folder, files) = BundleFiles.Compile(plan);
        try
        {
            var listed = File.ReadAllLines(Path.Combine(folder, BundleDirectory.ManifestName)).Where(l => !l.StartsWith('#')).ToArray();
            Assert.Equal(files.Keys, listed);
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void Default_targets_are_the_engine_kubernetes_and_nginx(string plan)
    {
        var (folder, files) = BundleFiles.Compile(plan);
        try
        {
            var engine = JsonDocument.Parse(files["plan.json"]).RootElement.GetProperty("engine").GetString()!;
            var folders = files.Keys.Where(k => k.Contains('/', StringComparison.Ordinal)).Select(k => k[..k.IndexOf('/', StringComparison.Ordinal)])
                .Distinct().Where(f => f != "placement").Order(StringComparer.Ordinal);
            // vLLM has no P/D router of its own: bundles whose pods or scripts run `vllm serve` carry moeplan proxy as their front door;
            // aggregated ones pair nothing, and stock nginx is their front door.
            string[] expected = engine == "sglang" || BundleFiles.IsAggregated(files) ? [engine!, "kubernetes", "nginx"] : [engine!, "kubernetes", "nginx", "moeplan-proxy"];
            Assert.Equal(expected.Order(StringComparer.Ordinal), folders);
            Assert.Contains("README.md", files.Keys);
            Assert.Contains("report.md", files.Keys);
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void Every_flag_is_one_the_engine_has(string plan)
    {
        var (folder, files) = BundleFiles.Compile(plan, BundleFiles.AllTargets);
        try
        {
            var vllm = FlagList("vllm-flags.txt");
            var sglang = FlagList("sglang-flags.txt");
            var router = FlagList("sglang-router-flags.txt");
            var engine = JsonDocument.Parse(files["plan.json"]).RootElement.GetProperty("engine").GetString();
            var checkedFlags = 0;
            foreach (var (path, text) in files)
            {
                var list = path switch
                {
                    "sglang/router.sh" => router,
                    _ when path.StartsWith("sglang/", StringComparison.Ordinal) => sglang,
                    _ when path.StartsWith("vllm/", StringComparison.Ordinal) => vllm,
                    _ when path.StartsWith("kubernetes/", StringComparison.Ordinal) && path.EndsWith("leaderworkerset.yaml", StringComparison.Ordinal)
                        => engine == "sglang" ? sglang : vllm,
                    _ => null,
                };
                if (list is null)
                {
                    continue;
                }

                foreach (Match flag in Flag().Matches(text))
                {
                    Assert.True(list.Contains(flag.Value), $"{path}: {flag.Value} is not a flag of the engine ({plan})");
                    checkedFlags++;
                }
            }

            // Two pools' commands in each engine's scripts and the pods; one pool's (aggregated) has about half as many.
            Assert.True(checkedFlags > (BundleFiles.IsAggregated(files) ? 40 : 50), $"only {checkedFlags} flags found");
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    /// <summary>The values moeplan chooses for `--quantization` and `--kv-cache-dtype` are ones the engine's own source
    /// accepts (tests/data/engine-interfaces/flag-choices.txt, read from the literals the engines validate against).</summary>
    [Theory]
    [MemberData(nameof(Plans))]
    public void Every_chosen_flag_value_is_one_the_engine_accepts(string plan)
    {
        var choices = File.ReadLines(Path.Combine(Interfaces, "flag-choices.txt"))
            .Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToDictionary(w => (w[0], w[1]), w => w[2..].ToHashSet(StringComparer.Ordinal));
        var (folder, files) = BundleFiles.Compile(plan, BundleFiles.AllTargets);
        try
        {
            var ascend = JsonDocument.Parse(files["plan.json"]).RootElement.GetProperty("hardware").GetProperty("name").GetString()!.StartsWith("ascend", StringComparison.Ordinal);
            var checkedValues = 0;
            foreach (var (path, text) in files)
            {
                var engine = path.StartsWith("vllm/", StringComparison.Ordinal) ? "vllm" : path.StartsWith("sglang/", StringComparison.Ordinal) && path != "sglang/router.sh" ? "sglang" : null;
                if (engine is null)
                {
                    continue;
                }

                foreach (Match m in ChosenValue().Matches(text))
                {
                    var (flag, value) = (m.Groups[1].Value, m.Groups[2].Value);
                    if (engine == "vllm" && flag == "--quantization" && value == "ascend" && ascend)
                    {
                        continue; // registered by the vllm-ascend plugin, not by vLLM
                    }

                    Assert.True(choices[(engine, flag)].Contains(value), $"{path}: {flag} {value} is not a value {engine} accepts ({plan})");
                    checkedValues++;
                }
            }

            Assert.True(checkedValues >= 2, $"only {checkedValues} values found");
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void Every_json_and_yaml_file_parses_and_every_script_passes_bash_n(string plan)
    {
        var (folder, files) = BundleFiles.Compile(plan, BundleFiles.AllTargets);
        try
        {
            var scripts = 0;
            foreach (var (path, text) in files)
            {
                if (path.EndsWith(".json", StringComparison.Ordinal))
                {
                    using (JsonDocument.Parse(text))
                    {
                    }
                }
                else if (path.EndsWith(".yaml", StringComparison.Ordinal))
                {
                    Assert.NotEmpty(BundleFiles.YamlDocuments(text));
                }
                else if (path.EndsWith(".sh", StringComparison.Ordinal))
                {
                    Assert.StartsWith("#!/usr/bin/env bash\n", text, StringComparison.Ordinal);
                    var error = NginxFactAttribute.Run("bash", $"-n \"{Path.Combine(folder, path)}\"", out var output);
                    Assert.True(error is null, $"{path}: bash -n: {error} {output}");
                    scripts++;
                }
            }

            // The scripts embedded in the LWS manifests are shell too.
            foreach (var (path, text) in files.Where(f => f.Key.EndsWith("leaderworkerset.yaml", StringComparison.Ordinal)))
            {
                foreach (var script in BundleFiles.YamlDocuments(text).SelectMany(d => Scripts(d!)))
                {
                    var file = Path.Combine(folder, "embedded.sh");
                    File.WriteAllText(file, script);
                    var error = NginxFactAttribute.Run("bash", $"-n \"{file}\"", out var output);
                    Assert.True(error is null, $"{path}: embedded script: bash -n: {error} {output}");
                    File.Delete(file);
                    scripts++;
                }
            }

            Assert.True(scripts >= 4, $"only {scripts} scripts checked");
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void Kubernetes_manifests_validate_against_the_published_schemas(string plan)
    {
        var (folder, files) = BundleFiles.Compile(plan);
        try
        {
            var schemas = new Dictionary<string, JsonSchema>(StringComparer.Ordinal)
            {
                ["ConfigMap"] = Schema(File.ReadAllText(Path.Combine(Interfaces, "k8s-json-schema", "master-standalone-strict", "configmap-v1.json"))),
                ["Service"] = Schema(File.ReadAllText(Path.Combine(Interfaces, "k8s-json-schema", "master-standalone-strict", "service-v1.json"))),
                ["LeaderWorkerSet"] = LeaderWorkerSetSchema(),
                ["Deployment"] = DeploymentSchema(),
            };
            var kinds = new List<string>();
            foreach (var (path, text) in files.Where(f => (f.Key.StartsWith("kubernetes/", StringComparison.Ordinal) || f.Key.StartsWith("moeplan-proxy/", StringComparison.Ordinal))
                && f.Key.EndsWith(".yaml", StringComparison.Ordinal)))
            {
                foreach (var document in BundleFiles.YamlDocuments(text))
                {
                    var kind = document!["kind"]!.GetValue<string>();
                    var result = schemas[kind].Evaluate(BundleFiles.Element(document), new EvaluationOptions { OutputFormat = OutputFormat.List });
                    Assert.True(result.IsValid, $"{path} ({kind}) does not validate: " + string.Join("; ",
                        (result.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))));
                    kinds.Add(kind);
                }
            }

            // A ConfigMap for the plan and one per expert-map piece, an LWS and a Service per pool, and the front door: SGLang's
            // router as a Deployment and Service, or moeplan proxy's Deployment, Service and ConfigMap.
            var engine = JsonDocument.Parse(files["plan.json"]).RootElement.GetProperty("engine").GetString();
            var pieces = files.Keys.Count(k => MapPiece().IsMatch(k));
            // Aggregated: one LWS and Service, and SGLang's router (vLLM's front door is the serve Service itself).
            var aggregated = BundleFiles.IsAggregated(files);
            var expected = aggregated
                ? new List<string> { "ConfigMap", "LeaderWorkerSet", "Service" }
                : new List<string> { "ConfigMap", "LeaderWorkerSet", "LeaderWorkerSet", "Service", "Service", "Deployment", "Service" };
            if (aggregated && engine == "sglang")
            {
                expected.AddRange(["Deployment", "Service"]);
            }

            expected.AddRange(Enumerable.Repeat("ConfigMap", pieces + (engine == "sglang" || aggregated ? 0 : 1)));
            Assert.Equal(expected.Order(StringComparer.Ordinal), kinds.Order(StringComparer.Ordinal));
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    [Fact]
    public void A_wrong_manifest_fails_the_schemas()
    {
        // The validators must be able to fail: a Service with an unknown field and a LeaderWorkerSet with a string size.
        var service = Schema(File.ReadAllText(Path.Combine(Interfaces, "k8s-json-schema", "master-standalone-strict", "service-v1.json")));
        var badService = BundleFiles.YamlDocuments("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  portz: []\n")[0];
        Assert.False(service.Evaluate(BundleFiles.Element(badService)).IsValid);
        var lws = LeaderWorkerSetSchema();
        var badLws = BundleFiles.YamlDocuments("apiVersion: leaderworkerset.x-k8s.io/v1\nkind: LeaderWorkerSet\nmetadata:\n  name: x\nspec:\n  leaderWorkerTemplate:\n    size: \"four\"\n    workerTemplate: {}\n")[0];
        Assert.False(lws.Evaluate(BundleFiles.Element(badLws)).IsValid);
    }

    [NginxFact]
    public void Stock_nginx_accepts_the_generated_configuration()
    {
        foreach (var plan in RepositoryPaths.SamplePlans())
        {
            var (folder, files) = BundleFiles.Compile(plan);
            try
            {
                // The node names resolve to the loopback address inside a private mount namespace, as DNS makes them resolve on a cluster.
                var hosts = Regex.Matches(files["nginx/upstreams.conf"], @"server ([a-z0-9-]+):\d+").Select(m => m.Groups[1].Value).Distinct().ToList();
                Assert.NotEmpty(hosts);
                var hostsFile = Path.Combine(folder, "hosts");
                File.WriteAllText(hostsFile, "127.0.0.1 localhost " + string.Join(' ', hosts) + "\n");
                var conf = Path.Combine(folder, "nginx", "nginx.conf");
                var error = NginxFactAttribute.Run("unshare",
                    $"-m sh -c \"mount --bind '{hostsFile}' /etc/hosts && exec nginx -t -c '{conf}' -p '{Path.Combine(folder, "nginx")}/'\"", out var output);
                Assert.True(error is null, $"{plan}: nginx -t: {error}\n{output}");
                Assert.Contains("test is successful", output, StringComparison.Ordinal);

                // Omni Proxy's configuration (Omni-Infer plans only) is not for stock nginx, which cannot load its modules (its
                // parts are checked in OmniInferBundleTests): which is why it is a file of its own.
                if (!files.ContainsKey("nginx/omni-proxy.conf"))
                {
                    continue;
                }

                error = NginxFactAttribute.Run("unshare",
                    $"-m sh -c \"mount --bind '{hostsFile}' /etc/hosts && exec nginx -t -c '{Path.Combine(folder, "nginx", "omni-proxy.conf")}' -p '{Path.Combine(folder, "nginx")}/'\"", out output);
                Assert.NotNull(error);
                Assert.Contains("ngx_http_omni_proxy_module.so", output, StringComparison.Ordinal);
            }
            finally
            {
                BundleFiles.Delete(folder);
            }
        }
    }

    [Fact]
    public void Same_plan_gives_a_byte_identical_bundle_with_no_machine_paths()
    {
        var plan = "plans/deepseek-v3-h800.moe";
        var (a, first) = BundleFiles.Compile(plan, BundleFiles.AllTargets);
        var (b, second) = BundleFiles.Compile(plan, BundleFiles.AllTargets);
        try
        {
            Assert.Equal(first.Keys, second.Keys);
            foreach (var path in first.Keys)
            {
                Assert.Equal(File.ReadAllBytes(Path.Combine(a, path)), File.ReadAllBytes(Path.Combine(b, path)));
                Assert.DoesNotContain(RepositoryPaths.Root, first[path], StringComparison.Ordinal);
                Assert.DoesNotContain(Path.GetTempPath(), first[path], StringComparison.Ordinal);
            }
        }
        finally
        {
            BundleFiles.Delete(a);
            BundleFiles.Delete(b);
        }
    }

    [Fact]
    public void Target_selects_the_folders()
    {
        var (folder, files) = BundleFiles.Compile("plans/qwen3-235b-h200.moe", "--target", "sglang");
        try
        {
            Assert.Contains("sglang/router.sh", files.Keys);
            Assert.DoesNotContain(files.Keys, k => k.StartsWith("vllm/", StringComparison.Ordinal) || k.StartsWith("kubernetes/", StringComparison.Ordinal));
            // SGLang reads an initial expert placement, so the bundle carries one per pool.
            Assert.Contains("placement/prefill.sglang-expert-location.json", files.Keys);
            Assert.Contains("placement/decode.sglang-expert-location.json", files.Keys);
        }
        finally
        {
            BundleFiles.Delete(folder);
        }

        var (code, _, error) = CliRunner.Run("compile", RepositoryPaths.PathOf("plans", "qwen3-235b-h200.moe"), "-o", CliRunner.TempFolder(), "--target", "tgi");
        Assert.Equal(2, code);
        Assert.Contains("tgi", error, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"(--quantization|--kv-cache-dtype) ([A-Za-z0-9_.-]+)")]
    private static partial Regex ChosenValue();

    private static HashSet<string> FlagList(string name) =>
        File.ReadLines(Path.Combine(Interfaces, name)).Where(l => l.StartsWith("-", StringComparison.Ordinal)).Select(l => l.Trim()).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// Kubernetes schemas carry OpenAPI extension keywords (x-kubernetes-*): unknown to JSON Schema, allowed and ignored.
    /// The yannh files name the unversioned meta-schema "http://json-schema.org/schema#", which no validator resolves; they
    /// use only keywords that mean the same in draft 2020-12 (type, properties, additionalProperties, items, enum, required,
    /// oneOf), so the name is dropped and the schema read as 2020-12.
    /// </summary>
    private static JsonSchema Schema(string json)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        node.Remove("$schema");
        return JsonSchema.FromText(node.ToJsonString(), new BuildOptions
        {
            SchemaRegistry = new SchemaRegistry(),
            Dialect = Dialect.Draft202012.With([], allowUnknownKeywords: true),
        });
    }

    /// <summary>
    /// apps/v1 Deployment: no published Deployment schema is among the test data, so its own fields are checked here and
    /// its pod template against the PodTemplateSpec schema the LWS CRD embeds (the same Kubernetes type, generated from
    /// k8s.io/api core/v1 by controller-gen).
    /// </summary>
    internal static JsonSchema DeploymentSchema()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path.Combine(Interfaces, "lws", "leaderworkerset.x-k8s.io_leaderworkersets.yaml"))));
        var crd = (YamlMappingNode)stream.Documents[0].RootNode;
        var version = (YamlMappingNode)((YamlSequenceNode)((YamlMappingNode)crd["spec"])["versions"]).Children[0];
        var openApi = (YamlMappingNode)((YamlMappingNode)version["schema"])["openAPIV3Schema"];
        var podTemplate = ((YamlMappingNode)((YamlMappingNode)((YamlMappingNode)((YamlMappingNode)((YamlMappingNode)openApi["properties"])["spec"])["properties"])["leaderWorkerTemplate"])["properties"])["workerTemplate"];
        var deployment = new System.Text.Json.Nodes.JsonObject
        {
            ["type"] = "object",
            ["required"] = new System.Text.Json.Nodes.JsonArray("apiVersion", "kind", "metadata", "spec"),
            ["additionalProperties"] = false,
            ["properties"] = new System.Text.Json.Nodes.JsonObject
            {
                ["apiVersion"] = new System.Text.Json.Nodes.JsonObject { ["const"] = "apps/v1" },
                ["kind"] = new System.Text.Json.Nodes.JsonObject { ["const"] = "Deployment" },
                ["metadata"] = System.Text.Json.Nodes.JsonNode.Parse("{\"type\":\"object\",\"required\":[\"name\"],\"properties\":{\"name\":{\"type\":\"string\"},\"labels\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}},\"additionalProperties\":false}"),
                ["spec"] = new System.Text.Json.Nodes.JsonObject
                {
                    ["type"] = "object",
                    ["required"] = new System.Text.Json.Nodes.JsonArray("selector", "template"),
                    ["additionalProperties"] = false,
                    ["properties"] = new System.Text.Json.Nodes.JsonObject
                    {
                        ["replicas"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "integer", ["minimum"] = 0 },
                        ["selector"] = System.Text.Json.Nodes.JsonNode.Parse("{\"type\":\"object\",\"required\":[\"matchLabels\"],\"properties\":{\"matchLabels\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}},\"additionalProperties\":false}"),
                        ["template"] = BundleFiles.ToJson(podTemplate),
                    },
                },
            },
        };
        return Schema(deployment.ToJsonString());
    }

    /// <summary>The LWS CRD's OpenAPI v3 schema (spec.versions[0].schema.openAPIV3Schema) as a JSON schema; its
    /// x-kubernetes-* keywords are unknown keywords to the validator and ignored.</summary>
    private static JsonSchema LeaderWorkerSetSchema()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path.Combine(Interfaces, "lws", "leaderworkerset.x-k8s.io_leaderworkersets.yaml"))));
        var crd = (YamlMappingNode)stream.Documents[0].RootNode;
        var version = (YamlMappingNode)((YamlSequenceNode)((YamlMappingNode)crd["spec"])["versions"]).Children[0];
        Assert.Equal("v1", ((YamlScalarNode)version["name"]).Value);
        var openApi = ((YamlMappingNode)version["schema"])["openAPIV3Schema"];
        return Schema(BundleFiles.ToJson(openApi)!.ToJsonString());
    }

    private static IEnumerable<string> Scripts(System.Text.Json.Nodes.JsonNode document)
    {
        var template = document["spec"]!["leaderWorkerTemplate"]!;
        foreach (var name in new[] { "leaderTemplate", "workerTemplate" })
        {
            if (template[name] is { } pod)
            {
                foreach (var container in pod["spec"]!["containers"]!.AsArray())
                {
                    yield return "#!/usr/bin/env bash\n" + container!["args"]![0]!.GetValue<string>();
                }
            }
        }
    }

    [GeneratedRegex(@"(?<=\s)--[a-z0-9][a-z0-9-]*")]
    private static partial Regex Flag();

    [GeneratedRegex(@"^kubernetes/(prefill|decode|serve)-map-\d{3}\.yaml$")]
    private static partial Regex MapPiece();
}

using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MoePlan.Core.Placement;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests.Bundles;

/// <summary>The sample plans' bundles compiled once for the Omni-Infer tests (default targets: omni-infer, kubernetes, nginx).</summary>
public sealed class OmniInferBundles : IDisposable
{
    private readonly Dictionary<string, (string Folder, SortedDictionary<string, string> Files)> _bundles = new(StringComparer.Ordinal);
    private readonly List<string> _folders = [];

    public (string Folder, SortedDictionary<string, string> Files) Get(string plan)
    {
        lock (_bundles)
        {
            if (!_bundles.TryGetValue(plan, out var bundle))
            {
                bundle = BundleFiles.Compile(plan);
                _folders.Add(bundle.Folder);
                _bundles[plan] = bundle;
            }

            return bundle;
        }
    }

    /// <summary>moeplan's placement.json of a pool, as <c>moeplan place --pool P -o DIR</c> writes it.</summary>
    public JsonElement Placement(string plan, string role)
    {
        var folder = CliRunner.TempFolder();
        lock (_bundles)
        {
            _folders.Add(folder);
        }

        var (code, output, error) = CliRunner.Run("place", RepositoryPaths.PathOf(plan.Split('/')), "--pool", role, "-o", folder);
        Assert.True(code == 0, output + error);
        return JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "placement.json"))).RootElement.Clone();
    }

    public void Dispose()
    {
        foreach (var folder in _folders)
        {
            BundleFiles.Delete(folder);
        }
    }
}

/// <summary>
/// The Omni-Infer target against Omni-Infer's own interface (tests/data/engine-interfaces/omni-infer): the playbook's
/// inventory variables, its model-config loader, Omni Placement's pattern and Omni Proxy's nginx configuration. Every
/// expectation comes from those files, the plan's plan.json or a hand derivation noted beside it.
/// </summary>
public sealed partial class OmniInferBundleTests(OmniInferBundles bundles) : IClassFixture<OmniInferBundles>
{
    private static readonly string[] Roles = ["prefill", "decode"];

    /// <summary>The sample plans whose engine is omni-infer.</summary>
    public static TheoryData<string> Plans()
    {
        var plans = RepositoryPaths.SamplePlans()
            .Where(p => EngineLine().IsMatch(File.ReadAllText(RepositoryPaths.PathOf(p.Split('/')))))
            .ToList();
        // The two the issue names must be among them (guards the filter).
        Assert.Contains("plans/openpangu-718b-ascend910c.moe", plans);
        Assert.Contains("plans/deepseek-r1-cloudmatrix384.moe", plans);
        var data = new TheoryData<string>();
        foreach (var plan in plans)
        {
            data.Add(plan);
        }

        return data;
    }

    [Fact]
    public void The_playbook_reads_the_stated_variables_and_its_sample_inventories_have_them()
    {
        var stated = OmniInferInterface.StatedHostVariables();
        var derived = OmniInferInterface.PlaybookHostVariables();
        Assert.Equal(["C", "D", "P"], stated.Keys);
        foreach (var group in stated.Keys)
        {
            Assert.Equal(string.Join(' ', stated[group]), string.Join(' ', derived[group]));
        }

        // Omni-Infer's own sample inventories (which pass the playbook) have every one of them.
        foreach (var sample in new[] { "omni_infer_inventory_used_for_2P1D.yml", "omni_infer_inventory_used_for_4P1D.yml" })
        {
            var children = BundleFiles.YamlDocuments(File.ReadAllText(OmniInferInterface.PathOf(sample)))[0]!["all"]!["children"]!;
            foreach (var group in stated.Keys)
            {
                foreach (var (host, vars) in children[group]!["hosts"]!.AsObject())
                {
                    Assert.True(stated[group].All(v => vars!.AsObject().ContainsKey(v)), $"{sample}: {host} lacks one of {string.Join(", ", stated[group])}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void The_inventory_has_exactly_the_variables_the_playbook_reads(string plan)
    {
        var stated = OmniInferInterface.StatedHostVariables();
        var inventory = Inventory(plan);
        Assert.Equal(["all"], inventory.AsObject().Select(p => p.Key));
        Assert.Equal(["children"], inventory["all"]!.AsObject().Select(p => p.Key)); // no all.vars: the playbook reads none
        var children = inventory["all"]!["children"]!.AsObject();
        Assert.Equal(["C", "D", "P"], children.Select(p => p.Key).Order(StringComparer.Ordinal));
        foreach (var (group, node) in children)
        {
            Assert.Equal(["hosts"], node!.AsObject().Select(p => p.Key)); // no group vars either
            foreach (var (host, vars) in node["hosts"]!.AsObject())
            {
                Assert.True(stated[group].SetEquals(vars!.AsObject().Select(p => p.Key)),
                    $"{plan}: {group}/{host} has {string.Join(", ", vars.AsObject().Select(p => p.Key))}; the playbook reads {string.Join(", ", stated[group])}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void The_inventory_describes_the_plan_with_well_formed_values(string plan)
    {
        var (_, files) = bundles.Get(plan);
        var p = PlanJson(plan);
        var devicesPerNode = p.GetProperty("cluster").GetProperty("devices_per_node").GetInt32();
        var dies = p.GetProperty("hardware").GetProperty("dies_per_package").GetInt32();
        int NodesPerInstance(string role) => p.GetProperty(role).GetProperty("devices_per_instance").GetInt32() / devicesPerNode;
        var idsPerNode = devicesPerNode * dies; // a 910C die is a device id (ASCEND_RT_VISIBLE_DEVICES 0..15 on 8 packages)
        var children = Inventory(plan)["all"]!["children"]!;
        var prefill = Hosts(children, "P");
        var decode = Hosts(children, "D");
        var proxy = Hosts(children, "C");

        var addresses = prefill.Concat(decode).Select(h => Text(h, "ansible_host")).ToList();
        Assert.Equal(addresses.Count, addresses.Distinct().Count());
        foreach (var host in prefill.Concat(decode).Concat(proxy))
        {
            foreach (var key in new[] { "ansible_host", "host_ip" }.Where(k => host.AsObject().ContainsKey(k)))
            {
                // The plan names no addresses: RFC 5737's documentation ranges stand in.
                var ip = Text(host, key);
                Assert.True(IPAddress.TryParse(ip, out var parsed) && parsed.AddressFamily == AddressFamily.InterNetwork && ip.Split('.').Length == 4, ip);
                Assert.Matches(@"^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+$", ip);
            }

            Assert.InRange(Number(host, "node_port"), 1024, 65535);
            if (host.AsObject().ContainsKey("api_port"))
            {
                Assert.InRange(Number(host, "api_port"), 1024, 65535);
                Assert.NotEqual(Number(host, "node_port"), Number(host, "api_port"));
            }

            if (host.AsObject().ContainsKey("ascend_rt_visible_devices"))
            {
                var ids = Text(host, "ascend_rt_visible_devices");
                Assert.Matches(@"^\d+(,\d+)*$", ids);
                var list = ids.Split(',').Select(int.Parse).ToList();
                Assert.Equal(list.Count, list.Distinct().Count());
                Assert.All(list, id => Assert.InRange(id, 0, idsPerNode - 1));
                Assert.Equal(idsPerNode, list.Count); // the sample plans' instances take whole nodes
            }
        }

        // P: the nodes sharing a host_ip are one instance, its master (ansible_host == host_ip, node_rank 0) first.
        var instances = prefill.GroupBy(h => Text(h, "host_ip")).ToList();
        Assert.Equal(p.GetProperty("prefill").GetProperty("instances").GetInt32(), instances.Count);
        Assert.Equal(Enumerable.Range(0, instances.Count), instances.Select(i => (int)Number(i.First(), "kv_rank")));
        foreach (var instance in instances)
        {
            var hosts = instance.ToList();
            Assert.Equal(NodesPerInstance("prefill"), hosts.Count);
            Assert.Equal(instance.Key, Text(hosts[0], "ansible_host"));
            Assert.Equal(Enumerable.Range(0, hosts.Count), hosts.Select(h => (int)Number(h, "node_rank")));
            Assert.Single(hosts.Select(h => Number(h, "kv_rank")).Distinct());
            Assert.Single(hosts.Select(h => Number(h, "node_port")).Distinct());
            Assert.Single(hosts.Select(h => Number(h, "api_port")).Distinct());
            Assert.Equal(hosts.Count - 1, prefill.IndexOf(hosts[^1]) - prefill.IndexOf(hosts[0])); // contiguous, as the rank-table merge needs
        }

        Assert.Equal(instances.Count, instances.Select(i => Number(i.First(), "node_port")).Distinct().Count());
        Assert.Equal(instances.Count, instances.Select(i => Number(i.First(), "api_port")).Distinct().Count());

        // D: one decode instance; the playbook runs one API server per device id (its DP size is the count of them all).
        Assert.Equal(1, p.GetProperty("decode").GetProperty("instances").GetInt32());
        Assert.Equal(1, p.GetProperty("decode").GetProperty("tp").GetInt32());
        Assert.Equal(NodesPerInstance("decode"), decode.Count);
        Assert.Single(decode.Select(h => Text(h, "host_ip")).Distinct());
        Assert.Equal(Text(decode[0], "ansible_host"), Text(decode[0], "host_ip"));
        Assert.Single(decode.Select(h => Number(h, "node_port")).Distinct());
        Assert.Equal(p.GetProperty("decode").GetProperty("dp").GetInt32(), decode.Sum(h => Text(h, "ascend_rt_visible_devices").Split(',').Length));

        // C: the proxy, listening on its node_port.
        Assert.Single(proxy);

        // No port bound twice on one address: P masters bind node_port and api_port, D nodes node_port and api_port + k, C node_port.
        var bound = new List<(string, long)>();
        foreach (var host in prefill.Where(h => Text(h, "ansible_host") == Text(h, "host_ip")))
        {
            bound.Add((Text(host, "ansible_host"), Number(host, "node_port")));
            bound.Add((Text(host, "ansible_host"), Number(host, "api_port")));
        }

        bound.Add((Text(decode[0], "ansible_host"), Number(decode[0], "node_port")));
        bound.AddRange(decode.SelectMany(h => ApiPorts(h).Select(port => (Text(h, "ansible_host"), port))));
        bound.Add((Text(proxy[0], "ansible_host"), Number(proxy[0], "node_port")));
        Assert.Equal(bound.Count, bound.Distinct().Count());

        // The placeholders are announced, and the README maps each to its node.
        Assert.Contains("PLACEHOLDER ADDRESSES", files["omni-infer/inventory.yaml"], StringComparison.Ordinal);
        var readme = files["omni-infer/README.md"];
        Assert.Contains("replace every one", readme, StringComparison.Ordinal);
        Assert.All(addresses, a => Assert.Contains($"`{a}`", readme, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void The_model_configs_are_where_the_playbook_reads_them_and_load_with_the_loader_rules(string plan)
    {
        var (folder, files) = bundles.Get(plan);
        var p = PlanJson(plan);
        var sections = OmniInferInterface.LoaderFields();
        Assert.Equal(["model_parallel_config", "operator_optimizition_config"], sections.Keys.Order(StringComparer.Ordinal));
        var paths = OmniInferInterface.PlaybookModelConfigPaths();
        Assert.Equal(Roles.Order(StringComparer.Ordinal), paths.Keys.Order(StringComparer.Ordinal));
        foreach (var role in Roles)
        {
            var file = "omni-infer/omniinfer/" + paths[role];
            Assert.True(files.ContainsKey(file), $"{plan}: no {file} (the playbook's MODEL_EXTRA_CFG_PATH)");
            var json = JsonDocument.Parse(files[file]).RootElement;
            // The loader takes both sections (KeyError otherwise); anything else at the top is ignored, so none is written.
            Assert.Equal(sections.Keys.Order(StringComparer.Ordinal), json.EnumerateObject().Select(o => o.Name).Order(StringComparer.Ordinal));
            foreach (var (section, fields) in sections)
            {
                foreach (var property in json.GetProperty(section).EnumerateObject())
                {
                    // Dataclass(**dict): an unknown key is a TypeError.
                    Assert.True(fields.TryGetValue(property.Name, out var type), $"{plan} {role}: {section}.{property.Name} is not a field of the loader");
                    Assert.True(HasType(property.Value, type), $"{plan} {role}: {section}.{property.Name} = {property.Value} is not {type}");
                }
            }

            var parallel = json.GetProperty("model_parallel_config");
            var operators = json.GetProperty("operator_optimizition_config");
            // Prefill runs as TP over all its NPUs under the playbook (dp_size 1); decode has the plan's DP.
            Assert.Equal(role == "prefill" ? 1 : p.GetProperty("decode").GetProperty("dp").GetInt32(), parallel.GetProperty("dp_size").GetInt32());
            Assert.Equal(role == "decode", operators.TryGetProperty("decode_gear_list", out _));

            // __post_init__: use_omni_placement needs omni_placement_config_path; the servers open it from the playbook's server folder.
            Assert.True(operators.GetProperty("use_omni_placement").GetBoolean());
            var config = operators.GetProperty("omni_placement_config_path").GetString();
            Assert.False(string.IsNullOrEmpty(config));
            Assert.True(File.Exists(Resolve(folder, config!)), $"{plan} {role}: {config} does not resolve from {OmniInferInterface.PlaybookServerFolder()}");
        }
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void The_omni_placement_pattern_encodes_the_plans_placement(string plan)
    {
        var (folder, files) = bundles.Get(plan);
        var p = PlanJson(plan);
        var model = p.GetProperty("model");
        var moeLayers = model.GetProperty("layers").GetInt32() - model.GetProperty("dense_layers").GetInt32();
        var experts = model.GetProperty("routed_experts").GetInt32();
        var redundant = p.GetProperty("placement").GetProperty("redundant_experts").GetInt32();
        var keys = OmniInferInterface.PlacementConfigKeys();
        foreach (var role in Roles)
        {
            var modelConfig = JsonDocument.Parse(files["omni-infer/omniinfer/" + OmniInferInterface.PlaybookModelConfigPaths()[role]]).RootElement;
            var yamlPath = Resolve(folder, modelConfig.GetProperty("operator_optimizition_config").GetProperty("omni_placement_config_path").GetString()!);
            var yaml = BundleFiles.YamlDocuments(File.ReadAllText(yamlPath))[0]!.AsObject();
            Assert.All(yaml.Select(k => k.Key), k => Assert.Contains(k, keys));
            Assert.False(yaml["enable_dynamic"]!.GetValue<bool>()); // Omni Placement's default is true: a static placement must say so
            Assert.Equal(moeLayers, yaml["max_moe_layer_num"]!.GetValue<long>());

            var bytes = File.ReadAllBytes(Resolve(folder, yaml["pattern_path"]!.GetValue<string>()));
            Assert.Equal([1, 0], bytes[6..8]); // format version 1.0
            var pattern = NpyArray.Read(bytes);
            Assert.Equal(0, pattern.HeaderBytes % 64);
            Assert.Equal("<i4", pattern.Descr);
            Assert.False(pattern.FortranOrder);
            var ep = p.GetProperty(role).GetProperty("ep").GetInt32();
            Assert.Equal([ep, moeLayers, experts], pattern.Shape); // expert_mapping.py: (world_size, max_moe_layer_num, num_experts)
            Assert.All(pattern.Values, v => Assert.InRange(v, 0, 1));

            // Every layer holds each expert at least once and routed + redundant copies in all.
            for (var l = 0; l < moeLayers; l++)
            {
                var copies = Enumerable.Range(0, experts).Select(e => Enumerable.Range(0, ep).Sum(d => pattern[d, l, e])).ToList();
                Assert.All(copies, c => Assert.True(c >= 1));
                Assert.Equal(experts + redundant, copies.Sum());
            }

            // The same placement as moeplan's placement.json and as the bundle's vllm-ascend map.
            var placement = bundles.Placement(plan, role).GetProperty("layers");
            var map = JsonDocument.Parse(files[$"placement/{role}.vllm-ascend-expert-map.json"]).RootElement.GetProperty("layer_list");
            Assert.Equal(moeLayers, placement.GetArrayLength());
            for (var l = 0; l < moeLayers; l++)
            {
                var devices = placement[l].GetProperty("devices");
                var mapDevices = map[l].GetProperty("device_list");
                for (var d = 0; d < ep; d++)
                {
                    var held = Enumerable.Range(0, experts).Where(e => pattern[d, l, e] == 1).ToList();
                    Assert.Equal(devices[d].EnumerateArray().Select(e => e.GetInt32()).Order(), held);
                    Assert.Equal(mapDevices[d].GetProperty("device_expert").EnumerateArray().Select(e => e.GetInt32()).Order(), held);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void Decode_runs_in_graph_mode_with_the_plans_batch(string plan)
    {
        var (_, files) = bundles.Get(plan);
        var decode = PlanJson(plan).GetProperty("decode");
        // Sequences per DP rank (one API server each) x (1 + MTP draft tokens): the batch of one decode step.
        var perRank = decode.GetProperty("max_batch_per_device").GetInt32() * decode.GetProperty("devices_per_instance").GetInt32() / decode.GetProperty("dp").GetInt32();
        var gear = perRank * (1 + decode.GetProperty("mtp").GetProperty("draft_tokens").GetInt32());
        var additional = files["omni-infer/decode-additional-config.json"];
        Assert.Single(additional.TrimEnd('\n').Split('\n')); // pasted into a shell string
        var graph = JsonDocument.Parse(additional).RootElement.GetProperty("graph_model_compile_config");
        Assert.Equal(1, graph.GetProperty("level").GetInt32()); // the level the playbook's own decode line sets
        Assert.Equal([gear], graph.GetProperty("decode_gear_list").EnumerateArray().Select(g => g.GetInt32()));
        var modelConfig = JsonDocument.Parse(files["omni-infer/omniinfer/" + OmniInferInterface.PlaybookModelConfigPaths()["decode"]]).RootElement;
        Assert.Equal([gear], modelConfig.GetProperty("operator_optimizition_config").GetProperty("decode_gear_list").EnumerateArray().Select(g => g.GetInt32()));
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void The_omni_proxy_configuration_has_what_the_module_needs(string plan)
    {
        var (_, files) = bundles.Get(plan);
        var p = PlanJson(plan);
        var reference = NginxDirective.Parse(File.ReadAllText(OmniInferInterface.PathOf("omni_proxy_nginx.conf")));
        var ours = NginxDirective.Parse(files["nginx/omni-proxy.conf"]);

        // The modules load in the main context, before any block, as in the reference.
        var modules = reference.Where(d => d.Name == "load_module").Select(d => Path.GetFileName(d.Arguments[0])).ToList();
        Assert.Equal(2, modules.Count);
        var firstBlock = ours.FindIndex(d => d.Block is not null);
        Assert.Equal(modules, ours.Take(firstBlock).Where(d => d.Name == "load_module").Select(d => Path.GetFileName(d.Arguments[0])));
        Assert.Single(ours, d => d.Name == "events" && d.Block is not null);
        var http = Assert.Single(ours, d => d.Name == "http");

        // The upstream names the module uses, each a block of servers.
        var upstreams = http.Block!.Where(d => d.Name == "upstream").ToDictionary(d => d.Arguments[0], d => d.Block!.Where(s => s.Name == "server").Select(s => s.Arguments[0]).ToList());
        Assert.Equal(
            reference.Single(d => d.Name == "http").Block!.Where(d => d.Name == "upstream").Select(d => d.Arguments[0]).Order(StringComparer.Ordinal),
            upstreams.Keys.Order(StringComparer.Ordinal));

        // Every omni_proxy directive the reference uses, and set_request_id, in our locations too.
        var server = Assert.Single(http.Block!, d => d.Name == "server");
        var referenceServer = reference.Single(d => d.Name == "http").Block!.Single(d => d.Name == "server");
        var required = referenceServer.Descendants().Select(d => d.Name).Where(n => n.StartsWith("omni_proxy", StringComparison.Ordinal) || n == "set_request_id").Distinct().ToList();
        Assert.Contains("omni_proxy", required);
        var directives = server.Descendants().ToList();
        Assert.All(required, name => Assert.Contains(directives, d => d.Name == name));
        Assert.Equal(["on"], directives.Single(d => d.Name == "set_request_id").Arguments);
        Assert.Equal(["decode_endpoints"], directives.Single(d => d.Name == "omni_proxy").Arguments);
        Assert.Equal([p.GetProperty("proxy").GetProperty("mode").GetString()!], directives.Single(d => d.Name == "omni_proxy_pd_policy").Arguments);

        // The internal location the module sends prefill subrequests to, as the reference writes it.
        var referenceSub = referenceServer.Block!.Single(d => d.Name == "location" && d.Arguments.Any(a => a.Contains("prefill_sub", StringComparison.Ordinal)));
        var sub = Assert.Single(server.Block!, d => d.Name == "location" && d.Arguments.SequenceEqual(referenceSub.Arguments));
        Assert.Contains(sub.Block!, d => d.Name == "internal");
        Assert.StartsWith("http://prefill_endpoints$orig", Assert.Single(sub.Block!, d => d.Name == "proxy_pass").Arguments[0], StringComparison.Ordinal);

        // Values from the plan: prefill tokens per instance (one upstream each), decode sequences per DP rank (one upstream each).
        var prefill = p.GetProperty("prefill");
        var decode = p.GetProperty("decode");
        Assert.Equal([(prefill.GetProperty("max_batch_tokens_per_device").GetInt64() * prefill.GetProperty("devices_per_instance").GetInt64()).ToString(System.Globalization.CultureInfo.InvariantCulture)],
            directives.Single(d => d.Name == "omni_proxy_max_batch_num_token").Arguments);
        Assert.Equal([(decode.GetProperty("max_batch_per_device").GetInt64() * decode.GetProperty("devices_per_instance").GetInt64() / decode.GetProperty("dp").GetInt64()).ToString(System.Globalization.CultureInfo.InvariantCulture)],
            directives.Single(d => d.Name == "omni_proxy_decode_max_num_seqs").Arguments);

        // Servers: one per prefill instance; one per decode DP rank, on the ports the playbook's proxy script expands from
        // the inventory (api_port .. api_port + device count - 1 on each D host). The proxy listens on C's node_port.
        var children = Inventory(plan)["all"]!["children"]!;
        Assert.Equal(prefill.GetProperty("instances").GetInt32(), upstreams["prefill_endpoints"].Count);
        Assert.Equal(decode.GetProperty("dp").GetInt32(), upstreams["decode_endpoints"].Count);
        Assert.Equal(upstreams["decode_endpoints"].Count, upstreams["decode_endpoints"].Distinct().Count());
        Assert.Equal(
            Hosts(children, "D").SelectMany(ApiPorts).Order(),
            upstreams["decode_endpoints"].Select(s => long.Parse(s[(s.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture)).Order());
        Assert.Equal(Hosts(children, "D").Count, upstreams["decode_endpoints"].Select(s => s[..s.LastIndexOf(':')]).Distinct().Count());
        Assert.Equal(
            Hosts(children, "P").Where(h => Text(h, "ansible_host") == Text(h, "host_ip")).Select(h => Number(h, "api_port")).Order(),
            upstreams["prefill_endpoints"].Select(s => long.Parse(s[(s.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture)).Order());
        Assert.Equal(Number(Hosts(children, "C")[0], "node_port").ToString(System.Globalization.CultureInfo.InvariantCulture),
            Assert.Single(server.Block!, d => d.Name == "listen").Arguments[0]);
    }

    [Fact]
    public void The_omni_infer_target_writes_no_file_omni_infer_does_not_read()
    {
        var (folder, files) = BundleFiles.Compile("plans/openpangu-718b-ascend910c.moe", "--target", "omni-infer");
        try
        {
            // vllm-ascend's expert_map_path JSON is not Omni-Infer's format; without the Kubernetes pods nothing reads it.
            Assert.DoesNotContain(files.Keys, k => k.StartsWith("placement/", StringComparison.Ordinal));
            Assert.DoesNotContain("expert_map_path", files["omni-infer/inventory.yaml"], StringComparison.Ordinal);
            Assert.Contains("omni-infer/omniinfer/tests/test_config/moeplan_omni_placement_decode.npy", files.Keys);
            Assert.Contains("omni-infer/omniinfer/tests/test_config/moeplan_omni_placement_prefill.npy", files.Keys);
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    [Fact]
    public void The_pattern_writer_keeps_replicas_and_uneven_layers()
    {
        // Two devices, four experts. Layer 3: device 0 holds 0, 1, 2 and device 1 only 3 (uneven). Layer 5: expert 0 on both
        // devices (a replica), device 1 also 2 and 3. By hand, pattern[device][layer][expert]:
        //   d0: l3 1110, l5 1100;  d1: l3 0001, l5 1011.
        var placement = new ExpertPlacement("hand", 4, 9, 2, 2,
        [
            new LayerPlacement(3, 4, [[0, 1, 2], [3]]),
            new LayerPlacement(5, 4, [[1, 0], [3, 0, 2]]),
        ]);
        var pattern = NpyArray.Read(OmniPlacementPattern.Npy(placement));
        Assert.Equal("<i4", pattern.Descr);
        Assert.Equal([2, 2, 4], pattern.Shape);
        Assert.Equal(0, pattern.HeaderBytes % 64);
        Assert.Equal([1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1], pattern.Values);
    }

    private JsonNode Inventory(string plan) => BundleFiles.YamlDocuments(bundles.Get(plan).Files["omni-infer/inventory.yaml"])[0]!;

    private JsonElement PlanJson(string plan) => JsonDocument.Parse(bundles.Get(plan).Files["plan.json"]).RootElement;

    /// <summary>A path the engine processes open, relative to the folder the playbook starts them in, as a bundle file.</summary>
    private static string Resolve(string folder, string path) =>
        Path.GetFullPath(Path.Combine(folder, "omni-infer", "omniinfer", OmniInferInterface.PlaybookServerFolder(), path));

    private static List<JsonNode> Hosts(JsonNode children, string group) =>
        children[group]!["hosts"]!.AsObject().Select(h => h.Value!).ToList();

    private static string Text(JsonNode host, string key) => host[key]!.GetValue<string>();

    private static long Number(JsonNode host, string key) => host[key]!.GetValue<long>();

    /// <summary>The playbook's run_proxy_cmd: a D host serves api_port .. api_port + (commas in its device list).</summary>
    private static IEnumerable<long> ApiPorts(JsonNode host)
    {
        var first = Number(host, "api_port");
        return Enumerable.Range(0, Text(host, "ascend_rt_visible_devices").Count(c => c == ',') + 1).Select(k => first + k);
    }

    private static bool HasType(JsonElement value, string type) => type switch
    {
        "int" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
        "float" => value.ValueKind == JsonValueKind.Number,
        "bool" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "str" => value.ValueKind == JsonValueKind.String,
        "list[int]" => value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(v => v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out _)),
        _ => false,
    };

    [GeneratedRegex(@"^\s*engine\s+omni-infer\s*$", RegexOptions.Multiline)]
    private static partial Regex EngineLine();
}

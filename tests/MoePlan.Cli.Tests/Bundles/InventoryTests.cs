using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests.Bundles;

/// <summary><c>compile --inventory</c> and <c>check --inventory</c>: real hosts and addresses replace the synthetic ones
/// everywhere; bad inventories are located MP54xx diagnostics; inventories that do not fit the plan are MP307x errors.</summary>
public sealed partial class InventoryTests
{
    public static TheoryData<string> Plans() => BundleTests.Plans();

    [Theory]
    [MemberData(nameof(Plans))]
    public void With_an_inventory_no_synthetic_name_or_placeholder_address_remains(string plan)
    {
        var (nodes, devicesPerNode) = Layout(plan);
        var inventory = WriteInventory(nodes, devicesPerNode);
        string[] targets = [.. BundleFiles.AllTargets, "--target", "moeplan-proxy", "--inventory", inventory];
        var (a, first) = BundleFiles.Compile(plan, targets);
        var (b, second) = BundleFiles.Compile(plan, targets);
        try
        {
            foreach (var (path, text) in first)
            {
                Assert.DoesNotMatch(SyntheticNodeName(), path);
                var synthetic = SyntheticNodeName().Match(text);
                Assert.False(synthetic.Success, $"{plan}: {path} still names {synthetic.Value}");
                var placeholder = PlaceholderAddress().Match(text);
                Assert.False(placeholder.Success, $"{plan}: {path} still has the placeholder address {placeholder.Value}");
            }

            // Every node of the inventory is used: its launch script is named after it, and its address reaches the bundle.
            var all = string.Concat(first.Values);
            for (var i = 0; i < nodes; i++)
            {
                Assert.Contains(first.Keys, k => k.EndsWith($"/{Host(i)}.sh", StringComparison.Ordinal));
                Assert.Contains(Address(i), all, StringComparison.Ordinal);
            }

            // Kubernetes pods select the nodes by the labels all of their pool's nodes share: the cluster label every node has.
            foreach (var (path, text) in first.Where(f => f.Key.EndsWith("leaderworkerset.yaml", StringComparison.Ordinal)))
            {
                var spec = BundleFiles.YamlDocuments(text).Single()!["spec"]!["leaderWorkerTemplate"]!["workerTemplate"]!["spec"]!;
                Assert.True(spec["nodeSelector"]?["example.com/cluster"]?.GetValue<string>() == "c1", $"{plan}: {path} has no node selector for the shared label");
            }

            // Same plan and inventory, same bytes.
            Assert.Equal(first.Keys, second.Keys);
            foreach (var path in first.Keys)
            {
                Assert.Equal(File.ReadAllBytes(Path.Combine(a, path)), File.ReadAllBytes(Path.Combine(b, path)));
            }
        }
        finally
        {
            BundleFiles.Delete(a);
            BundleFiles.Delete(b);
            File.Delete(inventory);
        }
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void Without_an_inventory_the_readme_says_the_names_are_synthetic(string plan)
    {
        var (folder, files) = BundleFiles.Compile(plan);
        try
        {
            Assert.Contains("No inventory was given: the host names below are synthetic", files["README.md"], StringComparison.Ordinal);
            Assert.Matches(SyntheticNodeName(), files["README.md"]);
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    [Fact]
    public void Rendezvous_addresses_and_proxy_upstreams_are_the_leaders_ip_addresses()
    {
        // deepseek-v3-h800: vLLM, multi-node instances. Each instance's leader is the node whose launch script runs its
        // node rank 0; every other node of the instance points --data-parallel-address at that node's inventory address.
        var plan = "plans/deepseek-v3-h800.moe";
        var (nodes, devicesPerNode) = Layout(plan);
        var inventory = WriteInventory(nodes, devicesPerNode);
        var (folder, files) = BundleFiles.Compile(plan, "--inventory", inventory, "--target", "vllm", "--target", "nginx");
        try
        {
            var leaders = new Dictionary<int, string>(); // rpc port -> leader address
            var followers = new List<(int Port, string Address)>();
            for (var i = 0; i < nodes; i++)
            {
                var script = files[$"vllm/{Host(i)}.sh"];
                Assert.Contains($"export VLLM_HOST_IP={Address(i)} VLLM_NIXL_SIDE_CHANNEL_HOST={Address(i)}\n", script, StringComparison.Ordinal);
                foreach (Match m in DataParallelAddress().Matches(script))
                {
                    var port = int.Parse(m.Groups["port"].Value, CultureInfo.InvariantCulture);
                    if (m.Groups["headless"].Success)
                    {
                        followers.Add((port, m.Groups["address"].Value));
                    }
                    else
                    {
                        Assert.Equal(Address(i), m.Groups["address"].Value);
                        leaders[port] = Address(i);
                    }
                }
            }

            Assert.NotEmpty(followers);
            foreach (var (port, address) in followers)
            {
                Assert.Equal(leaders[port], address);
            }

            // nginx reaches every instance leader by address.
            var upstreams = Regex.Matches(files["nginx/upstreams.conf"], @"server (\S+):\d+").Select(m => m.Groups[1].Value).ToHashSet();
            Assert.Equal(leaders.Values.ToHashSet().Order(), upstreams.Where(u => leaders.ContainsValue(u)).Order());
            Assert.All(upstreams, u => Assert.Matches(@"^10\.1\.\d+\.\d+$", u));
        }
        finally
        {
            BundleFiles.Delete(folder);
            File.Delete(inventory);
        }
    }

    [Fact]
    public void Bad_inventories_give_located_diagnostics_and_no_bundle()
    {
        // Line and column by hand: line 2 `  - host: Bad_Host` has the value at column 11; line 3 `    ip: 10.0.0.300` at 9;
        // line 4 `    devices: eight` at 14; line 5 `    nic: [eth0]` has the unknown key at column 5; line 7 `pool` at 11.
        var text = "nodes:\n  - host: Bad_Host\n    ip: 10.0.0.300\n    devices: eight\n    nic: [eth0]\n  - host: b\n    pool: both\n";
        var (code, output) = Compile("plans/qwen3-235b-h200.moe", text, out var folder);
        Assert.Equal(1, code);
        Assert.False(Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any());
        Assert.Contains("(2,11): error MP5405: host \"Bad_Host\"", output, StringComparison.Ordinal);
        Assert.Contains("(3,9): error MP5406: ip \"10.0.0.300\"", output, StringComparison.Ordinal);
        Assert.Contains("(4,14): error MP5407: devices \"eight\"", output, StringComparison.Ordinal);
        Assert.Contains("(5,5): error MP5403: unknown key `nic`", output, StringComparison.Ordinal);
        Assert.Contains("(7,11): error MP5410: pool \"both\"", output, StringComparison.Ordinal);
        // Node 1 (line 6, column 5) lacks ip and devices.
        Assert.Contains("(6,5): error MP5404: node 1 has no `ip`", output, StringComparison.Ordinal);
        Assert.Contains("(6,5): error MP5404: node 1 has no `devices`", output, StringComparison.Ordinal);

        (code, output) = Compile("plans/qwen3-235b-h200.moe", "nodes:\n  - host: a\n    ip: [1\n", out _);
        Assert.Equal(1, code);
        Assert.Matches(@"inventory\.yaml\(\d+,\d+\): error MP5401: inventory YAML error", output);

        // Line 5 `    nics: [eth0, "eth 1"]`: the second entry starts at column 18; line 6 `    labels: {"a b": x, rack: "-r"}`:
        // the bad key at column 14, the bad value at column 30.
        (code, output) = Compile("plans/qwen3-235b-h200.moe", "nodes:\n  - host: a\n    ip: 10.0.0.1\n    devices: 8\n    nics: [eth0, \"eth 1\"]\n    labels: {\"a b\": x, rack: \"-r\"}\n", out _);
        Assert.Equal(1, code);
        Assert.Contains("(5,18): error MP5408: nics entry \"eth 1\"", output, StringComparison.Ordinal);
        Assert.Contains("(6,14): error MP5409: label \"a b\" is not a label key", output, StringComparison.Ordinal);
        Assert.Contains("(6,30): error MP5409: label \"-r\" is not a label value", output, StringComparison.Ordinal);

        (code, output) = Compile("plans/qwen3-235b-h200.moe", "nodes: []\n", out _);
        Assert.Equal(1, code);
        Assert.Contains("(1,8): error MP5411", output, StringComparison.Ordinal);

        (code, output) = Compile("plans/qwen3-235b-h200.moe", "- host: a\n", out _);
        Assert.Equal(1, code);
        Assert.Contains("(1,1): error MP5402: the inventory must be a mapping with `nodes`, not a list", output, StringComparison.Ordinal);

        // Not a regular file: refused before it is opened, as an I/O error.
        var (devCode, devOut, devErr) = CliRunner.Run("check", RepositoryPaths.PathOf("plans", "qwen3-235b-h200.moe"), "--inventory", "/dev/zero");
        Assert.Equal(2, devCode);
        Assert.Contains("/dev/zero(1,1): error MP5400: cannot read the inventory: it is a character device", devOut + devErr, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_rejects_an_inventory_that_does_not_fit_the_plan()
    {
        // qwen3-235b-h200 uses 3 nodes of 8 H200 (one prefill instance of 8 devices on node 0, the decode pool on
        // nodes 1 and 2; the layout fills nodes in order, prefill first).
        var plan = RepositoryPaths.PathOf("plans", "qwen3-235b-h200.moe");
        var (nodes, devicesPerNode) = Layout("plans/qwen3-235b-h200.moe");
        Assert.Equal((3, 8), (nodes, devicesPerNode));

        // Two nodes: the decode pool's last node (node 2) is missing.
        var path = Write(Inventory([("a", "10.0.0.1", 8, null), ("b", "10.0.0.2", 8, null)]));
        var (code, output, _) = CliRunner.Run("check", plan, "--inventory", path);
        Assert.Equal(1, code);
        Assert.Contains("error MP3070: the decode pool runs on 2 node(s), up to node 2 of the plan's layout, but the inventory lists 2 node(s)", output, StringComparison.Ordinal);
        Assert.DoesNotContain("the prefill pool runs", output, StringComparison.Ordinal);

        // Wrong device count (line 8: the third node's `devices`), a repeated host and address, a decode node listed first.
        File.WriteAllText(path, Inventory([("a", "10.0.0.1", 8, "decode"), ("b", "10.0.0.2", 4, null), ("a", "10.0.0.2", 8, null)]));
        (code, output, _) = CliRunner.Run("check", plan, "--inventory", path);
        Assert.Equal(1, code);
        Assert.Contains("(8,14): error MP3071: node `b` has 4 device(s), the plan's cluster has 8", output, StringComparison.Ordinal);
        Assert.Contains("(9,11): error MP3072: host `a` is listed twice (first on line 2)", output, StringComparison.Ordinal);
        Assert.Contains("(10,9): error MP3073: ip 10.0.0.2 is also node `b`'s", output, StringComparison.Ordinal);
        Assert.Contains("(5,11): error MP3074: node `a` says `pool: decode`, but the plan's layout runs prefill on it", output, StringComparison.Ordinal);

        // One node too many: a warning, and the check passes.
        File.WriteAllText(path, Inventory([.. Enumerable.Range(0, 4).Select(i => ($"n{i}", $"10.0.0.{i + 1}", 8, (string?)null))]));
        (code, output, _) = CliRunner.Run("check", plan, "--inventory", path);
        Assert.Equal(0, code);
        Assert.Contains("warning MP3075: the plan uses 3 node(s); the last 1 node(s)", output, StringComparison.Ordinal);
        File.Delete(path);
    }

    /// <summary>Nodes the plan's bundle uses (its launch scripts without an inventory) and the plan's devices per node.</summary>
    private static (int Nodes, int DevicesPerNode) Layout(string plan)
    {
        var (folder, files) = BundleFiles.Compile(plan, "--target", "vllm");
        try
        {
            var devices = JsonDocument.Parse(files["plan.json"]).RootElement.GetProperty("cluster").GetProperty("devices_per_node").GetInt32();
            return (files.Keys.Count(k => k.StartsWith("vllm/", StringComparison.Ordinal) && k.EndsWith(".sh", StringComparison.Ordinal)), devices);
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    private static string Host(int i) => $"rack{i / 16}-gpu{i % 16:00}.dc1";

    private static string Address(int i) => $"10.1.{i / 200}.{(i % 200) + 11}";

    private static string WriteInventory(int nodes, int devicesPerNode)
    {
        var text = new StringBuilder("# test cluster\nnodes:\n");
        for (var i = 0; i < nodes; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"  - host: {Host(i)}\n    ip: {Address(i)}\n    devices: {devicesPerNode}\n    nics: [eth0]\n    ib_devices: [mlx5_0, mlx5_1]\n    labels: {{topology.kubernetes.io/zone: z{i % 2}, example.com/cluster: c1}}\n");
        }

        return Write(text.ToString());
    }

    private static string Inventory(IEnumerable<(string Host, string Ip, int Devices, string? Pool)> nodes)
    {
        var text = new StringBuilder("nodes:\n");
        foreach (var (host, ip, devices, pool) in nodes)
        {
            text.Append(CultureInfo.InvariantCulture, $"  - host: {host}\n    ip: {ip}\n    devices: {devices}\n");
            if (pool is not null)
            {
                text.Append(CultureInfo.InvariantCulture, $"    pool: {pool}\n");
            }
        }

        return text.ToString();
    }

    private static string Write(string text)
    {
        var path = Path.Combine(CliRunner.TempFolder(), "inventory.yaml");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private static (int Code, string Output) Compile(string plan, string inventoryText, out string folder)
    {
        var inventory = Write(inventoryText);
        folder = CliRunner.TempFolder();
        var (code, output, error) = CliRunner.Run("compile", RepositoryPaths.PathOf(plan.Split('/')), "-o", folder, "--inventory", inventory);
        File.Delete(inventory);
        return (code, output + error);
    }

    /// <summary>The synthetic node naming (<c>&lt;plan&gt;-node-NN</c>, scripts <c>node-NN.sh</c>).</summary>
    [GeneratedRegex(@"node-\d{2,}")]
    private static partial Regex SyntheticNodeName();

    /// <summary>The placeholder ranges (RFC 5737 documentation, RFC 2544 benchmarking).</summary>
    [GeneratedRegex(@"\b(192\.0\.2|198\.51\.100|203\.0\.113|198\.1[89])\.\d+")]
    private static partial Regex PlaceholderAddress();

    [GeneratedRegex(@"--data-parallel-address (?<address>\S+) \\\n  --data-parallel-rpc-port (?<port>\d+)(?<headless> \\\n  --headless)?")]
    private static partial Regex DataParallelAddress();
}

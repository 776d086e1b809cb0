using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using MoePlan.Core.Inventory;
using MoePlan.Core.Plan;

namespace MoePlan.Core.Emit;

/// <summary>
/// The flat model the bundle templates render: the plan's values, resolved into nodes, instances and ports. Built from the
/// plan records only (no text of any output format): templates decide every flag, key and line. Scriban sees the
/// properties in snake_case (<c>bundle.pools[0].data_parallel</c>).
/// </summary>
/// <param name="Name">The deployment name as written in the plan.</param>
/// <param name="ResourceName">The name made a DNS-1035 label (Kubernetes object names, node host names).</param>
/// <param name="Engine">vllm, sglang or omni-infer.</param>
/// <param name="Targets">The bundle's folders besides the root files, sorted.</param>
/// <param name="ProxyHost">The host of the P/D proxy or router (Omni-Infer group C): the first node.</param>
/// <param name="ProxyAddress">The IP address of <paramref name="ProxyHost"/>.</param>
/// <param name="PlaceholderAddresses">True while node addresses are placeholders (<see cref="PlaceholderAddress"/>): the plan
/// names no addresses, so files that need IPs (the Omni-Infer inventory) carry documentation addresses to be replaced.</param>
public sealed record BundleModel(
    string Name,
    string ResourceName,
    string Engine,
    ImmutableArray<string> Targets,
    BundleModelInfo Model,
    BundleAccelerator Accelerator,
    int Nodes,
    int DevicesPerNode,
    int RanksPerNode,
    ImmutableArray<BundlePool> Pools,
    ImmutableArray<BundleNode> NodeList,
    BundlePlacement Placement,
    BundleProxy Proxy,
    string ProxyHost,
    string ProxyAddress,
    bool PlaceholderAddresses,
    BundlePorts Ports)
{
    /// <summary>Where the Kubernetes pods find the checkpoint.</summary>
    public BundleModelVolume ModelVolume { get; init; } = BundleModelVolume.Default(ResourceName);

    /// <summary>The expert maps the Kubernetes pods read, cut into ConfigMaps small enough for <c>kubectl apply</c>.</summary>
    public ImmutableArray<BundleMapChunk> MapChunks { get; init; } = [];

    /// <summary>The deployment uses more than one node: KV transfer and collectives cross the network (RDMA, IPC_LOCK).</summary>
    public bool CrossesNodes => NodeList.Length > 1;

    /// <summary>The container images of the Kubernetes objects.</summary>
    public BundleImages Images { get; init; } = BundleImages.Default;

    /// <summary>The bundle's front door (<see cref="BundleFrontDoor"/>).</summary>
    public BundleFrontDoor? FrontDoor { get; init; }

    /// <summary>The prefill pool; in an aggregated bundle the serve pool (the only one).</summary>
    public BundlePool Prefill => Pools[0];

    /// <summary>One serve pool (<c>serve { }</c>): no KV transfer, and a front door that balances rather than pairs.</summary>
    public bool Aggregated => Pools.Length == 1 && Pools[0].IsServe;

    /// <summary>Hosts and addresses come from an inventory (<c>--inventory</c>).</summary>
    public bool HasInventory => !PlaceholderAddresses;

    /// <summary>The decode pool; in an aggregated bundle the serve pool (the only one).</summary>
    public BundlePool Decode => Pools[^1];

    /// <summary>The folders a target writes to.</summary>
    public bool Has(string target) => Targets.Contains(target, StringComparer.Ordinal);

    /// <summary>
    /// A node's stand-in IP address until real ones are given: distinct per node and deterministic, from the ranges
    /// RFC 5737 reserves for documentation (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24: 762 nodes), then RFC 2544's
    /// benchmarking range 198.18.0.0/15. None of them is routed on the Internet, so a forgotten placeholder fails fast.
    /// </summary>
    public static string PlaceholderAddress(int node)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(node);
        string[] documentation = ["192.0.2", "198.51.100", "203.0.113"];
        if (node < 254 * documentation.Length)
        {
            return $"{documentation[node / 254]}.{((node % 254) + 1).ToString(CultureInfo.InvariantCulture)}";
        }

        var rest = node - (254 * documentation.Length);
        var third = 18 + (rest / (256 * 254));
        var inBlock = rest % (256 * 254);
        if (third > 19)
        {
            throw new ArgumentOutOfRangeException(nameof(node), node, "more nodes than placeholder addresses");
        }

        return string.Create(CultureInfo.InvariantCulture, $"198.{third}.{inBlock / 254}.{(inBlock % 254) + 1}");
    }
}

/// <param name="Path">What the engines load: the Hugging Face id, or null when the catalog has none (launch scripts then require MODEL_PATH).</param>
/// <param name="ExpertPrecision">The plan's numeric format of the expert weights (bf16, fp8, int8).</param>
/// <param name="CheckpointPrecision">The format the published checkpoint stores its weights in (bf16, fp8, int8).</param>
/// <param name="KvCachePrecision">The plan's numeric format of the KV cache (bf16, fp8, int8).</param>
public sealed record BundleModelInfo(string Name, string DisplayName, string? Path, int Layers, int MoeLayers, int RoutedExperts, int TopK, int MtpLayers, bool Mla,
    string ExpertPrecision, string CheckpointPrecision = "bf16", string KvCachePrecision = "bf16")
{
    /// <summary>FP4 experts: the engines load an FP4 checkpoint (vLLM and SGLang's modelopt_fp4 / mxfp4 read pre-quantised
    /// weights), so the published checkpoint is no default for MODEL_PATH.</summary>
    public bool FourBit => ExpertPrecision is "nvfp4" or "mxfp4";
}

/// <param name="Vendor">nvidia or huawei.</param>
/// <param name="ResourceName">The Kubernetes extended resource of one device.</param>
/// <param name="VisibleDevicesVariable">The environment variable that selects a process's devices.</param>
public sealed record BundleAccelerator(string Name, string DisplayName, string Vendor, bool Ascend, int DiesPerPackage, string ResourceName, string VisibleDevicesVariable);

/// <summary>Fixed ports of a bundle. Instance ports add the instance's index in the deployment (prefill first, then decode),
/// so instances that share a node never collide; the proxies that may run together on the proxy host each have their own.</summary>
/// <param name="Proxy">Omni Proxy (nginx/omni-proxy.conf) and Omni-Infer's group C proxy, which are alternatives.</param>
/// <param name="Router">SGLang's router (sglang/router.sh).</param>
/// <param name="MoeplanProxy"><c>moeplan proxy</c> (moeplan-proxy/launch.sh).</param>
public sealed record BundlePorts(int Proxy, int PrefillPool, int DecodePool, int InstanceHttpBase, int InstanceRpcBase, int BootstrapBase, int KvEventsBase,
    int Router, int MoeplanProxy)
{
    public static BundlePorts Default { get; } = new(8000, 8081, 8082, 30000, 31000, 32000, 33000, 8001, 8002);
}

/// <summary>
/// Container images, each pinned to a release tag (never <c>latest</c>): for each engine, the release nearest to the source
/// snapshot its launch flags were checked against (tests/data/engine-interfaces), so the flags the bundle passes are the
/// ones that release parses:
/// <list type="bullet">
/// <item>vLLM: flags at commit 8d9b52f7 (main, 2026-08-07); <c>v0.27.1</c> is the release vllm-ascend's own images built
/// on two weeks later (vllm-ascend main 182b75ea, 2026-08-22: <c>ARG VLLM_TAG=v0.27.1</c> in every Dockerfile). Tag scheme:
/// vLLM's .buildkite/scripts/publish-release-images.sh pushes <c>vllm/vllm-openai:v${RELEASE_VERSION}</c>.</item>
/// <item>vllm-ascend: <c>v0.23.0</c>, its final release of 2026-08-16 (docs/source/community/versioning_policy.md), run as
/// <c>quay.io/ascend/vllm-ascend:v0.23.0</c> in its own tutorials (docs/source/tutorials/models/Qwen3.8-27B.md).</item>
/// <item>SGLang: flags at commit d7231480 (main, 2026-06-14), whose own docs run <c>lmsysorg/sglang:v0.5.12</c>
/// (docs_new/cookbook/autoregressive/GLM/GLM-4.7.mdx); .github/workflows/release-docker.yml publishes
/// <c>lmsysorg/sglang:v{version}</c>, and the image builds the router (docker/Dockerfile, sgl-model-gateway).</item>
/// </list>
/// The bundle README names these versions and the commits.
/// </summary>
/// <param name="Vllm">vLLM on NVIDIA GPUs.</param>
/// <param name="VllmAscend">vLLM with the vllm-ascend plugin (vLLM and Omni-Infer pods on Ascend).</param>
/// <param name="Sglang">SGLang (engine and router).</param>
/// <param name="MoeplanProxy">The .NET SDK image that installs and runs <c>moeplan proxy</c>: the SDK release moeplan is built and
/// tested with (10.0.401; Microsoft tags its SDK images with the SDK version), not the floating <c>10.0</c>.</param>
public sealed record BundleImages(string Vllm, string VllmAscend, string Sglang, string MoeplanProxy)
{
    public static BundleImages Default { get; } = new(
        "docker.io/vllm/vllm-openai:v0.27.1",
        "quay.io/ascend/vllm-ascend:v0.23.0",
        "docker.io/lmsysorg/sglang:v0.5.12",
        "mcr.microsoft.com/dotnet/sdk:10.0.401");

    /// <summary>The engine versions the images carry, for the bundle README.</summary>
    public string VllmVersion => Version(Vllm);

    public string VllmAscendVersion => Version(VllmAscend);

    public string SglangVersion => Version(Sglang);

    /// <summary>The moeplan tool package the <c>moeplan proxy</c> pods install: this build's own version (Directory.Build.props).</summary>
    public string MoeplanToolVersion => ThisBuildVersion;

    private static readonly string ThisBuildVersion = typeof(BundleImages).Assembly.GetName().Version!.ToString(3);

    private static string Version(string image) => image[(image.LastIndexOf(':') + 1)..];
}

/// <summary>The volume with the model checkpoint, mounted read-only at /models in every engine pod.</summary>
/// <param name="Kind">persistentVolumeClaim or hostPath.</param>
/// <param name="Source">The claim's name, or the host folder.</param>
public sealed record BundleModelVolume(string Kind, string Source)
{
    public const string Claim = "persistentVolumeClaim";

    public const string HostPath = "hostPath";

    public bool IsClaim => Kind == Claim;

    /// <summary>A claim named after the deployment (<c>&lt;name&gt;-model</c>), which the operator creates and fills.</summary>
    public static BundleModelVolume Default(string resourceName) => new(Claim, resourceName + "-model");

    /// <summary>Reads <c>pvc:NAME</c> or <c>hostpath:/DIR</c>; null with a reason when it is neither.</summary>
    public static BundleModelVolume? Parse(string text, out string error)
    {
        ArgumentNullException.ThrowIfNull(text);
        error = "";
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var (kind, source) = colon < 0 ? ("", text) : (text[..colon], text[(colon + 1)..]);
        if (kind == "pvc" && Binding.NameRules.DeploymentNameProblem(source) is null)
        {
            return new BundleModelVolume(Claim, source);
        }

        if (kind == "hostpath" && source.StartsWith('/') && source.Length <= 4096 && source.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '_' or '-'))
        {
            return new BundleModelVolume(HostPath, source);
        }

        error = "expected pvc:NAME (a DNS-1123 claim name) or hostpath:/DIR (an absolute path of letters, digits, '/', '.', '_' and '-')";
        return null;
    }
}

/// <summary>A Kubernetes node label.</summary>
public sealed record BundleLabel(string Key, string Value);

/// <summary>One piece of an expert map in a ConfigMap of its own; the pod concatenates the pieces of a file in order.</summary>
/// <param name="Role">The pool whose pods read it.</param>
/// <param name="File">The map's file name (e.g. decode.vllm-ascend-expert-map.json).</param>
/// <param name="ConfigMap">The ConfigMap's name.</param>
/// <param name="Key">The data key, which is also the file name in the pod: <c>&lt;File&gt;.part-NNN</c>.</param>
/// <param name="Text">The piece: whole lines.</param>
public sealed record BundleMapChunk(string Role, string File, string ConfigMap, string Key, string Text);

/// <summary>The one entry point of a bundle: it pairs a prefill and a decode instance per request (P/D), or sends each request
/// to one serve instance (aggregated).</summary>
/// <param name="Kind">sglang-router, moeplan-proxy or omni-proxy; nginx for an aggregated vLLM bundle.</param>
/// <param name="Launch">The bare-metal file that starts it (run on the proxy host).</param>
/// <param name="Port">Its port on the proxy host.</param>
/// <param name="Kubernetes">Its Deployment on Kubernetes, or null when the bundle has no Kubernetes objects for it.</param>
public sealed record BundleFrontDoor(string Kind, string Launch, int Port, string? Kubernetes);

/// <summary>One pool with its instances and the per-rank memory of <see cref="MemoryModel"/>.</summary>
/// <param name="MaxTokensPerDataParallelRank">Prefill: tokens one DP rank takes per step (engines' max batched tokens); serve: the
/// chunked-prefill budget per DP rank.</param>
/// <param name="MaxSequencesPerDataParallelRank">Decode: running sequences per DP rank (engines' max sequences); 0 for prefill.</param>
/// <param name="ExpertMapFiles">Expert-placement files of this pool by format (e.g. "sglang" -> "placement/decode.sglang-expert-location.json").</param>
/// <param name="OmniInfer">Where the Omni-Infer target puts this pool's model config and Omni Placement files.</param>
public sealed record BundlePool(
    string Role,
    int InstanceCount,
    int DataParallel,
    int TensorParallel,
    int ExpertParallel,
    int Ranks,
    int Devices,
    int NodesPerInstance,
    int? MaxBatchTokensPerDevice,
    int? MaxBatchPerDevice,
    int? ContextTokens,
    BundleMtp? Mtp,
    bool MicrobatchOverlap,
    int ExpertsPerRank,
    long MaxTokensPerDataParallelRank,
    long MaxSequencesPerDataParallelRank,
    long MaxBatchTokensPerInstance,
    long MaxSequencesPerInstance,
    BundleMemory Memory,
    ImmutableArray<BundleInstance> Instances,
    ImmutableSortedDictionary<string, string> ExpertMapFiles,
    BundleOmniInferFiles OmniInfer)
{
    /// <summary>The longest request (prompt + output) the engines accept, in both pools: the decode pool's context, which the
    /// verifier checks the workload against (prefill must take the same prompts).</summary>
    public int? MaxModelLength { get; init; }

    /// <summary>The verifier's memory budget as a fraction of a rank's HBM: usable / capacity (vLLM's
    /// <c>--gpu-memory-utilization</c>: weights, activations and KV cache together), two decimals, rounded down.</summary>
    public string MemoryBudgetFraction { get; init; } = "";

    /// <summary>The budget less the plan's activations and communication buffers, as a fraction of a rank's HBM: what weights
    /// and KV cache may take (SGLang's <c>--mem-fraction-static</c>), three decimals, rounded down.</summary>
    public string StaticMemoryFraction { get; init; } = "";

    public bool IsPrefill => Role == "prefill";

    public bool IsDecode => Role == "decode";

    /// <summary>The aggregated pool: prefills in chunks and decodes in the same instances.</summary>
    public bool IsServe => Role == "serve";

    /// <summary>Devices and ranks of one instance on one node (a Kubernetes pod).</summary>
    public int DevicesPerNode => Devices / NodesPerInstance;

    public int RanksPerNode => Ranks / NodesPerInstance;

    /// <summary>SGLang's <c>--init-expert-location</c> file of this pool, or null.</summary>
    public string? SglangExpertLocationFile => ExpertMapFiles.GetValueOrDefault(BundleEmitter.SglangFormat);

    /// <summary>vllm-ascend's <c>expert_map_path</c> file of this pool, or null.</summary>
    public string? VllmAscendExpertMapFile => ExpertMapFiles.GetValueOrDefault(BundleEmitter.VllmAscendFormat);

    /// <summary>Omni Placement's pattern (.npy) of this pool, or null when the bundle has none.</summary>
    public string? OmniPlacementPatternFile => ExpertMapFiles.GetValueOrDefault(BundleEmitter.OmniPlacementFormat);

    /// <summary>How the engine re-places this pool's experts while serving (the plan's <c>rebalance</c>), or null when it does not.</summary>
    public BundleRebalance? Rebalance { get; init; }

    /// <summary>Kubernetes node labels every node of this pool has in the inventory (empty without one).</summary>
    public ImmutableArray<BundleLabel> NodeSelector { get; init; } = [];

    /// <summary>The pod's CPU request: one core per rank, as each rank is a busy process of its own.</summary>
    public int CpuRequest => RanksPerNode;

    /// <summary>The pod's memory request in GiB: its ranks' weights (<see cref="Memory"/>), which pass through host memory
    /// while the checkpoint loads, rounded up.</summary>
    public long MemoryRequestGib => (long)Math.Ceiling(Memory.WeightBytes * RanksPerNode / (1024.0 * 1024 * 1024));
}

public sealed record BundleMtp(int DraftTokens, double Acceptance);

/// <summary>
/// The plan's <c>rebalance</c> in the engines' terms. Both engines count forward passes, not seconds: the interval is
/// converted at the cost model's step time of the pool (docs/bundles.md). SGLang: <c>--eplb-rebalance-num-iterations</c>,
/// and for a threshold <c>--eplb-min-rebalancing-utilization-threshold</c>, which compares the mean over layers of
/// mean/max GPU load (1 / imbalance) and skips the rebalance above it (sglang/srt/eplb/eplb_manager.py). vLLM:
/// <c>step_interval</c> and <c>window_size</c> of <c>--eplb-config</c>.
/// </summary>
/// <param name="Iterations">Forward passes between rebalances (periodic) or between checks (threshold).</param>
/// <param name="UtilizationThreshold">Threshold only: 1 / the plan's imbalance, three decimals; null for a periodic plan.</param>
/// <param name="SglangAlgorithm">SGLang's <c>--eplb-algorithm</c>: deepseek (eplb-global) or deepseek_hierarchical (the rest).</param>
public sealed record BundleRebalance(long Iterations, string? UtilizationThreshold, string SglangAlgorithm);

/// <summary>Bytes per rank by part (<see cref="MemoryFootprint"/>), rounded to whole bytes.</summary>
public sealed record BundleMemory(double WeightBytes, double KvCacheBytes, double ActivationBytes, double CommunicationBufferBytes, double TotalBytes, double UsableBytes, double CapacityBytes, bool Fits);

/// <summary>One engine instance: a DP/EP group of ranks on one or more nodes.</summary>
/// <param name="Index">Index in its pool.</param>
/// <param name="Ordinal">Index in the deployment (prefill instances first): offsets the instance's ports.</param>
public sealed record BundleInstance(
    string Role,
    int Index,
    int Ordinal,
    string Name,
    string LeaderHost,
    string LeaderAddress,
    int HttpPort,
    int RpcPort,
    int BootstrapPort,
    int KvEventsPort,
    ImmutableArray<BundleInstancePart> Parts)
{
    /// <summary>What other processes reach the leader by: its IP address with an inventory, else its host name.</summary>
    public string Endpoint { get; init; } = LeaderHost;

    public string Url => $"http://{Endpoint}:{HttpPort.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>The ranks of one instance on one node.</summary>
/// <param name="NodeRank">The node's rank inside the instance (0 = leader).</param>
/// <param name="FirstRank">The instance rank of this node's first rank.</param>
/// <param name="VisibleDevices">Node-local device ids (rank ids: each die of a multi-die package is one) as a list "0,1,2,3".</param>
/// <param name="DataParallelLocal">DP ranks on this node (ranks / TP).</param>
/// <param name="DataParallelStartRank">The DP rank of this node's first DP rank.</param>
public sealed record BundleInstancePart(
    string Role,
    int InstanceIndex,
    int Node,
    string Host,
    string Address,
    int NodeRank,
    int Ranks,
    int Devices,
    int FirstRank,
    string VisibleDevices,
    bool WholeNode,
    int DataParallelLocal,
    int DataParallelStartRank)
{
    public bool IsLeader => NodeRank == 0;

    /// <summary>What other processes reach this node by: its IP address with an inventory, else its host name.</summary>
    public string Endpoint { get; init; } = Host;
}

/// <summary>A node of the cluster and the instance parts it runs.</summary>
/// <param name="Name">Its launch script's name: the inventory's host, else <c>node-NN</c>.</param>
/// <param name="Host">Its host name: the inventory's, else <c>&lt;plan&gt;-node-NN</c>.</param>
/// <param name="Address">Its IP address (a placeholder while <see cref="BundleModel.PlaceholderAddresses"/>).</param>
public sealed record BundleNode(int Index, string Name, string Host, string Address, ImmutableArray<BundleInstancePart> Parts)
{
    /// <summary>Network interfaces for the collective libraries' socket traffic (inventory <c>nics</c>), comma-separated, or "".</summary>
    public string Nics { get; init; } = "";

    /// <summary>RDMA devices (inventory <c>ib_devices</c>), comma-separated, or "".</summary>
    public string IbDevices { get; init; } = "";

    /// <summary>The node's Kubernetes labels from the inventory.</summary>
    public ImmutableSortedDictionary<string, string> Labels { get; init; } = ImmutableSortedDictionary<string, string>.Empty;
}

/// <param name="Algorithm">The plan's placement algorithm.</param>
/// <param name="Eplb">DeepSeek EPLB policy name as SGLang spells it (deepseek, deepseek_hierarchical) when the algorithm is EPLB; else null.</param>
/// <param name="Loads">"synthetic seed N" or the load file as written in the plan.</param>
public sealed record BundlePlacement(string Algorithm, int RedundantExperts, string? Eplb, string Loads, bool Uneven, bool HasFiles);

/// <param name="RouterPolicy">The SGLang router policy nearest to the plan's policy.</param>
public sealed record BundleProxy(string Mode, string Policy, string RouterPolicy, bool Apc, bool TokenizerReuse);

/// <summary>Builds <see cref="BundleModel"/> from a verified plan.</summary>
public static class BundleModelBuilder
{
    /// <param name="inventory">Real hosts and addresses, node by node in the layout's order (checked by <see cref="InventoryVerifier"/>);
    /// null keeps synthetic names and placeholder addresses.</param>
    public static BundleModel Build(DeploymentPlan plan, IReadOnlyList<string> targets, IReadOnlyDictionary<PoolRole, ImmutableSortedDictionary<string, string>> expertMapFiles,
        ClusterInventory? inventory = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var hardware = plan.Hardware.Value;
        var dies = hardware.DiesPerPackage;
        var devicesPerNode = plan.Cluster.DevicesPerNode.Value;
        var ranksPerNode = devicesPerNode * dies;
        var resourceName = ResourceName(plan.Name.Value);
        var nodeDigits = Math.Max(2, plan.Cluster.Nodes.Value.ToString(CultureInfo.InvariantCulture).Length);
        InventoryNode? Real(int node) => inventory is not null && node < inventory.Nodes.Length ? inventory.Nodes[node] : null;
        string NodeName(int node) => Real(node)?.Host ?? "node-" + node.ToString(CultureInfo.InvariantCulture).PadLeft(nodeDigits, '0');
        string Host(int node) => Real(node)?.Host ?? $"{resourceName}-{NodeName(node)}";

        // Without an inventory, placeholders stand in for addresses, and processes reach each other by host name.
        string Address(int node) => Real(node)?.Address ?? BundleModel.PlaceholderAddress(node);
        string Endpoint(int node) => Real(node)?.Address ?? Host(node);

        var ports = BundlePorts.Default;
        var cursor = 0; // next free device of the cluster
        var ordinal = 0;
        var pools = new List<BundlePool>();
        var parts = new List<BundleInstancePart>();
        foreach (var pool in plan.Pools)
        {
            var role = pool.Name;
            var devices = pool.Parallel.Ranks / dies;
            var instances = ImmutableArray.CreateBuilder<BundleInstance>();
            for (var i = 0; i < pool.Instances.Value; i++)
            {
                // Whole-node instances start on a node boundary; smaller ones tile a node (the verifier ensures they divide it).
                var offset = cursor % devicesPerNode;
                if (offset != 0 && (devices >= devicesPerNode || offset + devices > devicesPerNode))
                {
                    cursor += devicesPerNode - offset;
                }

                var instanceParts = ImmutableArray.CreateBuilder<BundleInstancePart>();
                var placed = 0;
                while (placed < devices)
                {
                    var node = cursor / devicesPerNode;
                    var local = cursor % devicesPerNode;
                    var here = Math.Min(devices - placed, devicesPerNode - local);
                    var firstRank = placed * dies;
                    var rankCount = here * dies;
                    var visible = string.Join(",", Enumerable.Range(local * dies, rankCount).Select(r => r.ToString(CultureInfo.InvariantCulture)));
                    var part = new BundleInstancePart(
                        role, i, node, Host(node), Address(node), instanceParts.Count, rankCount, here, firstRank, visible, here == devicesPerNode,
                        Math.Max(1, rankCount / pool.Parallel.TensorParallel.Value), firstRank / pool.Parallel.TensorParallel.Value)
                    {
                        Endpoint = Endpoint(node),
                    };
                    instanceParts.Add(part);
                    parts.Add(part);
                    placed += here;
                    cursor += here;
                }

                instances.Add(new BundleInstance(
                    role, i, ordinal, $"{role}-{i.ToString(CultureInfo.InvariantCulture)}", instanceParts[0].Host, instanceParts[0].Address,
                    ports.InstanceHttpBase + ordinal, ports.InstanceRpcBase + ordinal, ports.BootstrapBase + ordinal, ports.KvEventsBase + ordinal,
                    instanceParts.ToImmutable())
                {
                    Endpoint = instanceParts[0].Endpoint,
                });
                ordinal++;
            }

            var poolNodes = instances.SelectMany(i => i.Parts).Select(p => Real(p.Node)).ToList();
            var selector = inventory is null || poolNodes.Any(n => n is null)
                ? []
                : poolNodes.Skip(1).Aggregate(poolNodes[0]!.Labels, (common, n) => common.Where(l => n!.Labels.TryGetValue(l.Key, out var v) && v == l.Value)
                    .ToImmutableSortedDictionary(StringComparer.Ordinal)).Select(l => new BundleLabel(l.Key, l.Value)).ToImmutableArray();
            pools.Add(Pool(plan, pool, role, devicesPerNode, instances.ToImmutable(),
                expertMapFiles.TryGetValue(pool.Role, out var files) ? files : ImmutableSortedDictionary<string, string>.Empty) with
            {
                NodeSelector = selector,
            });
        }

        var usedNodes = parts.Count == 0 ? 0 : parts.Max(p => p.Node) + 1;
        var nodes = Enumerable.Range(0, Math.Max(usedNodes, 1))
            .Select(n => new BundleNode(n, NodeName(n), Host(n), Address(n), parts.Where(p => p.Node == n).ToImmutableArray())
            {
                Nics = string.Join(",", Real(n)?.Nics ?? []),
                IbDevices = string.Join(",", Real(n)?.IbDevices ?? []),
                Labels = Real(n)?.Labels ?? ImmutableSortedDictionary<string, string>.Empty,
            })
            .Where(n => n.Parts.Length > 0)
            .ToImmutableArray();

        var entry = plan.Model.Entry;
        var a = entry.Architecture;
        var ascend = hardware.Vendor.Equals("Huawei", StringComparison.OrdinalIgnoreCase);
        var accelerator = new BundleAccelerator(
            hardware.Name, hardware.DisplayName, ascend ? "huawei" : "nvidia", ascend, dies,
            ascend ? "huawei.com/Ascend910" : "nvidia.com/gpu",
            ascend ? "ASCEND_RT_VISIBLE_DEVICES" : "CUDA_VISIBLE_DEVICES");

        var placement = plan.Placement;
        var eplb = placement.Algorithm.Value switch
        {
            "eplb-global" => "deepseek",
            "eplb-hierarchical" => "deepseek_hierarchical",
            _ => null,
        };
        var loads = placement.Loads switch
        {
            FileLoadSource file => file.Path,
            SyntheticLoadSource synthetic => $"synthetic seed {synthetic.Seed.ToString(CultureInfo.InvariantCulture)}",
            _ => "",
        };

        var proxy = plan.Proxy;
        return new BundleModel(
            plan.Name.Value,
            resourceName,
            PlanJsonWriter.Engine(plan.Engine.Value),
            targets.Order(StringComparer.Ordinal).ToImmutableArray(),
            new BundleModelInfo(entry.Name, entry.DisplayName, plan.Precision.Experts.Value.IsFourBit() && entry.NativeWeightPrecision != PlanJsonWriter.Format(plan.Precision.Experts.Value) ? null : entry.HuggingFaceId, a.Layers, a.MoeLayers, a.RoutedExperts, a.TopK, a.MtpLayers,
                a.Attention is Catalog.MlaAttention, PlanJsonWriter.Format(plan.Precision.Experts.Value), entry.NativeWeightPrecision,
                PlanJsonWriter.Format(plan.Precision.KvCache.Value)),
            accelerator,
            plan.Cluster.Nodes.Value,
            devicesPerNode,
            ranksPerNode,
            [.. pools],
            nodes,
            new BundlePlacement(placement.Algorithm.Value, placement.RedundantExperts.Value, eplb, loads, placement.Uneven.Value,
                expertMapFiles.Values.Any(f => f.Values.Any(p => p.StartsWith("placement/", StringComparison.Ordinal)))),
            new BundleProxy(
                proxy.Mode.Value == ProxyMode.Parallel ? "parallel" : "sequential",
                proxy.Policy.Value,
                RouterPolicy(proxy.Policy.Value, proxy.Apc.Value),
                proxy.Apc.Value,
                proxy.TokenizerReuse.Value),
            nodes.Length > 0 ? nodes[0].Host : Host(0),
            nodes.Length > 0 ? nodes[0].Address : Address(0),
            inventory is null,
            ports)
        {
            FrontDoor = FrontDoor(plan.Engine.Value, targets, ports, plan.IsAggregated),
        };
    }

    /// <summary>
    /// The one front door of a P/D bundle, by the plan's engine: SGLang's router; <c>moeplan proxy</c> for vLLM (vLLM has
    /// no router of its own that pairs prefill and decode); Omni Proxy for Omni-Infer on its nodes, and <c>moeplan proxy</c>
    /// for its pods on Kubernetes (they run vllm-ascend's <c>vllm serve</c>). Null when the bundle has no file to start it.
    /// </summary>
    /// <remarks>Aggregated (<paramref name="aggregated"/>), a request goes to one serve instance: SGLang's router without
    /// P/D; for vLLM stock nginx over the serve instances (nginx/nginx.conf), and on Kubernetes the serve pool's Service.</remarks>
    public static BundleFrontDoor? FrontDoor(EngineKind engine, IReadOnlyList<string> targets, BundlePorts ports, bool aggregated = false)
    {
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(ports);
        var kubernetes = targets.Contains(BundleTargets.Kubernetes);
        var proxy = targets.Contains(BundleTargets.MoeplanProxy);
        if (aggregated)
        {
            return engine switch
            {
                EngineKind.Sglang when targets.Contains(BundleTargets.Sglang) =>
                    new BundleFrontDoor("sglang-router", "sglang/router.sh", ports.Router, kubernetes ? "kubernetes/router-deployment.yaml" : null),
                EngineKind.Vllm when targets.Contains(BundleTargets.Nginx) =>
                    new BundleFrontDoor("nginx", "nginx/nginx.conf", ports.PrefillPool, kubernetes ? "kubernetes/serve-service.yaml" : null),
                _ => null,
            };
        }

        return engine switch
        {
            EngineKind.Sglang when targets.Contains(BundleTargets.Sglang) =>
                new BundleFrontDoor("sglang-router", "sglang/router.sh", ports.Router, kubernetes ? "kubernetes/router-deployment.yaml" : null),
            EngineKind.Vllm when proxy =>
                new BundleFrontDoor("moeplan-proxy", "moeplan-proxy/launch.sh", ports.MoeplanProxy, kubernetes ? "moeplan-proxy/deployment.yaml" : null),
            EngineKind.OmniInfer when targets.Contains(BundleTargets.Nginx) =>
                new BundleFrontDoor("omni-proxy", "nginx/omni-proxy.conf", ports.Proxy, kubernetes && proxy ? "moeplan-proxy/deployment.yaml" : null),
            _ => null,
        };
    }

    /// <summary>
    /// The SGLang router has random, round_robin, power_of_two and cache_aware. The plan's policies map to the nearest:
    /// round-robin and least-load as named (power of two choices picks the less loaded of two); cache-aware, and Omni's
    /// APC-aware policies when prefix-cache routing is on, to cache_aware; otherwise the load-based power_of_two.
    /// </summary>
    public static string RouterPolicy(string policy, bool apc) => RoutingPolicyCatalog.Find(policy)?.Kind switch
    {
        RoutingPolicyKind.RoundRobin => "round_robin",
        RoutingPolicyKind.LeastLoad => "power_of_two",
        RoutingPolicyKind.CacheAware => "cache_aware",
        _ => apc ? "cache_aware" : "power_of_two",
    };

    /// <summary>A DNS-1035 label: lower-case letters, digits and '-', starting with a letter, at most 40 characters (room for suffixes).</summary>
    public static string ResourceName(string name)
    {
        var text = new StringBuilder();
        foreach (var c in name.ToLowerInvariant())
        {
            text.Append(c is (>= 'a' and <= 'z') or (>= '0' and <= '9') ? c : '-');
        }

        var label = text.ToString().Trim('-');
        while (label.Contains("--", StringComparison.Ordinal))
        {
            label = label.Replace("--", "-", StringComparison.Ordinal);
        }

        if (label.Length == 0 || label[0] is < 'a' or > 'z')
        {
            label = "moe-" + label;
        }

        return label.Length > 40 ? label[..40].TrimEnd('-') : label;
    }

    private static BundlePool Pool(DeploymentPlan plan, PoolPlan pool, string role, int devicesPerNode, ImmutableArray<BundleInstance> instances,
        ImmutableSortedDictionary<string, string> expertMapFiles)
    {
        var hardware = plan.Hardware.Value;
        var devices = pool.Parallel.Ranks / hardware.DiesPerPackage;
        var memory = MemoryModel.Compute(plan, pool);
        var slots = plan.Model.Entry.Architecture.RoutedExperts + plan.Placement.RedundantExperts.Value;
        var tokensPerRank = pool.Role != PoolRole.Decode ? (long)Math.Floor(MemoryModel.TokensPerDataParallelRank(pool, hardware)) : 0;
        var sequencesPerRank = (long)Math.Floor(MemoryModel.SequencesPerDataParallelRank(pool, hardware));
        return new BundlePool(
            role,
            pool.Instances.Value,
            pool.Parallel.DataParallel.Value,
            pool.Parallel.TensorParallel.Value,
            pool.Parallel.ExpertParallel.Value,
            pool.Parallel.Ranks,
            devices,
            Math.Max(1, (devices + devicesPerNode - 1) / devicesPerNode),
            pool.MaxBatchTokensPerDevice?.Value,
            pool.MaxBatchPerDevice?.Value,
            pool.ContextTokens?.Value,
            pool.Mtp is { } mtp ? new BundleMtp(mtp.DraftTokens.Value, mtp.Acceptance.Value) : null,
            pool.MicrobatchOverlap.Value,
            slots / pool.Parallel.ExpertParallel.Value,
            tokensPerRank,
            sequencesPerRank,
            (long)(pool.MaxBatchTokensPerDevice?.Value ?? 0) * devices,
            (long)(pool.MaxBatchPerDevice?.Value ?? 0) * devices,
            new BundleMemory(
                Math.Round(memory.WeightBytes), Math.Round(memory.KvCacheBytes), Math.Round(memory.ActivationBytes),
                Math.Round(memory.CommunicationBufferBytes), Math.Round(memory.TotalBytes), Math.Round(memory.UsableBytes),
                Math.Round(memory.CapacityBytes), memory.Fits),
            instances,
            expertMapFiles,
            OmniInferLayout.For(role))
        {
            MaxModelLength = plan.Decode.ContextTokens?.Value,
            MemoryBudgetFraction = FractionDown(memory.UsableBytes / memory.CapacityBytes, 2),
            StaticMemoryFraction = FractionDown((memory.UsableBytes - memory.ActivationBytes - memory.CommunicationBufferBytes) / memory.CapacityBytes, 3),
        };
    }

    /// <summary>A fraction rounded down to <paramref name="decimals"/> places (never more than the budget), invariant culture.
    /// The tiny allowance keeps 0.9 from becoming 0.89 through binary rounding.</summary>
    private static string FractionDown(double fraction, int decimals)
    {
        var scale = Math.Pow(10, decimals);
        var down = Math.Floor((fraction * scale) + 1e-9) / scale;
        return down.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }
}

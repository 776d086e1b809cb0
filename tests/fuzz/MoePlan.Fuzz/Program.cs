using System.Text;
using MoePlan.Core.Catalog;
using MoePlan.Core.Compilation;
using MoePlan.Core.Formatting;
using MoePlan.Core.Placement;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Emit;
using MoePlan.Core.Text;
using MoePlan.Core.Workloads;
using MoePlan.Emulation.Emulator;
using MoePlan.Emulation.Kernels;
using MoePlan.Core.Plan;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;
using MoePlan.Serving.Workloads;
using SharpFuzz;

// Coverage-guided fuzz targets for AFL++ (tests/fuzz/run.sh instruments MoePlan.Core.dll with sharpfuzz).
// Any exception that escapes a target is a crash: Core reports bad input as diagnostics, never by throwing.
var target = args.Length > 0 ? args[0] : "";
Action<string> run = target switch
{
    "plan" => text =>
    {
        // Tokenizer, parser, binder, verifier, placement, cost model; then the formatter.
        PlanCompiler.CompileText("fuzz.moe", text, EmptyResolver.Instance);
        PlanFormatter.Format(text, "fuzz.moe");
    },
    "loads" => text =>
    {
        // Read, then (when it read) place on a small shape and write placement.json: extreme numbers that pass the
        // reader must still come out as valid JSON (a non-finite figure would throw in the writer).
        var read = ExpertLoadReader.Read(text, "fuzz.json");
        if (read.Loads is { } loads && loads.ExpertCount <= 64 && loads.LayerCount <= 8)
        {
            var devices = loads.ExpertCount % 2 == 0 ? 2 : 1;
            var (problem, _) = PlacementProblem.Create(loads, new PlacementShape(loads.ExpertCount, devices, devices));
            if (problem is not null && PlacementAlgorithms.Place(PlacementAlgorithms.DefaultName, problem).Placement is { } placement)
            {
                ExpertMapFormats.PlacementJson(placement, PlacementMetrics.Compute(loads, placement));
            }
        }
    },
    "kernels" => text =>
    {
        // Kernel sizes at the edges: three whole numbers (heads, KV length, batch), anything else ignored. A shape is
        // refused or, when tiny, run; never an overflow or an out-of-range index.
        var numbers = text.Split((char[])[' ', ',', '\n'], StringSplitOptions.RemoveEmptyEntries)
            .Select(w => int.TryParse(w, out var n) ? n : 0).Concat([1, 1, 1]).Take(3).ToArray();
        var shape = new AmlaShape(numbers[0], numbers[1], numbers[2], Seed: 1);
        if (shape.TooLarge() is null && shape.InputElements <= 1 << 14)
        {
            AmlaKernel.Compare(shape, DeviceSpec.Ascend910Die);
        }
    },
    "config" => text => HuggingFaceConfigReader.Read(text, "fuzz.config.json", null),
    "mooncake" => text => Drain(MooncakeTraceReader.Read(new StringReader(text), "fuzz.jsonl", new List<Diagnostic>())),
    "azure" => text => Drain(AzureTraceReader.Read(new StringReader(text), "fuzz.csv", new List<Diagnostic>())),
    "simulate" => Simulate,
    "escaping" => Escaping,
    _ => throw new ArgumentException("usage: MoePlan.Fuzz plan|loads|config|mooncake|azure|kernels|simulate|escaping"),
};

Fuzzer.OutOfProcess.Run(stream =>
{
    using var reader = new StreamReader(stream, Encoding.UTF8);
    run(reader.ReadToEnd());
});

// A Mooncake trace through the serving simulation, first with Omni's weighted queues, then first come first served,
// sequential and parallel: every request that arrives ends completed or rejected. The seeds put every request at one
// timestamp, the case that was quadratic; afl-fuzz's timeout (run.sh -t) turns a slow input into a hang.
static void Simulate(string text)
{
    var requests = MooncakeTraceReader.Read(new StringReader(text), "fuzz.jsonl", new List<Diagnostic>()).Take(2_000).ToList();
    foreach (var (policy, mode) in new[] { ("omni", ProxyMode.Sequential), ("round-robin", ProxyMode.Parallel) })
    {
        // Two small instances a side, caps low enough that requests queue at the proxy and at the instances.
        var config = new ServingConfig(2, 8_192, 64, 2, 8, 8 * 40_000, 1, 1e-3, 4, mode, true, true, 1e-3, null, null);
        var result = new ServingSimulation(config, new LinearStepTimes(), RoutingPolicies.Create(policy)).Run(requests);
        if (result.CompletedCount + result.RejectedCount != requests.Count)
        {
            throw new InvalidOperationException($"{policy}: {requests.Count} arrived, {result.CompletedCount} completed, {result.RejectedCount} rejected");
        }
    }
}

// A free string (any text, line separators of every kind) through each output format's escaping rule and back through
// that format's real parser: YAML (a comment line then a value) must give one key holding exactly the string, JSON the
// string itself, nginx either the same plain token or a refusal. As a deployment name the string is refused at binding
// unless it is a DNS-1123 label, so no name reaches a template unescaped.
static void Escaping(string payload)
{
    var yaml = new YamlDotNet.RepresentationModel.YamlStream();
    yaml.Load(new StringReader($"# {OutputEscaping.Line(payload)}\nk: {OutputEscaping.Yaml(payload)}\n"));
    if (yaml.Documents.Count != 1
        || yaml.Documents[0].RootNode is not YamlDotNet.RepresentationModel.YamlMappingNode map
        || map.Children.Count != 1
        || map.Children[0].Value is not YamlDotNet.RepresentationModel.YamlScalarNode { Value: var value }
        || value != payload)
    {
        throw new InvalidOperationException("YAML escaping did not round-trip");
    }

    if (System.Text.Json.JsonDocument.Parse(OutputEscaping.Json(payload)).RootElement.GetString() != payload)
    {
        throw new InvalidOperationException("JSON escaping did not round-trip");
    }

    try
    {
        if (OutputEscaping.Nginx(payload) != payload)
        {
            throw new InvalidOperationException("nginx escaping changed a plain token");
        }
    }
    catch (ArgumentException)
    {
        // Refused: the render stops with MP5203.
    }

    // The DSL string as the deployment's name: a quote or backslash ends or escapes it, which is a syntax diagnostic.
    var plan = $$"""
        deployment "{{payload}}" {
          engine vllm
          model qwen1.5-moe-a2.7b
          hardware ascend-910c
          cluster { nodes 1  devices_per_node 4 }
          prefill { instances 1  parallel { dp 4  ep 4 }  max_batch_tokens 4096 per device }
          decode { instances 1  parallel { dp 4  ep 4 }  max_batch 16 per device  context 2048 }
          placement { algorithm moeplan  redundant_experts 4  loads synthetic seed 15 }
          workload { arrivals constant 4/s  input fixed 256  output fixed 32  requests 200  seed 4 }
        }

        """;
    var compiled = PlanCompiler.CompileText("fuzz.moe", plan, EmptyResolver.Instance, throughVerification: true);
    // \z, not $: .NET's $ also matches before a final newline (the fuzzer's "ime\n" passed it).
    var dns1123 = System.Text.RegularExpressions.Regex.IsMatch(payload, "^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?\\z");
    if (compiled.Plan is { } bound && (!dns1123 || bound.Name.Value != payload))
    {
        throw new InvalidOperationException($"the deployment name \"{OutputEscaping.Line(bound.Name.Value)}\" was bound although it is not a DNS-1123 name");
    }

    if (compiled.Plan is null && dns1123 && !payload.Contains("..", StringComparison.Ordinal))
    {
        // The plan is otherwise valid: a good name must compile (else this target would check nothing).
        throw new InvalidOperationException($"a valid name was refused: {string.Join("; ", compiled.Diagnostics)}");
    }
}

static void Drain<T>(IEnumerable<T> items)
{
    foreach (var _ in items)
    {
    }
}

/// <summary>Step times linear in the work: a prefill step 1 ms + 1 us a token, a decode step 5 ms + 10 us a sequence.</summary>
internal sealed class LinearStepTimes : IStepTimes
{
    public double PrefillMilliseconds(int tokens, int sequences, double context) => 1 + (tokens * 1e-3);

    public double DecodeMilliseconds(int sequences, double meanKv) => 5 + (sequences * 1e-2);
}

/// <summary>Imports and load files do not exist in the fuzzed world: every read is a "no such file" diagnostic.</summary>
internal sealed class EmptyResolver : ISourceResolver
{
    public static readonly EmptyResolver Instance = new();

    public string Resolve(string fromFile, string path) => path;

    public bool TryRead(string resolvedPath, out string text, out string error)
    {
        text = "";
        error = "no such file";
        return false;
    }
}

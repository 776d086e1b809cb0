using System.Text;
using MoePlan.Core.Catalog;
using MoePlan.Core.Compilation;
using MoePlan.Core.Formatting;
using MoePlan.Core.Placement;
using MoePlan.Core.Diagnostics;
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
    _ => throw new ArgumentException("usage: MoePlan.Fuzz plan|loads|config|mooncake|azure|kernels|simulate"),
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

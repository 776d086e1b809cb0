using System.Text;
using MoePlan.Core.Catalog;
using MoePlan.Core.Compilation;
using MoePlan.Core.Formatting;
using MoePlan.Core.Placement;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Text;
using MoePlan.Core.Workloads;
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
    "loads" => text => ExpertLoadReader.Read(text, "fuzz.json"),
    "config" => text => HuggingFaceConfigReader.Read(text, "fuzz.config.json", null),
    "mooncake" => text => Drain(MooncakeTraceReader.Read(new StringReader(text), "fuzz.jsonl", new List<Diagnostic>())),
    "azure" => text => Drain(AzureTraceReader.Read(new StringReader(text), "fuzz.csv", new List<Diagnostic>())),
    _ => throw new ArgumentException("usage: MoePlan.Fuzz plan|loads|config|mooncake|azure"),
};

Fuzzer.OutOfProcess.Run(stream =>
{
    using var reader = new StreamReader(stream, Encoding.UTF8);
    run(reader.ReadToEnd());
});

static void Drain<T>(IEnumerable<T> items)
{
    foreach (var _ in items)
    {
    }
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
